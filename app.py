#!/usr/bin/env python3
"""Example CDK app: one stack composing TransflowStatus.

Settings come from cdk.json context (override with ``cdk synth -c key=value``).
"""

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from transflow_constructs import TransflowStatus


class ExampleStack(cdk.Stack):
    def __init__(self, scope: cdk.App, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        status = TransflowStatus(self, "Status")
        cdk.CfnOutput(self, "TableName", value=status.table.table_name)


app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
ExampleStack(app, "TransflowExample")
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
