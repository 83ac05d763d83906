"""The AWS JSON protocol (``awsJson1_0`` / ``awsJson1_1``) over the signer, transport and retries.

A call is ``POST /`` with ``X-Amz-Target: <prefix>.<Operation>`` and the parameters as a JSON
object; the answer is a JSON object, or an error whose code is the part of ``__type`` after
``#`` (or the ``x-amzn-query-error`` code of a query-compatible service such as SQS) and whose
message is ``message`` or ``Message``. Responses come back as botocore returns them, with
``ResponseMetadata``; errors raise the ``ClientError`` subclass botocore raises, with the same
message and ``response``; after the retries the last failure is raised as botocore raises it.
"""

from __future__ import annotations

import binascii
import http.client
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from .. import __version__
from . import credentials as credential_sources
from . import deadlines, endpoints, retry, sigv4
from .errors import ChecksumError, ClientError, HTTPClientError, modeled_error
from .errors import ConnectionError as AwsConnectionError
from .transport import Response, Transport, is_timeout

USER_AGENT = f"transflow-light/{__version__} Python/{sys.version_info[0]}.{sys.version_info[1]}"


class Protocol(NamedTuple):
    service: endpoints.Service
    target_prefix: str
    json_version: str
    #: error code (shape name or modeled code) -> exception class name, as botocore's error factory
    modeled_errors: Mapping[str, str]
    query_compatible: bool = False
    crc32: bool = False  #: DynamoDB signs its responses with ``x-amz-crc32``


def _invocation_id() -> str:
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _json(body: bytes) -> Any:
    """botocore's lenient reading: a body that is not JSON reads as ``{"message": <text>}``."""
    if not body:
        return {}
    text = body.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return {"message": text}


def _metadata(response: Response) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if "x-amzn-requestid" in response.headers:
        metadata["RequestId"] = response.headers["x-amzn-requestid"]
    metadata["HTTPStatusCode"] = response.status
    metadata["HTTPHeaders"] = dict(response.headers)
    return metadata


def parse_error(protocol: Protocol, response: Response) -> dict[str, Any]:
    """botocore's JSON error parsing, including its generic answer to an HTML or empty 5xx."""
    body = response.body.strip()
    if response.status >= 500 and (not body or body.startswith(b"<html>")):
        error = {"Error": {"Code": str(response.status), "Message": http.client.responses.get(response.status, "")}}
        return {**error, "ResponseMetadata": _metadata(response)}
    parsed = _json(response.body)
    if not isinstance(parsed, dict):
        parsed = {}
    error: dict[str, Any] = {"Message": parsed.get("message", parsed.get("Message", "")), "Code": ""}
    code = parsed.get("__type", str(response.status))
    if isinstance(code, str):
        if ":" in code:
            code = code.split(":", 1)[0]
        if "#" in code:
            code = code.rsplit("#", 1)[1]
        query_error = response.headers.get("x-amzn-query-error")
        if protocol.query_compatible and query_error is not None:
            parts = query_error.split(";")
            if len(parts) == 2 and parts[0]:
                error["QueryErrorCode"] = code
                error["Type"] = parts[1]
                code = parts[0]
        error["Code"] = code
    return {"Error": error, "ResponseMetadata": _metadata(response)}


def error_class(protocol: Protocol, error: Mapping[str, Any]) -> type[ClientError]:
    """The exception class botocore's error factory picks (SQS: by its pre-query-mode code)."""
    code = error.get("QueryErrorCode") or error.get("Code")
    name = protocol.modeled_errors.get(code) if isinstance(code, str) else None
    return modeled_error(name) if name else ClientError


class JsonClient:
    """One AWS service over the JSON protocol; created once per process and reused."""

    def __init__(
        self,
        protocol: Protocol,
        environ: Mapping[str, str] | None = None,
        *,
        transport: Transport | None = None,
        credentials: Callable[[], sigv4.Credentials] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        env = os.environ if environ is None else environ
        self.protocol = protocol
        settings = endpoints.settings_from(protocol.service, env)
        self.region = settings.region
        self.endpoint_url = endpoints.endpoint_url(protocol.service, settings)
        # botocore's join of the endpoint and the operation's "/": the endpoint's own path, if any
        self._url = self.endpoint_url if urlsplit(self.endpoint_url).path else self.endpoint_url + "/"
        self.retry_policy = retry.policy_for(protocol.service.name, env)
        self.retry_quota = retry.RetryQuota()
        self.transport = transport or Transport(ca_bundle=env.get("AWS_CA_BUNDLE") or None)
        self._credentials = credentials or credential_sources.provider(env)
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self._content_type = f"application/x-amz-json-{protocol.json_version}"

    def _random(self) -> float:
        if self._rand is None:
            import random  # only when a retry happens

            self._rand = random.random
        return self._rand()

    def _headers(self, operation: str, invocation: str, attempt: int) -> list[tuple[str, str]]:
        headers = [
            ("Content-Type", self._content_type),
            ("X-Amz-Target", f"{self.protocol.target_prefix}.{operation}"),
            ("User-Agent", USER_AGENT),
            ("amz-sdk-invocation-id", invocation),
            ("amz-sdk-request", f"attempt={attempt}; max={self.retry_policy.max_attempts}"),
        ]
        if self.protocol.query_compatible:
            headers.append(("x-amzn-query-mode", "true"))
        # botocore's recursion detection header (handlers.add_recursion_detection_header): the
        # invocation's X-Ray trace, read from the process environment at each request, as Lambda
        # sets it per invocation. Not signed (sigv4.UNSIGNED_HEADERS).
        trace_id = os.environ.get("_X_AMZN_TRACE_ID")
        if "AWS_LAMBDA_FUNCTION_NAME" in os.environ and trace_id:
            headers.append(("X-Amzn-Trace-Id", quote(trace_id, safe="-=;:+&[]{}\"',")))
        return headers

    def _checksum_failure(self, response: Response) -> ChecksumError | None:
        expected = response.headers.get("x-amz-crc32")
        if not self.protocol.crc32 or expected is None:
            return None
        actual = binascii.crc32(response.body) & 0xFFFFFFFF
        if expected.isdigit() and int(expected) == actual:
            return None
        return ChecksumError(checksum_type="crc32", expected_checksum=expected, actual_checksum=actual)

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One API call with standard-mode retries; the parsed JSON answer.

        Under a deadline (``deadlines.within``/``for_invocation``) every attempt ends by it, and a
        retry whose backoff would end past it is not made: the last failure is raised instead.
        """
        policy, quota = self.retry_policy, self.retry_quota
        deadline = deadlines.current()
        body = json.dumps(params, separators=(",", ":")).encode("utf-8")
        invocation = _invocation_id()
        service = self.protocol.service.name
        acquired: int | None = None  # tokens the last retry cost (refunded on success)
        attempt = 0
        while True:
            attempt += 1
            failure: BaseException | None = None
            error_response: dict[str, Any] | None = None
            response: Response | None = None
            kind: str | None
            headers = sigv4.sign("POST", self._url, self._headers(operation, invocation, attempt), body,
                                 self._credentials(), self.region, service)
            try:
                response = self.transport.send("POST", self._url, headers, body, deadline=deadline)
            except (AwsConnectionError, HTTPClientError) as exc:
                failure, kind = exc, (retry.TIMEOUT if is_timeout(exc) else retry.TRANSIENT)
            else:
                if response.status < 300:
                    failure = self._checksum_failure(response)
                    if failure is None:
                        quota.release(retry.NO_RETRY_INCREMENT if acquired is None else acquired)
                        parsed = _json(response.body)
                        result = parsed if isinstance(parsed, dict) else {}
                        result["ResponseMetadata"] = {**_metadata(response), "RetryAttempts": attempt - 1}
                        return result
                    kind = retry.TRANSIENT
                else:
                    error_response = parse_error(self.protocol, response)
                    code = error_response["Error"].get("Code")
                    modeled = error_class(self.protocol, error_response["Error"]) is not ClientError
                    kind = policy.classify(response.status, code, modeled)
            metadata = error_response["ResponseMetadata"] if error_response is not None else {}
            retried = False
            if attempt >= policy.max_attempts:
                metadata["MaxAttemptsReached"] = True
            elif kind is not None:
                retry_after = response.headers.get("x-amz-retry-after") if response is not None else None
                delay = policy.delay(kind, attempt, self._random(), retry_after)
                cost = policy.cost(kind)
                if deadline is not None and self._clock() + delay >= deadline:
                    pass  # the retry could not finish in time: the failure is the answer
                elif quota.acquire(cost):
                    acquired = cost
                    self._sleep(delay)
                    retried = True
                else:
                    metadata["RetryQuotaReached"] = True
            if retried:
                continue
            if error_response is not None:
                metadata["RetryAttempts"] = attempt - 1
                raise error_class(self.protocol, error_response["Error"])(error_response, operation)
            assert failure is not None
            raise failure


class ServiceClient:
    """Base of the per-service clients: one ``JsonClient`` for ``PROTOCOL``."""

    PROTOCOL: Protocol

    def __init__(self, environ: Mapping[str, str] | None = None, **options: Any) -> None:
        self._client = JsonClient(self.PROTOCOL, environ, **options)

    @property
    def transport(self) -> Transport:
        return self._client.transport

    @property
    def retry_quota(self) -> retry.RetryQuota:
        return self._client.retry_quota

    @property
    def endpoint_url(self) -> str:
        return self._client.endpoint_url

