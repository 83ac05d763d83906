"""What a ``table=`` passed to ``TransflowStatus`` must be like, checked at synth time where it can be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from transflow_runtime import schema

#: Where ``CfnResource.inspect`` puts a resource's CloudFormation properties.
_PROPS_ATTRIBUTE = "aws:cdk:cloudformation:props"
#: CloudFormation's name of ``AttributeType.STRING``.
_STRING = "S"


def check_existing_table(table: dynamodb.ITable) -> None:
    """Refuse a ``table=`` that cannot work with the runtime, naming what is wrong.

    Any table needs a stream ARN (webhooks are driven by the stream). A ``dynamodb.Table`` or
    ``dynamodb.TableV2`` defined in the same app is also checked against what its CloudFormation
    resource will say: the key schema (string partition key ``assembly_id``, no sort key), the
    ``by-user-created`` index (string ``user_id`` + ``created_at``, projecting all attributes), a
    NEW_AND_OLD_IMAGES stream and TTL on ``ttl``. The table must be complete when it is passed (an
    index added afterwards is not seen). An imported table's shape is only known at deploy time, so
    the README lists what it must have.
    """
    if table.table_stream_arn is None:
        raise ValueError(
            "table= has no stream ARN: webhooks are driven by the table's stream. Enable a NEW_AND_OLD_IMAGES "
            "stream and import it with dynamodb.Table.from_table_attributes(..., table_stream_arn=...)"
        )
    properties = _table_properties(table)
    if properties is None:
        return  # imported: nothing to inspect before deployment
    types = {
        d.get("attributeName"): d.get("attributeType")
        for d in properties.get("attributeDefinitions") or []
        if isinstance(d, Mapping)
    }
    _check_key_schema(properties.get("keySchema"), types)
    _check_user_index(properties.get("globalSecondaryIndexes"), types)
    _check_stream(properties.get("streamSpecification"))
    _check_ttl(properties.get("timeToLiveSpecification"))


def _table_properties(table: dynamodb.ITable) -> dict[str, Any] | None:
    """The resolved CloudFormation properties of a same-app table, or ``None`` for an imported one.

    Read through the L1 resource's tree inspection (public API, works for ``CfnTable`` and
    ``CfnGlobalTable`` alike; ``TableV2`` computes some properties lazily, which its typed getters
    cannot return, and ``Table.schema()`` is deprecated).
    """
    cfn = table.node.default_child
    if not isinstance(cfn, dynamodb.CfnTable | dynamodb.CfnGlobalTable):
        return None
    inspector = cdk.TreeInspector()
    cfn.inspect(inspector)
    resolved = cdk.Stack.of(cfn).resolve(inspector.attributes.get(_PROPS_ATTRIBUTE))
    return resolved if isinstance(resolved, dict) else None


def _key_elements(key_schema: Any) -> dict[str, str]:
    """``{"HASH": name, "RANGE": name}`` of a resolved key schema (unknown entries ignored)."""
    result: dict[str, str] = {}
    for element in key_schema or []:
        if isinstance(element, Mapping) and isinstance(element.get("keyType"), str):
            result[element["keyType"]] = element.get("attributeName")
    return result


def _type_name(attribute_type: Any) -> str:
    """``"S"`` -> ``"STRING"`` (CloudFormation's letters back to CDK's names)."""
    return {"S": "STRING", "N": "NUMBER", "B": "BINARY"}.get(attribute_type, str(attribute_type))


def _check_key_schema(key_schema: Any, types: Mapping[str, Any]) -> None:
    keys = _key_elements(key_schema)
    partition = keys.get("HASH")
    if partition != schema.PARTITION_KEY or types.get(partition) != _STRING:
        raise ValueError(
            f"table= must have the string partition key {schema.PARTITION_KEY!r}, has {partition!r} "
            f"({_type_name(types.get(partition))})"
        )
    if "RANGE" in keys:
        raise ValueError(
            f"table= must not have a sort key (has {keys['RANGE']!r}): the runtime reads and writes items by "
            f"{schema.PARTITION_KEY!r} alone, so every GetItem/UpdateItem would fail against this key schema"
        )


def _check_user_index(indexes: Any, types: Mapping[str, Any]) -> None:
    index = next(
        (i for i in indexes or [] if isinstance(i, Mapping) and i.get("indexName") == schema.USER_INDEX_NAME), None
    )
    wanted = f"({schema.USER_ID_ATTRIBUTE!r} + {schema.CREATED_AT_ATTRIBUTE!r}, both strings, projecting ALL)"
    if index is None:
        raise ValueError(
            f"table= lacks the global secondary index {schema.USER_INDEX_NAME!r} {wanted} that lists a user's "
            "assemblies"
        )
    keys = _key_elements(index.get("keySchema"))
    expected = {"HASH": schema.USER_ID_ATTRIBUTE, "RANGE": schema.CREATED_AT_ATTRIBUTE}
    if keys != expected:
        raise ValueError(
            f"table= index {schema.USER_INDEX_NAME!r} must be keyed on {schema.USER_ID_ATTRIBUTE!r} (partition) "
            f"and {schema.CREATED_AT_ATTRIBUTE!r} (sort), has {keys}"
        )
    for name in expected.values():
        if types.get(name) != _STRING:
            raise ValueError(
                f"table= index {schema.USER_INDEX_NAME!r}: {name!r} must be a STRING attribute (the store writes "
                f"strings: the user id and an ISO timestamp), has {_type_name(types.get(name))}"
            )
    projection = (index.get("projection") or {}).get("projectionType")
    if projection != "ALL":
        raise ValueError(
            f"table= index {schema.USER_INDEX_NAME!r} must project ALL attributes (GET /assemblies serves the "
            f"index items as statuses and filters on 'state'), has {projection or 'no projection'}"
        )


def _check_stream(stream: Any) -> None:
    view_type = stream.get("streamViewType") if isinstance(stream, Mapping) else None
    if view_type is None:
        raise ValueError(
            "table= has no stream: webhooks are driven by the table's NEW_AND_OLD_IMAGES stream "
            "(Table(stream=...) / TableV2(dynamo_stream=...))"
        )
    if isinstance(view_type, str) and view_type != "NEW_AND_OLD_IMAGES":
        raise ValueError(
            f"table= stream must use NEW_AND_OLD_IMAGES (old and new state decide a transition), has {view_type}"
        )


def _check_ttl(ttl: Any) -> None:
    if not isinstance(ttl, Mapping):
        raise ValueError(
            f"table= has no time to live: set it on {schema.TTL_ATTRIBUTE!r} (time_to_live_attribute=...), "
            "or every status is kept forever"
        )
    name, enabled = ttl.get("attributeName"), ttl.get("enabled")
    if (isinstance(name, str) and name != schema.TTL_ATTRIBUTE) or enabled is False:
        raise ValueError(
            f"table= time to live must be enabled on {schema.TTL_ATTRIBUTE!r} (the attribute StatusStore writes), "
            f"has {name!r} (enabled={enabled})"
        )
