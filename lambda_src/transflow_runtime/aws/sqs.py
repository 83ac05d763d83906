"""SQS SendMessage for the light client, over the JSON protocol botocore uses for SQS.

SQS is query-compatible: its errors carry the old query-protocol code in ``x-amzn-query-error``
(``AWS.SimpleQueueService.NonExistentQueue``), which becomes the error's ``Code`` while the
exception class is named after the JSON shape (``QueueDoesNotExist``), exactly as botocore does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from . import endpoints
from .protocol import Protocol, ServiceClient

MODELED_ERRORS = frozenset({
    "BatchEntryIdsNotDistinct", "BatchRequestTooLong", "EmptyBatchRequest", "InvalidAddress",
    "InvalidAttributeName", "InvalidAttributeValue", "InvalidBatchEntryId", "InvalidIdFormat",
    "InvalidMessageContents", "InvalidSecurity", "KmsAccessDenied", "KmsDisabled", "KmsInvalidKeyUsage",
    "KmsInvalidState", "KmsNotFound", "KmsOptInRequired", "KmsThrottled", "MessageNotInflight", "OverLimit",
    "PurgeQueueInProgress", "QueueDeletedRecently", "QueueDoesNotExist", "QueueNameExists",
    "ReceiptHandleIsInvalid", "RequestThrottled", "ResourceNotFoundException", "TooManyEntriesInBatchRequest",
    "UnsupportedOperation",
})
PROTOCOL = Protocol(endpoints.SQS, "AmazonSQS", "1.0", {name: name for name in MODELED_ERRORS},
                    query_compatible=True)


def _blob(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, str):
        return base64.b64encode(value.encode("utf-8")).decode("ascii")
    return value


def _attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name, attribute in attributes.items():
        attribute = dict(attribute)
        if "BinaryValue" in attribute:
            attribute["BinaryValue"] = _blob(attribute["BinaryValue"])
        if "BinaryListValues" in attribute:
            attribute["BinaryListValues"] = [_blob(v) for v in attribute["BinaryListValues"]]
        out[name] = attribute
    return out


class SQSClient(ServiceClient):
    """``send_message`` of boto3's ``client("sqs")``."""

    PROTOCOL = PROTOCOL

    def send_message(self, **params: Any) -> dict[str, Any]:
        for name in ("MessageAttributes", "MessageSystemAttributes"):
            if isinstance(params.get(name), Mapping):
                params[name] = _attributes(params[name])
        return self._client.call("SendMessage", params)
