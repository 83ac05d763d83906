#!/usr/bin/env python3
"""Example: a template whose settings are CloudFormation parameters, for deployment without CDK.

Some teams take the synthesized template itself (a Service Catalog product, StackSets, a pipeline
that only runs ``aws cloudformation deploy``). This stack reads its settings from parameters, so
one template serves every deployment:

* ``OidcIssuer`` - the issuer URL of your OpenID Connect provider (the tokens' ``iss``)
* ``OidcAudience`` - accepted audiences, comma-separated
* ``WebhookUrl`` - the https URL that receives the ``tpl_basic_audio`` template's webhooks

It uses ``CliCredentialsStackSynthesizer``: no bootstrap version check and no CDK roles, the Lambda
asset goes to the bucket named by ``-c transflow:assetsBucket=...`` (default: CDK's bootstrap bucket
name for the account and Region). The README's "Deploying the template without CDK" section shows
how to publish the asset and deploy with the AWS CLI alone.

    cdk synth --app ".venv/bin/python examples/parameters_app.py" --output cdk.out.params
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transflow_constructs import StatusAuth, TransflowStatus, WebhookTarget

STACK_NAME = "TransflowParameters"
DEFAULT_ASSETS_BUCKET = "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"


class ParametersStack(cdk.Stack):
    """TransflowStatus with OIDC auth and one webhook target, every setting a CloudFormation parameter."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)
        issuer = cdk.CfnParameter(
            self,
            "OidcIssuer",
            type="String",
            description="Issuer URL of the OpenID Connect provider, exactly as in the tokens' iss claim",
            allowed_pattern=r"^https://.+",
            constraint_description="an https:// URL",
        )
        audience = cdk.CfnParameter(
            self,
            "OidcAudience",
            type="CommaDelimitedList",
            description="Accepted audiences (client ids), comma-separated",
        )
        webhook_url = cdk.CfnParameter(
            self,
            "WebhookUrl",
            type="String",
            description="https URL that receives the tpl_basic_audio template's webhooks",
            allowed_pattern=r"^https://[^/@\s]+(/.*)?$",
            constraint_description="an https:// URL without credentials",
        )
        webhook_secret = secretsmanager.Secret(
            self,
            "WebhookSigningSecret",
            description="Transflow webhook signing key (shared with the webhook receiver)",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=48, exclude_punctuation=True),
        )
        # checkov reads suppressions from the resource's Metadata.
        webhook_secret.node.default_child.add_metadata(  # type: ignore[union-attr]
            "checkov",
            {
                "skip": [
                    {
                        "id": "CKV_AWS_149",
                        "comment": "Encrypted with Secrets Manager's AWS-managed key; the receiver holds the value "
                        "anyway. Give encryption_key= for a customer-managed key.",
                    }
                ]
            },
        )
        cdk.Validations.of(webhook_secret).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SMG4",
                reason=(
                    "Webhook signing key shared with an external receiver: automatic rotation would change it "
                    "without the receiver knowing. Rotated by hand, together with the receiver (README)."
                ),
            )
        )
        self.status = TransflowStatus(
            self,
            "Status",
            auth=StatusAuth.oidc(issuer=issuer.value_as_string, audience=audience.value_as_list),
            webhooks={"tpl_basic_audio": WebhookTarget(url=webhook_url.value_as_string, secret=webhook_secret)},
        )
        cdk.CfnOutput(self, "WebhookSecretArn", value=webhook_secret.secret_arn)


def synthesizer(scope: Construct) -> cdk.CliCredentialsStackSynthesizer:
    bucket = scope.node.try_get_context("transflow:assetsBucket") or DEFAULT_ASSETS_BUCKET
    return cdk.CliCredentialsStackSynthesizer(file_assets_bucket_name=str(bucket), bucket_prefix="transflow/")


def main() -> None:
    app = cdk.App(outdir=os.environ.get("CDK_OUTDIR"))
    ParametersStack(app, STACK_NAME, synthesizer=synthesizer(app))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
