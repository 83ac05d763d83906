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
