"""AWS resource definitions shared by local mode and the tests, derived from ``schema``.

The construct builds the same shapes with CDK (``transflow_constructs.table``); both read their
names from ``schema``, so local mode and the deployed service cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from .schema import (
    CREATED_AT_ATTRIBUTE,
    PARTITION_KEY,
    TTL_ATTRIBUTE,
    USER_ID_ATTRIBUTE,
    USER_INDEX_NAME,
)


def table_definition(table_name: str) -> dict[str, Any]:
    """``create_table`` arguments for the status table (same keys, index and stream as AWS)."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": USER_ID_ATTRIBUTE, "AttributeType": "S"},
            {"AttributeName": CREATED_AT_ATTRIBUTE, "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": USER_INDEX_NAME,
                "KeySchema": [
                    {"AttributeName": USER_ID_ATTRIBUTE, "KeyType": "HASH"},
                    {"AttributeName": CREATED_AT_ATTRIBUTE, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def create_table(client: Any, table_name: str) -> None:
    """Create the status table and enable TTL on it, as the construct does."""
    client.create_table(**table_definition(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
