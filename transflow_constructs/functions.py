"""One Lambda function of the service: its own role, log group and least-privilege policy.

Every function gets

* an explicit ``logs.LogGroup`` with finite retention (no ``log_retention=`` custom resource), and
  permission to write to that log group only;
* its own IAM role with no managed policies: the statements passed in are written per action and
  resource into one inline policy, so a reviewer reads exactly what each function may do;
* the shared asset, with its own handler string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct


@dataclass(frozen=True)
class FunctionSettings:
    """Settings shared by every function of one ``TransflowStatus``."""

    code: lambda_.Code
    runtime: lambda_.Runtime
    architecture: lambda_.Architecture
    memory_size: int
    tracing: lambda_.Tracing
    log_retention: logs.RetentionDays
    log_removal_policy: cdk.RemovalPolicy


class TransflowFunction(Construct):
    """A function with its role, log group and inline policy."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: FunctionSettings,
        handler: str,
        description: str,
        timeout: cdk.Duration,
        environment: Mapping[str, str],
        statements: Sequence[iam.PolicyStatement] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=settings.log_retention,
            removal_policy=settings.log_removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of the Transflow {construct_id} function",
        )
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                *statements,
            ],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            code=settings.code,
            handler=handler,
            runtime=settings.runtime,
            architecture=settings.architecture,
            memory_size=settings.memory_size,
            timeout=timeout,
            description=description,
            environment=dict(environment),
            log_group=self.log_group,
            role=self.role,
        )
        # The function must not start before it may write its logs and reach its resources.
        self.function.node.add_dependency(self.policy)
        self.tracing_policy: iam.Policy | None = None
        if settings.tracing != lambda_.Tracing.DISABLED:
            self._enable_tracing(settings.tracing)

    def _enable_tracing(self, tracing: lambda_.Tracing) -> None:
        """Tracing with its X-Ray statement in a policy of its own.

        ``lambda_.Function(tracing=...)`` would put the statement into the role's DefaultPolicy,
        where an acknowledgment of its ``Resource: *`` would also hide anything a user adds there
        later. Here the acknowledgment covers a policy that holds that one statement only.
        """
        self.tracing_policy = iam.Policy(
            self,
            "TracingPolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="WriteTraces",
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    resources=["*"],
                )
            ],
        )
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(
            mode="Active" if tracing == lambda_.Tracing.ACTIVE else "PassThrough"
        )
        self.function.node.add_dependency(self.tracing_policy)
        cdk.Validations.of(self.tracing_policy).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "Lambda tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support "
                    "resource-level permissions, so IAM only accepts Resource '*' for them (as in AWS's "
                    "AWSXRayDaemonWriteAccess). This policy holds that one statement; every other statement of "
                    "the role names its resources."
                ),
            )
        )
