"""The table part: the status table (single source of truth) and the stream that drives webhooks.

``TableOptions`` validates the table options; ``TablePart`` creates the table (or adopts the one
passed as ``table=``) and owns what others may do with it: the statements of the functions that
read or write it and the ``grant_*`` methods.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct
from transflow_runtime import schema

from ._metadata import skip_checkov
from ._policies import key_statements
from .existing_table import check_existing_table

#: Table-only options: meaningless (so refused) together with ``table=``.
TABLE_OPTIONS = ("removal_policy", "table_encryption_key", "deletion_protection", "point_in_time_recovery")
#: Construct id of the table; part of the logical id contract (tests pin it).
TABLE_ID = "Table"


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
        if encryption_key is None:
            skip_checkov(
                self.table,
                "CKV_AWS_119",
                "Encrypted at rest with the AWS-managed key (SSE-KMS, aws/dynamodb); table_encryption_key= gives a "
                "customer-managed key, and then this check passes.",
            )
        self.table.add_global_secondary_index(
            index_name=schema.USER_INDEX_NAME,
            partition_key=dynamodb.Attribute(name=schema.USER_ID_ATTRIBUTE, type=string),
            sort_key=dynamodb.Attribute(name=schema.CREATED_AT_ATTRIBUTE, type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )


@dataclass(frozen=True)
class TableOptions:
    """The table options of ``TransflowStatus`` (see its docstring), validated on creation."""

    table: dynamodb.ITable | None = None
    removal_policy: cdk.RemovalPolicy | None = None
    encryption_key: kms.IKey | None = None
    deletion_protection: bool | None = None
    point_in_time_recovery: bool | None = None

    def __post_init__(self) -> None:
        if self.removal_policy == cdk.RemovalPolicy.SNAPSHOT:
            raise ValueError(
                "removal_policy=SNAPSHOT is not supported: CloudFormation's Snapshot deletion policy does not apply "
                "to DynamoDB tables or SQS queues (use RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY)"
            )
        if self.removal_policy == cdk.RemovalPolicy.DESTROY and self.deletion_protection is True:
            raise ValueError(
                "removal_policy=DESTROY and deletion_protection=True conflict: CloudFormation cannot delete a "
                "table whose deletion protection is on, so deleting the stack would end in DELETE_FAILED. Drop "
                "deletion_protection (it follows the removal policy) or keep the table (RETAIN)"
            )
        if self.table is None:
            return
        given = {
            "removal_policy": self.removal_policy,
            "table_encryption_key": self.encryption_key,
            "deletion_protection": self.deletion_protection,
            "point_in_time_recovery": self.point_in_time_recovery,
        }
        for option, value in given.items():
            if value is not None:
                raise ValueError(
                    f"table= and {option}= conflict: {option} only applies to a table this construct creates"
                )
        check_existing_table(self.table)

    @property
    def known_table_name(self) -> str | None:
        """The table's name when it is known before the table exists (``table=``), else ``None``."""
        return self.table.table_name if self.table is not None else None

    @property
    def table_deletion_protection(self) -> bool:
        """Deletion protection of a new table: as given, else on unless the table is to be destroyed."""
        if self.deletion_protection is not None:
            return self.deletion_protection
        return self.data_removal_policy != cdk.RemovalPolicy.DESTROY

    @property
    def data_removal_policy(self) -> cdk.RemovalPolicy:
        """What happens to a new table, and to the dead-letter queues, on stack deletion."""
        return self.removal_policy if self.removal_policy is not None else cdk.RemovalPolicy.RETAIN


class TablePart:
    """The status table of one ``TransflowStatus``: created in ``scope``, or the ``table=`` passed."""

    def __init__(self, scope: Construct, options: TableOptions) -> None:
        self.options = options
        self.owns_table = options.table is None
        if options.table is None:
            self.table: dynamodb.ITable = StatusTable(
                scope,
                TABLE_ID,
                removal_policy=options.data_removal_policy,
                encryption_key=options.encryption_key,
                deletion_protection=options.table_deletion_protection,
                point_in_time_recovery=options.point_in_time_recovery is not False,
            ).table
        else:
            self.table = options.table
        stream_arn = self.table.table_stream_arn
        assert stream_arn is not None  # checked by TableOptions
        self.stream_arn: str = stream_arn

    def parts(self) -> dict[IConstruct, str]:
        """Resources created here, by part name (``_metadata.PartMarker``)."""
        return {self.table: "table"} if self.owns_table else {}

    @property
    def table_arn(self) -> str:
        return self.table.table_arn

    @property
    def index_arn(self) -> str:
        """The ``by-user-created`` index (``GET /assemblies`` queries it)."""
        return f"{self.table.table_arn}/index/{schema.USER_INDEX_NAME}"

    @property
    def encryption_key(self) -> kms.IKey | None:
        return self.table.encryption_key

    @property
    def default_starting_position(self) -> lambda_.StartingPosition:
        """Where a new (or replaced) stream event source mapping starts reading.

        A table created here starts with an empty stream, so ``TRIM_HORIZON`` loses nothing and
        replays nothing. An existing table's stream holds up to 24 hours of records: from its
        trim horizon a new mapping would send a webhook for every terminal transition of the last
        day again, so it starts at ``LATEST``.
        """
        return lambda_.StartingPosition.TRIM_HORIZON if self.owns_table else lambda_.StartingPosition.LATEST

    def starting_position(self, scope: Construct, given: lambda_.StartingPosition | None) -> lambda_.StartingPosition:
        """The stream mapping's starting position: ``given``, else the default (warned about with ``table=``).

        Releases before the per-table default started every mapping at ``TRIM_HORIZON``. AWS
        CloudFormation ``AWS::Lambda::EventSourceMapping``: ``StartingPosition`` requires replacement,
        so on a stack deployed by such a release the new default replaces the mapping of an existing
        table (the new one starts at the stream's tip; records the old one had not processed yet are
        not dispatched). Passing the position explicitly keeps the mapping and silences the warning.
        """
        if given is not None:
            return given
        if not self.owns_table:
            cdk.Annotations.of(scope).add_warning_v2(
                "transflow:streamStartingPositionDefault",
                "table= without stream_starting_position: the stream mapping starts at LATEST (earlier releases "
                "used TRIM_HORIZON). StartingPosition cannot change in place, so on a stack deployed by an earlier "
                "release this deploy REPLACES the mapping; records the old mapping had not dispatched yet are then "
                "not dispatched. Pass stream_starting_position=StartingPosition.TRIM_HORIZON to keep the deployed "
                "mapping, or StartingPosition.LATEST to accept the default; either silences this warning.",
            )
        return self.default_starting_position

    # ---- what functions may do with the table ----------------------------------------------------
    def read_statements(self) -> list[iam.PolicyStatement]:
        """Item reads and the user index (the status function)."""
        return [
            iam.PolicyStatement(
                sid="ReadItems",
                actions=["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                resources=[self.table_arn],
            ),
            iam.PolicyStatement(sid="ListByUser", actions=["dynamodb:Query"], resources=[self.index_arn]),
            *key_statements("TableKey", self.encryption_key, ["kms:Decrypt"]),
        ]

    def delivery_statements(self) -> list[iam.PolicyStatement]:
        """Read an item and record its delivery (the webhook function)."""
        return [
            iam.PolicyStatement(
                sid="ReadAndRecordDelivery",
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[self.table_arn],
            ),
            *key_statements("TableKey", self.encryption_key, ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]),
        ]

    def stream_statements(self) -> list[iam.PolicyStatement]:
        """Read the table's stream (the dispatcher's event source mapping). ``dynamodb:ListStreams``, which
        IAM evaluates against no resource, is granted on ``*`` separately (``WebhookPipeline``)."""
        return [
            iam.PolicyStatement(
                sid="ReadTableStream",
                actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                resources=[self.stream_arn],
            ),
            *key_statements("TableKey", self.encryption_key, ["kms:Decrypt"]),
        ]

    # ---- grants for the user's principals --------------------------------------------------------
    def grant(self, grantee: iam.IGrantable, item_actions: list[str], key_actions: list[str]) -> iam.Grant:
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=item_actions, resource_arns=[self.table_arn])
        grant = grant.combine(
            iam.Grant.add_to_principal(grantee=grantee, actions=["dynamodb:Query"], resource_arns=[self.index_arn])
        )
        key = self.encryption_key
        if key is not None:
            grant = grant.combine(
                iam.Grant.add_to_principal(grantee=grantee, actions=key_actions, resource_arns=[key.key_arn])
            )
        return grant
