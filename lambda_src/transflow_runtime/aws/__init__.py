"""A small AWS client for the read path of the status and authorizer functions (stdlib only).

boto3 spends most of a cold start loading botocore and its service models; the status function
needs four calls (GetItem, BatchGetItem, Query, SQS SendMessage) and the authorizer one
(Secrets Manager GetSecretValue). ``client(service)`` returns, for those three services, this
package's client when it can do everything boto3 would in this environment, else boto3's:

* ``TRANSFLOW_AWS_CLIENT=boto3``: always boto3 (the escape hatch);
* ``TRANSFLOW_AWS_CLIENT=light``: always the light client (credentials from the environment, or
  botocore's credential chain when the environment has none);
* unset (the default): the light client on Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set, which local
  mode sets too) with credentials in the environment, unless a setting only botocore reads is
  present (a profile, a config file with content, a proxy, a retry mode other than standard, a
  defaults mode); boto3 elsewhere, so tests and tools keep boto3's full configuration chain.

The light client answers like boto3's low-level client (same parameters, same response dicts,
botocore-named exceptions with botocore's messages; see ``errors``), signs with Signature
Version 4 (``sigv4``), resolves endpoints as the SDKs do (``endpoints``), retries in standard
mode (``retry``) and keeps its TLS connections alive between invocations (``transport``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..schema import AWS_CLIENT_BOTO3, AWS_CLIENT_ENV, AWS_CLIENT_LIGHT

LIGHT_SERVICES = ("dynamodb", "sqs", "secretsmanager")
#: Settings the light client does not read: with any of them set, the automatic choice is boto3.
BOTO3_ONLY_SETTINGS = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_DEFAULTS_MODE",
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
)
#: Files botocore reads settings from; one that is missing or empty (``/dev/null``) holds none.
CONFIG_FILE_SETTINGS = ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def _holds_settings(path: str) -> bool:
    try:
        return os.stat(path).st_size > 0
    except OSError:
        return False


class ClientSettingError(ValueError):
    """``TRANSFLOW_AWS_CLIENT`` holds something else than ``light`` or ``boto3`` (a deployment error)."""


class Choice(NamedTuple):
    kind: str  #: ``light`` or ``boto3``
    reason: str


def choose(service: str, environ: Mapping[str, str] | None = None) -> Choice:
    """Which client ``client(service)`` builds in ``environ`` (default: this process's), and why."""
    env = os.environ if environ is None else environ
    setting = env.get(AWS_CLIENT_ENV, "").strip().lower()
    if setting not in ("", AWS_CLIENT_LIGHT, AWS_CLIENT_BOTO3):
        raise ClientSettingError(
            f"{AWS_CLIENT_ENV} must be {AWS_CLIENT_LIGHT!r} or {AWS_CLIENT_BOTO3!r}, got {setting!r}"
        )
    if service not in LIGHT_SERVICES:
        return Choice(AWS_CLIENT_BOTO3, f"the light client does not serve {service}")
    if setting == AWS_CLIENT_BOTO3:
        return Choice(AWS_CLIENT_BOTO3, f"{AWS_CLIENT_ENV}=boto3")
    if setting == AWS_CLIENT_LIGHT:
        return Choice(AWS_CLIENT_LIGHT, f"{AWS_CLIENT_ENV}=light")
    if not env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return Choice(AWS_CLIENT_BOTO3, "not on Lambda (AWS_LAMBDA_FUNCTION_NAME is not set)")
    if not (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")):
        return Choice(AWS_CLIENT_BOTO3, "no credentials in the environment (SnapStart or a container endpoint)")
    present = [name for name in BOTO3_ONLY_SETTINGS if env.get(name)]
    present += [name for name in CONFIG_FILE_SETTINGS if env.get(name) and _holds_settings(env[name])]
    if present:
        return Choice(AWS_CLIENT_BOTO3, f"{present[0]} is set, which only botocore reads")
    retry_mode = env.get("AWS_RETRY_MODE", "").strip().lower()
    if retry_mode not in ("", "standard"):
        return Choice(AWS_CLIENT_BOTO3, f"AWS_RETRY_MODE={retry_mode}")
    return Choice(AWS_CLIENT_LIGHT, "on Lambda with credentials in the environment")


def client(service: str, environ: Mapping[str, str] | None = None) -> Any:
    """A client for ``service`` (``dynamodb``, ``sqs``, ``secretsmanager``), light or boto3's.

    Raises what ``boto3.client`` raises when it cannot build one (no region, a bad endpoint), as
    the same botocore-named exception from the light client.
    """
    if choose(service, environ).kind == AWS_CLIENT_BOTO3:
        import boto3

        return boto3.client(service)
    if service == "dynamodb":
        from .dynamodb import DynamoDBClient

        return DynamoDBClient(environ)
    if service == "sqs":
        from .sqs import SQSClient

        return SQSClient(environ)
    from .secretsmanager import SecretsManagerClient

    return SecretsManagerClient(environ)
