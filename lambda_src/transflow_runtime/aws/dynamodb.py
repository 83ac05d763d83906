"""DynamoDB's read calls (GetItem, BatchGetItem, Query) for the light client.

Same method names, parameters and answers as boto3's low-level client, so the shared read helpers
in ``dynamo.py`` take either: attribute values are DynamoDB JSON (``{"S": ...}``) with binaries as
``bytes``, and answers carry ``ResponseMetadata``. Responses are checked against their
``x-amz-crc32`` header and retried on a mismatch, as botocore does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import endpoints
from .dynamodb_types import item_from_wire, item_to_wire
from .protocol import Protocol, ServiceClient

#: The service model's error shapes (botocore raises a ClientError subclass of each name).
MODELED_ERRORS = frozenset({
    "BackupInUseException", "BackupNotFoundException", "ConditionalCheckFailedException",
    "ContinuousBackupsUnavailableException", "DuplicateItemException", "ExportConflictException",
    "ExportNotFoundException", "GlobalTableAlreadyExistsException", "GlobalTableNotFoundException",
    "IdempotentParameterMismatchException", "ImportConflictException", "ImportNotFoundException",
    "IndexNotFoundException", "InternalServerError", "InvalidExportTimeException", "InvalidRestoreTimeException",
    "ItemCollectionSizeLimitExceededException", "LimitExceededException", "PointInTimeRecoveryUnavailableException",
    "PolicyNotFoundException", "ProvisionedThroughputExceededException", "ReplicaAlreadyExistsException",
    "ReplicaNotFoundException", "ReplicatedWriteConflictException", "RequestLimitExceeded",
    "ResourceInUseException", "ResourceNotFoundException", "TableAlreadyExistsException", "TableInUseException",
    "TableNotFoundException", "ThrottlingException", "TransactionCanceledException",
    "TransactionConflictException", "TransactionInProgressException",
})
PROTOCOL = Protocol(endpoints.DYNAMODB, "DynamoDB_20120810", "1.0", {name: name for name in MODELED_ERRORS},
                    crc32=True)
_KEY_PARAMS = ("Key", "ExclusiveStartKey", "ExpressionAttributeValues")


def _request(params: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for name in _KEY_PARAMS:
        if isinstance(out.get(name), Mapping):
            out[name] = item_to_wire(out[name])
    if isinstance(out.get("RequestItems"), Mapping):
        out["RequestItems"] = {
            table: {**spec, "Keys": [item_to_wire(k) for k in spec.get("Keys", [])]}
            for table, spec in out["RequestItems"].items()
        }
    return out


class DynamoDBClient(ServiceClient):
    """``get_item``, ``batch_get_item`` and ``query`` of boto3's ``client("dynamodb")``."""

    PROTOCOL = PROTOCOL

    def get_item(self, **params: Any) -> dict[str, Any]:
        out = self._client.call("GetItem", _request(params))
        if isinstance(out.get("Item"), dict):
            out["Item"] = item_from_wire(out["Item"])
        return out

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        out = self._client.call("BatchGetItem", _request(params))
        if isinstance(out.get("Responses"), dict):
            out["Responses"] = {t: [item_from_wire(i) for i in items] for t, items in out["Responses"].items()}
        if isinstance(out.get("UnprocessedKeys"), dict):
            out["UnprocessedKeys"] = {
                t: {**spec, "Keys": [item_from_wire(k) for k in spec.get("Keys", [])]}
                for t, spec in out["UnprocessedKeys"].items()
            }
        return out

    def query(self, **params: Any) -> dict[str, Any]:
        out = self._client.call("Query", _request(params))
        if isinstance(out.get("Items"), list):
            out["Items"] = [item_from_wire(i) for i in out["Items"]]
        if isinstance(out.get("LastEvaluatedKey"), dict):
            out["LastEvaluatedKey"] = item_from_wire(out["LastEvaluatedKey"])
        return out
