#!/usr/bin/env python3
"""A plain CDK app with the resource types ``app.py`` produces, and no construct logic.

The synth benchmark's reference point: a table with a stream and a GSI, three Python functions
(status, stream dispatcher, webhook) from one tiny inline asset with their log groups, the
webhook queue, its DLQ and a stream-failure queue, the two event source mappings, an HTTP API
with a JWT authorizer, the five routes and an access log group, and a secret, written directly with the L2
constructs. No bundling, no cdk-nag, no validation: whatever ``app.py`` costs beyond this is
the price of ``TransflowStatus`` (and of app.py's cdk-nag pass).

    CDK_OUTDIR=/tmp/out .venv/bin/python benchmarks/plain_app.py
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from transflow_runtime import schema

_CODE = "def handler(event, context):\n    return {'statusCode': 200, 'body': '{}'}\n"
# The route table is a list of names, not construct logic: share it rather than copy it.
ROUTES = schema.ROUTES


class PlainStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)
        table = dynamodb.Table(
            self, "Table",
            partition_key=dynamodb.Attribute(name="assembly_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            time_to_live_attribute="ttl",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        )
        table.add_global_secondary_index(
            index_name="by-user-created",
            partition_key=dynamodb.Attribute(name="user_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
        )
        dlq = sqs.Queue(self, "WebhookDlq", enforce_ssl=True)
        queue = sqs.Queue(self, "WebhookQueue", enforce_ssl=True,
                          dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5))
        stream_failures = sqs.Queue(self, "StreamFailures", enforce_ssl=True)

        def function(name: str) -> lambda_.Function:
            log_group = logs.LogGroup(self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH)
            return lambda_.Function(
                self, name, runtime=lambda_.Runtime.PYTHON_3_13, architecture=lambda_.Architecture.ARM_64,
                handler="index.handler", code=lambda_.Code.from_inline(_CODE), memory_size=256,
                timeout=cdk.Duration.seconds(10), log_group=log_group,
                environment={"TRANSFLOW_TABLE_NAME": table.table_name},
            )

        status = function("Status")
        dispatcher = function("Dispatcher")
        webhook = function("Webhook")
        table.grant_read_data(status)
        table.grant_stream_read(dispatcher)
        queue.grant_send_messages(dispatcher)
        table.grant_read_write_data(webhook)
        dispatcher.add_event_source(sources.DynamoEventSource(
            table, starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=100,
            on_failure=sources.SqsDlq(stream_failures), report_batch_item_failures=True,
            filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("MODIFY")})],
        ))
        webhook.add_event_source(sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True))

        secret = secretsmanager.Secret(self, "WebhookSecret")
        secret.grant_read(webhook)

        api = apigwv2.HttpApi(self, "Api", create_default_stage=True)
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH)
        stage = api.default_stage.node.default_child  # type: ignore[union-attr]
        stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format='{"requestId":"$context.requestId"}'
        )
        authorizer = authorizers.HttpJwtAuthorizer(
            "Jwt", "https://example.auth0.com/", jwt_audience=["transflow-example-client"]
        )
        integration = integrations.HttpLambdaIntegration("Status", status)
        for method, path in ROUTES:
            api.add_routes(path=path, methods=[apigwv2.HttpMethod(method)], integration=integration,
                           authorizer=authorizer)
        cdk.CfnOutput(self, "ApiUrl", value=api.api_endpoint)


def main() -> None:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
    PlainStack(app, "PlainExample")
    app.synth()


if __name__ == "__main__":
    main()
