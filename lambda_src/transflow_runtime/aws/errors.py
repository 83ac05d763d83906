"""Exceptions of the light AWS client, named and worded as botocore's.

The handlers log ``type(exc).__name__`` and ``str(exc)`` of a failed AWS call, and the
authorizer puts the type's name in its error. So every exception here carries the class name and
the message botocore would raise for the same failure (``ClientError`` subclasses named after the
service's modeled error, ``EndpointConnectionError``, ``ReadTimeoutError``, ...): a log line reads
the same whichever client produced it. They are separate classes (botocore is not imported on the
light path); ``error_types()`` gives the tuple an ``except`` clause needs to catch both families.
"""

from __future__ import annotations

import sys
from typing import Any


class BotoCoreError(Exception):
    """A failure before or around the HTTP exchange (botocore's ``BotoCoreError``)."""

    fmt = "An unspecified error occurred"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(self.fmt.format(**kwargs))
        self.kwargs = kwargs


class HTTPClientError(BotoCoreError):
    fmt = "An HTTP Client raised an unhandled exception: {error}"


class ConnectionError(BotoCoreError):  # botocore's name (it shadows the builtin in this module only)
    fmt = "An HTTP Client failed to establish a connection: {error}"


class EndpointConnectionError(ConnectionError):
    fmt = 'Could not connect to the endpoint URL: "{endpoint_url}"'


class SSLError(ConnectionError):
    fmt = "SSL validation failed for {endpoint_url} {error}"


class ConnectTimeoutError(ConnectionError):
    fmt = 'Connect timeout on endpoint URL: "{endpoint_url}"'


class ConnectionClosedError(HTTPClientError):
    fmt = 'Connection was closed before we received a valid response from endpoint URL: "{endpoint_url}".'


class ReadTimeoutError(HTTPClientError):
    fmt = 'Read timeout on endpoint URL: "{endpoint_url}"'


class InvalidMaxRetryAttemptsError(BotoCoreError):
    fmt = (
        'Value provided to "max_attempts": {provided_max_attempts} must be an integer greater than or equal to '
        "{min_value}."
    )


class InvalidConfigError(BotoCoreError):
    fmt = "{error_msg}"


class NoCredentialsError(BotoCoreError):
    fmt = "Unable to locate credentials"


class NoRegionError(BotoCoreError):
    fmt = "You must specify a region."


class InvalidRegionError(BotoCoreError, ValueError):
    fmt = "Provided region_name '{region_name}' doesn't match a supported format."


class EndpointResolutionError(BotoCoreError):
    fmt = "{msg}"


class EndpointVariantError(BotoCoreError):
    fmt = "Unable to construct a modeled endpoint with the following variant(s) {tags}: "


class ChecksumError(BotoCoreError):
    fmt = (
        "Checksum {checksum_type} failed, expected checksum {expected_checksum} did not match calculated "
        "checksum {actual_checksum}."
    )


class ClientError(Exception):
    """The service answered with an error (botocore's ``ClientError``, same message)."""

    MSG_TEMPLATE = (
        "An error occurred ({error_code}) when calling the {operation_name} operation{retry_info}: {error_message}"
    )

    def __init__(self, error_response: dict[str, Any], operation_name: str) -> None:
        metadata = error_response.get("ResponseMetadata", {})
        retry_info = ""
        if metadata.get("MaxAttemptsReached", False) and "RetryAttempts" in metadata:
            retry_info = f" (reached max retries: {metadata['RetryAttempts']})"
        error = error_response.get("Error", {})
        super().__init__(
            self.MSG_TEMPLATE.format(
                error_code=error.get("Code", "Unknown"),
                error_message=error.get("Message", "Unknown"),
                operation_name=operation_name,
                retry_info=retry_info,
            )
        )
        self.response = error_response
        self.operation_name = operation_name


_modeled: dict[str, type[ClientError]] = {}


def modeled_error(name: str) -> type[ClientError]:
    """The ``ClientError`` subclass botocore's error factory builds for a modeled error ``name``."""
    cls = _modeled.get(name)
    if cls is None:
        cls = _modeled[name] = type(name, (ClientError,), {})
    return cls


def error_types() -> tuple[type[BaseException], ...]:
    """Every exception an AWS call can raise by design: the light client's, and botocore's once
    botocore is loaded (a boto3 client, or the credential fallback, is in use)."""
    exceptions = sys.modules.get("botocore.exceptions")
    if exceptions is None:
        return (ClientError, BotoCoreError)
    return (ClientError, BotoCoreError, exceptions.ClientError, exceptions.BotoCoreError)
