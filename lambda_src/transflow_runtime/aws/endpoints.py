"""Endpoint URLs for DynamoDB, SQS and Secrets Manager, resolved as the AWS SDKs resolve them.

Configured endpoints first (AWS SDKs and Tools Reference Guide, "Service-specific endpoints"):
``AWS_ENDPOINT_URL_<SERVICE>`` (``DYNAMODB``, ``SQS``, ``SECRETS_MANAGER``), then
``AWS_ENDPOINT_URL``, both ignored when ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is true. Otherwise
the service's endpoint rule set, restated here for these three services: the region's partition
(``aws``, ``aws-cn``, ``aws-us-gov``, the ISO partitions, ``aws-eusc``) gives the DNS suffix,
``AWS_USE_FIPS_ENDPOINT`` and ``AWS_USE_DUALSTACK_ENDPOINT`` pick the variant, and DynamoDB's
account-based endpoints apply when ``AWS_ACCOUNT_ID`` is known (``AWS_ACCOUNT_ID_ENDPOINT_MODE``).
Errors carry the rule set's own messages. A test resolves every combination with botocore too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

from .errors import (
    EndpointResolutionError,
    EndpointVariantError,
    InvalidConfigError,
    InvalidRegionError,
    NoRegionError,
)


class Partition(NamedTuple):
    name: str
    region_regex: str
    dns_suffix: str
    dual_stack_dns_suffix: str
    regions: frozenset[str]


#: botocore's ``data/partitions.json`` (every partition supports FIPS and dual-stack); a test
#: compares this table with the installed botocore's.
PARTITIONS = (
    Partition("aws", r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$", "amazonaws.com", "api.aws", frozenset({
        "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
        "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
        "ap-southeast-6", "ap-southeast-7", "aws-global", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2",
        "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1",
        "me-central-1", "me-south-1", "me-west-1", "mx-central-1", "sa-east-1", "sa-west-1", "us-east-1",
        "us-east-2", "us-west-1", "us-west-2"})),
    Partition("aws-cn", r"^cn\-\w+\-\d+$", "amazonaws.com.cn", "api.amazonwebservices.com.cn",
              frozenset({"aws-cn-global", "cn-north-1", "cn-northwest-1"})),
    Partition("aws-eusc", r"^eusc\-(de)\-\w+\-\d+$", "amazonaws.eu", "api.amazonwebservices.eu",
              frozenset({"eusc-de-east-1"})),
    Partition("aws-iso", r"^us\-iso\-\w+\-\d+$", "c2s.ic.gov", "api.aws.ic.gov",
              frozenset({"aws-iso-global", "us-iso-east-1", "us-iso-west-1"})),
    Partition("aws-iso-b", r"^us\-isob\-\w+\-\d+$", "sc2s.sgov.gov", "api.aws.scloud",
              frozenset({"aws-iso-b-global", "us-isob-east-1", "us-isob-west-1"})),
    Partition("aws-iso-e", r"^eu\-isoe\-\w+\-\d+$", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk",
              frozenset({"aws-iso-e-global", "eu-isoe-west-1"})),
    Partition("aws-iso-f", r"^us\-isof\-\w+\-\d+$", "csp.hci.ic.gov", "api.aws.hci.ic.gov",
              frozenset({"aws-iso-f-global", "us-isof-east-1", "us-isof-south-1"})),
    Partition("aws-us-gov", r"^us\-gov\-\w+\-\d+$", "amazonaws.com", "api.aws",
              frozenset({"aws-us-gov-global", "us-gov-east-1", "us-gov-west-1"})),
)
_REGION_RE = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{,63}(?<!-)$")
_HOST_LABEL_RE = re.compile(r"^(?!-)[a-zA-Z\d-]{1,63}(?<!-)$")
#: Partitions botocore's endpoints.json gives no dual-stack variant: botocore refuses the client
#: (except for the partition's pseudo-region ``<partition>-global``).
_NO_DUALSTACK_VARIANT = frozenset({"aws-iso-e", "aws-iso-f"})
#: Regions outside the ``aws`` partition where DynamoDB serves account-based endpoints.
_DDB_ACCOUNT_REGIONS = frozenset({"us-gov-east-1", "us-gov-west-1", "cn-north-1", "cn-northwest-1"})
ACCOUNT_ID_ENDPOINT_MODES = ("preferred", "disabled", "required")

_DDB_FIPS_ACCOUNT = ("Invalid Configuration: AccountIdEndpointMode is required and FIPS is enabled, but FIPS "
                     "account endpoints are not supported")
_DDB_ACCOUNT_REGION = ("Invalid Configuration: AccountIdEndpointMode is required but account endpoints are not "
                       "supported in this region")
_DDB_NO_ACCOUNT = "AccountIdEndpointMode is required but no AccountID was provided or able to be loaded"
_DDB_BAD_ACCOUNT = "Credentials-sourced account ID parameter is invalid"
_DDB_DS_OVERRIDE = ("Endpoint override is not supported for dual-stack endpoints. Please enable dual-stack "
                    "functionality by enabling the configuration. For more details, see: "
                    "https://docs.aws.amazon.com/sdkref/latest/guide/feature-endpoints.html")


class Service(NamedTuple):
    name: str  #: endpoint prefix and signing name
    env_name: str  #: the ``AWS_ENDPOINT_URL_<env_name>`` suffix (the service id, upper case, ``_``)


DYNAMODB = Service("dynamodb", "DYNAMODB")
SQS = Service("sqs", "SQS")
SECRETS_MANAGER = Service("secretsmanager", "SECRETS_MANAGER")
SERVICES = {s.name: s for s in (DYNAMODB, SQS, SECRETS_MANAGER)}


class Settings(NamedTuple):
    region: str
    use_fips: bool = False
    use_dualstack: bool = False
    endpoint_url: str | None = None
    account_id: str | None = None
    account_id_endpoint_mode: str = "preferred"


def _true(value: str | None) -> bool:
    return value is not None and value.lower() == "true"  # botocore's ensure_boolean


def partition(region: str) -> Partition:
    """The partition of ``region``: an explicit region list first, then the regexes, else ``aws``."""
    for candidate in PARTITIONS:
        if region in candidate.regions:
            return candidate
    for candidate in PARTITIONS:
        if re.match(candidate.region_regex, region):
            return candidate
    return PARTITIONS[0]


def region_from(environ: Mapping[str, str]) -> str:
    """``AWS_DEFAULT_REGION`` (botocore's variable), else ``AWS_REGION``; validated like botocore."""
    region = environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION")
    if not region:
        raise NoRegionError()
    if not _REGION_RE.match(region):
        raise InvalidRegionError(region_name=region)
    return region


def settings_from(service: Service, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    endpoint = None
    if not _true(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
        endpoint = env.get(f"AWS_ENDPOINT_URL_{service.env_name}") or env.get("AWS_ENDPOINT_URL") or None
    mode = (env.get("AWS_ACCOUNT_ID_ENDPOINT_MODE") or "preferred").lower()
    if mode not in ACCOUNT_ID_ENDPOINT_MODES:
        raise InvalidConfigError(error_msg=f"The configured value '{mode}' for 'account_id_endpoint_mode' is "
                                           f"invalid. Valid values are: {ACCOUNT_ID_ENDPOINT_MODES}.")
    return Settings(
        region=region_from(env),
        use_fips=_true(env.get("AWS_USE_FIPS_ENDPOINT")),
        use_dualstack=_true(env.get("AWS_USE_DUALSTACK_ENDPOINT")),
        endpoint_url=endpoint,
        account_id=env.get("AWS_ACCOUNT_ID") or None,
        account_id_endpoint_mode=mode,
    )


def _custom(service: Service, settings: Settings, part: Partition) -> str:
    """A configured endpoint is used as given; botocore then ignores the FIPS and dual-stack flags."""
    url = settings.endpoint_url or ""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"Invalid endpoint: {url}")
    if service is DYNAMODB and parts.netloc == f"dynamodb.{settings.region}.{part.dual_stack_dns_suffix}":
        raise EndpointResolutionError(msg=_DDB_DS_OVERRIDE)
    return url


def _dynamodb(settings: Settings, part: Partition, suffix: str) -> str:
    region, mode = settings.region, settings.account_id_endpoint_mode
    if settings.use_fips:
        if mode == "required":
            raise EndpointResolutionError(msg=_DDB_FIPS_ACCOUNT)
        if not settings.use_dualstack and part.name == "aws-us-gov":
            return f"https://dynamodb.{region}.{suffix}"
        return f"https://dynamodb-fips.{region}.{suffix}"
    if part.name != "aws" and region not in _DDB_ACCOUNT_REGIONS:
        if mode == "required":
            raise EndpointResolutionError(msg=_DDB_ACCOUNT_REGION)
    elif mode != "disabled" and settings.account_id:
        if not _HOST_LABEL_RE.match(settings.account_id):
            raise EndpointResolutionError(msg=_DDB_BAD_ACCOUNT)
        return f"https://{settings.account_id}.ddb.{region}.{suffix}"
    elif mode == "required":
        raise EndpointResolutionError(msg=_DDB_NO_ACCOUNT)
    return f"https://dynamodb.{region}.{suffix}"


def endpoint_url(service: Service, settings: Settings) -> str:
    """The URL requests to ``service`` go to (``EndpointResolutionError`` for impossible settings)."""
    region = settings.region
    part = partition(region)
    if settings.endpoint_url:
        return _custom(service, settings, part)
    fips, dualstack = settings.use_fips, settings.use_dualstack
    if service is DYNAMODB and region == "local":
        if fips:
            raise EndpointResolutionError(msg="Invalid Configuration: FIPS and local endpoint are not supported")
        if dualstack:
            raise EndpointResolutionError(msg="Invalid Configuration: Dualstack and local endpoint are not supported")
        return "http://localhost:8000"
    if dualstack and part.name in _NO_DUALSTACK_VARIANT and not region.endswith("-global"):
        raise EndpointVariantError(tags=["dualstack", "fips"] if fips else ["dualstack"])
    suffix = part.dual_stack_dns_suffix if dualstack else part.dns_suffix
    if service is DYNAMODB:
        return _dynamodb(settings, part, suffix)
    name = service.name
    if fips and dualstack:
        if name == "secretsmanager" and part.name in ("aws", "aws-us-gov"):
            return f"https://secretsmanager-fips.{region}.amazonaws.com"
        return f"https://{name}-fips.{region}.{suffix}"
    if fips:
        if name == "sqs" and part.name == "aws-us-gov":
            return f"https://sqs.{region}.amazonaws.com"
        return f"https://{name}-fips.{region}.{suffix}"
    if dualstack and name == "secretsmanager" and part.name in ("aws", "aws-cn", "aws-us-gov"):
        return f"https://secretsmanager.{region}.{part.dns_suffix}"
    return f"https://{name}.{region}.{suffix}"
