#!/usr/bin/env python3
"""A user's own CDK app in the shapes local mode meets in the wild (one stack each):

* ``MixedApp``: an explicit environment (account and region named literally in the template), the
  user's own bucket, topic, queue, table and a Lambda consuming the queue, a ``TransflowStatus``
  on a user's ``TableV2`` (``AWS::DynamoDB::GlobalTable``) and a second ``TransflowStatus``; plus an
  extra policy on the status function's role that denies ``dynamodb:GetItem`` but whose
  CloudFormation Condition is false (so it does not exist);
* ``NestedApp``: the ``TransflowStatus`` inside a ``NestedStack``;
* ``ImportedApp``: the ``TransflowStatus`` on an imported table (``Table.from_table_attributes``).
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

ACCOUNT = "111122223333"
REGION = "eu-west-1"
TARGET = "tpl_user"
IMPORTED_TABLE = "existing-status-table"
IMPORTED_STREAM = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{IMPORTED_TABLE}/stream/2024-01-01T00:00:00.000"


def status(scope, construct_id: str, **options) -> TransflowStatus:
    return TransflowStatus(
        scope,
        construct_id,
        auth=StatusAuth.shared_secret(secretsmanager.Secret(scope, construct_id + "Jwt")),
        webhooks={TARGET: WebhookTarget(url="https://hooks.example.com/user", secret=secretsmanager.Secret(
            scope, construct_id + "Hook"))},
        **options,
    )


def mixed(app: cdk.App) -> None:
    stack = cdk.Stack(app, "MixedApp", env=cdk.Environment(account=ACCOUNT, region=REGION))
    bucket = s3.Bucket(stack, "Uploads")
    topic = sns.Topic(stack, "Notifications")
    jobs = sqs.Queue(stack, "Jobs")
    other = dynamodb.Table(stack, "OtherTable", partition_key=dynamodb.Attribute(
        name="pk", type=dynamodb.AttributeType.STRING))
    worker = lambda_.Function(stack, "Worker", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                              code=lambda_.Code.from_inline("def handler(event, context):\n    return 'ok'\n"))
    worker.add_event_source(sources.SqsEventSource(jobs))
    bucket.grant_read(worker)
    topic.grant_publish(worker)
    other.grant_read_write_data(worker)
    table = dynamodb.TableV2(
        stack, "StatusTableV2",
        partition_key=dynamodb.Attribute(name="assembly_id", type=dynamodb.AttributeType.STRING),
        dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        time_to_live_attribute="ttl",
        global_secondary_indexes=[dynamodb.GlobalSecondaryIndexPropsV2(
            index_name="by-user-created",
            partition_key=dynamodb.Attribute(name="user_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING))],
    )
    main = status(stack, "Status", table=table)
    status(stack, "Second")
    main.grant_status_write(worker.role)
    never = cdk.CfnCondition(stack, "NeverTrue", expression=cdk.Fn.condition_equals("a", "b"))
    denied = iam.CfnPolicy(stack, "ConditionalDeny", policy_name="conditional-deny",
                           roles=[main.status_function.role.role_name],
                           policy_document={"Version": "2012-10-17", "Statement": [
                               {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "*"}]})
    denied.cfn_options.condition = never


def nested(app: cdk.App) -> None:
    stack = cdk.Stack(app, "NestedApp")
    status(cdk.NestedStack(stack, "Inner"), "Status")


def imported(app: cdk.App) -> None:
    stack = cdk.Stack(app, "ImportedApp")
    table = dynamodb.Table.from_table_attributes(stack, "Imported", table_name=IMPORTED_TABLE,
                                                 table_stream_arn=IMPORTED_STREAM)
    status(stack, "Status", table=table)


def main() -> None:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
    mixed(app)
    nested(app)
    imported(app)
    app.synth()


if __name__ == "__main__":
    main()
