"""Endpoint resolution against botocore's, which evaluates each service's published rule set.

Every region botocore knows plus a synthetic one per partition regex, with and without FIPS and
dual-stack, DynamoDB's account-based endpoints in each mode, and configured endpoint URLs: the
light client must pick the URL botocore sends the request to, or fail where botocore fails, with
the same message (AWS SDKs and Tools Reference Guide, "Dual-stack and FIPS endpoints" and
"Service-specific endpoints").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError
from transflow_runtime.aws import endpoints
from transflow_runtime.aws.errors import BotoCoreError as LightBotoCoreError
from transflow_runtime.aws.errors import InvalidRegionError, NoRegionError

PARTITIONS_JSON = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
KNOWN_REGIONS = sorted(r for p in PARTITIONS_JSON["partitions"] for r in p["regions"])
SYNTHETIC = ["us-west-9", "eu-south-7", "cn-south-3", "us-gov-central-4", "us-iso-north-2", "us-isob-south-3",
             "eu-isoe-north-5", "us-isof-west-8", "eusc-de-west-2", "xx-foo-1", "mars-1", "local"]
OPERATION = {"dynamodb": ("get_item", {"TableName": "t", "Key": {"k": {"S": "v"}}}),
             "sqs": ("send_message", {"QueueUrl": "https://sqs.example/1/q", "MessageBody": "m"}),
             "secretsmanager": ("get_secret_value", {"SecretId": "s"})}


class _Sent(Exception):
    pass


def botocore_url(service: str, region: str, *, fips: bool = False, dualstack: bool = False,
                 endpoint_url: str | None = None, account_id: str | None = None,
                 mode: str = "preferred") -> str:
    """Where botocore sends the request ("ERROR: <message>" when it refuses to)."""
    try:
        client = boto3.client(
            service, region_name=region, endpoint_url=endpoint_url, aws_access_key_id="AKID",
            aws_secret_access_key="secret", aws_account_id=account_id,
            config=Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack,
                          account_id_endpoint_mode=mode, retries={"total_max_attempts": 1}),
        )
    except (BotoCoreError, ValueError) as exc:
        return f"ERROR: {exc}"
    seen: list[str] = []

    def capture(request: object, **_kwargs: object) -> None:
        seen.append(request.url)  # type: ignore[attr-defined]
        raise _Sent

    client.meta.events.register("before-send", capture)
    operation, params = OPERATION[service]
    try:
        getattr(client, operation)(**params)
    except _Sent:
        return seen[0].rstrip("/")
    except BotoCoreError as exc:
        return f"ERROR: {exc}"
    raise AssertionError("the request was neither sent nor refused")


def ours(service: str, region: str, *, fips: bool = False, dualstack: bool = False,
         endpoint_url: str | None = None, account_id: str | None = None, mode: str = "preferred") -> str:
    settings = endpoints.Settings(region, fips, dualstack, endpoint_url, account_id, mode)
    try:
        return endpoints.endpoint_url(endpoints.SERVICES[service], settings).rstrip("/")
    except (LightBotoCoreError, ValueError) as exc:
        return f"ERROR: {exc}"


@pytest.fixture(autouse=True)
def _no_endpoint_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key in ("AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
                                                         "AWS_ACCOUNT_ID_ENDPOINT_MODE", "AWS_ACCOUNT_ID"):
            monkeypatch.delenv(key)


@pytest.mark.parametrize("service", sorted(OPERATION))
@pytest.mark.parametrize("variant", ["plain", "fips", "dualstack", "fips+dualstack"])
def test_every_region_resolves_as_botocore_resolves_it(service: str, variant: str) -> None:
    fips, dualstack = "fips" in variant, "dualstack" in variant
    mismatches = {}
    for region in KNOWN_REGIONS + SYNTHETIC:
        expected = botocore_url(service, region, fips=fips, dualstack=dualstack)
        got = ours(service, region, fips=fips, dualstack=dualstack)
        if got != expected:
            mismatches[region] = (got, expected)
    assert not mismatches


ACCOUNT_REGIONS = ["us-east-1", "eu-west-1", "us-gov-west-1", "us-gov-central-4", "cn-north-1", "cn-south-3",
                   "us-iso-east-1", "eusc-de-east-1", "local"]


@pytest.mark.parametrize("mode", endpoints.ACCOUNT_ID_ENDPOINT_MODES)
@pytest.mark.parametrize("account_id", [None, "123456789012", "not a label!"])
def test_dynamodb_account_endpoints_resolve_as_botocore_resolves_them(mode: str, account_id: str | None) -> None:
    mismatches = {}
    for region in ACCOUNT_REGIONS:
        for fips, dualstack in ((False, False), (True, False), (False, True), (True, True)):
            kwargs = {"fips": fips, "dualstack": dualstack, "account_id": account_id, "mode": mode}
            expected, got = botocore_url("dynamodb", region, **kwargs), ours("dynamodb", region, **kwargs)
            if got != expected:
                mismatches[(region, fips, dualstack)] = (got, expected)
    assert not mismatches


def _botocore_url_from_environment(service: str, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as patch:
        for key, value in environ.items():
            patch.setenv(key, value)
        return botocore_url(service, environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                            fips=environ.get("AWS_USE_FIPS_ENDPOINT") == "true",
                            dualstack=environ.get("AWS_USE_DUALSTACK_ENDPOINT") == "true")


def _ours_from_environment(service: str, environ: dict[str, str]) -> str:
    try:
        settings = endpoints.settings_from(endpoints.SERVICES[service], {"AWS_DEFAULT_REGION": "us-east-1", **environ})
        return endpoints.endpoint_url(endpoints.SERVICES[service], settings).rstrip("/")
    except (LightBotoCoreError, ValueError) as exc:
        return f"ERROR: {exc}"


@pytest.mark.parametrize("service", sorted(OPERATION))
@pytest.mark.parametrize("url", ["http://127.0.0.1:4566", "https://vpce-1.dynamodb.us-east-1.vpce.amazonaws.com",
                                 "http://localhost:8000/prefix", "https://dynamodb.us-east-1.api.aws",
                                 "https://sqs.us-east-1.api.aws", "localhost:4566", "http://[::1]:4566"])
@pytest.mark.parametrize("variant", ["plain", "fips", "dualstack"])
def test_configured_endpoints_resolve_as_botocore_resolves_them(
    service: str, url: str, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_ENDPOINT_URL as Lambda or local mode sets it; FIPS/dual-stack flags do not apply to it."""
    environ = {"AWS_ENDPOINT_URL": url}
    if variant != "plain":
        environ["AWS_USE_FIPS_ENDPOINT" if variant == "fips" else "AWS_USE_DUALSTACK_ENDPOINT"] = "true"
    assert _ours_from_environment(service, environ) == _botocore_url_from_environment(service, environ, monkeypatch)


def test_the_partition_table_is_botocores() -> None:
    """A new partition or region in botocore's partitions.json must be added to ``PARTITIONS``."""
    theirs = {p["id"]: (p["regionRegex"], p["outputs"]["dnsSuffix"], p["outputs"]["dualStackDnsSuffix"],
                        frozenset(p["regions"]), p["outputs"]["supportsFIPS"], p["outputs"]["supportsDualStack"])
              for p in PARTITIONS_JSON["partitions"]}
    mine = {p.name: (p.region_regex, p.dns_suffix, p.dual_stack_dns_suffix, p.regions, True, True)
            for p in endpoints.PARTITIONS}
    assert mine == theirs


def _environment(**values: str) -> dict[str, str]:
    return {"AWS_DEFAULT_REGION": "eu-west-1", **values}


def test_service_specific_endpoint_wins_over_the_global_one() -> None:
    """SDK reference guide, "Service-specific endpoints": AWS_ENDPOINT_URL_<SERVICE> first."""
    env = _environment(AWS_ENDPOINT_URL="http://global:1", AWS_ENDPOINT_URL_DYNAMODB="http://ddb:2",
                       AWS_ENDPOINT_URL_SECRETS_MANAGER="http://sm:3")
    assert endpoints.settings_from(endpoints.DYNAMODB, env).endpoint_url == "http://ddb:2"
    assert endpoints.settings_from(endpoints.SECRETS_MANAGER, env).endpoint_url == "http://sm:3"
    assert endpoints.settings_from(endpoints.SQS, env).endpoint_url == "http://global:1"


def test_configured_endpoints_can_be_ignored() -> None:
    env = _environment(AWS_ENDPOINT_URL="http://global:1", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="TRUE")
    assert endpoints.settings_from(endpoints.SQS, env).endpoint_url is None


def test_fips_and_dualstack_are_read_from_the_environment_as_botocore_reads_them(monkeypatch) -> None:
    for fips, dualstack in (("true", "false"), ("True", "1"), ("yes", "TRUE")):
        env = _environment(AWS_USE_FIPS_ENDPOINT=fips, AWS_USE_DUALSTACK_ENDPOINT=dualstack)
        settings = endpoints.settings_from(endpoints.SQS, env)
        monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", fips)
        monkeypatch.setenv("AWS_USE_DUALSTACK_ENDPOINT", dualstack)
        client = boto3.client("sqs", region_name="eu-west-1")
        assert (settings.use_fips, settings.use_dualstack) == (bool(client.meta.config.use_fips_endpoint),
                                                                 bool(client.meta.config.use_dualstack_endpoint))


def test_region_comes_from_the_environment() -> None:
    assert endpoints.region_from({"AWS_DEFAULT_REGION": "eu-west-1", "AWS_REGION": "us-east-1"}) == "eu-west-1"
    assert endpoints.region_from({"AWS_REGION": "us-east-1"}) == "us-east-1"
    with pytest.raises(NoRegionError, match=r"You must specify a region\."):
        endpoints.region_from({})
    with pytest.raises(InvalidRegionError, match="doesn't match a supported format"):
        endpoints.region_from({"AWS_DEFAULT_REGION": "us-east-1/../x"})
