"""The status table: single source of truth, and the stream that drives webhooks."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct
from transflow_runtime import schema


class StatusTable(Construct):
    """A DynamoDB table shaped as ``StatusStore`` expects.

    Partition key ``assembly_id``; GSI ``by-user-created`` (``user_id``, ``created_at``) for
    listing a user's assemblies; TTL on ``ttl``; a NEW_AND_OLD_IMAGES stream so terminal
    transitions can be detected; on-demand billing; point-in-time recovery; deletion protection.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        encryption_key: kms.IKey | None = None,
        deletion_protection: bool = True,
        point_in_time_recovery: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=schema.PARTITION_KEY, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery
            ),
            encryption=(
                dynamodb.TableEncryption.CUSTOMER_MANAGED if encryption_key else dynamodb.TableEncryption.AWS_MANAGED
            ),
            encryption_key=encryption_key,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=schema.USER_INDEX_NAME,
            partition_key=dynamodb.Attribute(name=schema.USER_ID_ATTRIBUTE, type=string),
            sort_key=dynamodb.Attribute(name=schema.CREATED_AT_ATTRIBUTE, type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )


def check_existing_table(table: dynamodb.ITable) -> None:
    """Refuse a ``table=`` that cannot work with the runtime, naming what is missing.

    Any table needs a stream ARN (webhooks are driven by the stream). A ``dynamodb.Table`` defined
    in the same app is also checked for the partition key, the user index and the stream view
    type; an imported table's shape is only known at deploy time, so the README lists what it
    must have.
    """
    if table.table_stream_arn is None:
        raise ValueError(
            "table= has no stream ARN: webhooks are driven by the table's stream. Enable a NEW_AND_OLD_IMAGES "
            "stream and import it with dynamodb.Table.from_table_attributes(..., table_stream_arn=...)"
        )
    if not isinstance(table, dynamodb.Table):
        return
    partition_key = table.schema().partition_key
    if partition_key.name != schema.PARTITION_KEY or partition_key.type != dynamodb.AttributeType.STRING:
        raise ValueError(
            f"table= must have the string partition key {schema.PARTITION_KEY!r}, has {partition_key.name!r}"
        )
    try:
        index = table.schema(schema.USER_INDEX_NAME)
    except Exception:
        raise ValueError(
            f"table= lacks the global secondary index {schema.USER_INDEX_NAME!r} "
            f"({schema.USER_ID_ATTRIBUTE!r} + {schema.CREATED_AT_ATTRIBUTE!r}) that lists a user's assemblies"
        ) from None
    sort_key = index.sort_key
    if (
        index.partition_key.name != schema.USER_ID_ATTRIBUTE
        or sort_key is None
        or (sort_key.name != schema.CREATED_AT_ATTRIBUTE)
    ):
        raise ValueError(
            f"table= index {schema.USER_INDEX_NAME!r} must be keyed on {schema.USER_ID_ATTRIBUTE!r} and "
            f"{schema.CREATED_AT_ATTRIBUTE!r}"
        )
    cfn = table.node.default_child
    stream = cfn.stream_specification if isinstance(cfn, dynamodb.CfnTable) else None
    view_type = getattr(stream, "stream_view_type", None) if stream is not None else None
    if view_type is not None and not cdk.Token.is_unresolved(view_type) and view_type != "NEW_AND_OLD_IMAGES":
        raise ValueError(
            f"table= stream must use NEW_AND_OLD_IMAGES (old and new state decide a transition), has {view_type}"
        )
