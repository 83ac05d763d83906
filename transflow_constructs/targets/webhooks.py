"""``WebhookTarget``: one receiver URL and the secret its webhooks are signed with."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook receiver.

    :param url: ``https://`` URL the assembly status is POSTed to. Plain ``http`` is refused:
        the body carries the user's job data and the signature alone does not hide it.
    :param secret: the Secrets Manager secret whose ``SecretString`` is the signing key
        (``whsec_<base64>`` or any string, see the webhooks section of the README). Only its ARN
        reaches the Lambda environment; the webhook function may read this secret and no other.
    """

    url: str
    secret: secretsmanager.ISecret

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url:
            raise ValueError("WebhookTarget url must be a non-empty https:// URL")
        if cdk.Token.is_unresolved(self.url):
            return  # a deploy-time value (e.g. a parameter) cannot be checked at synth time
        parts = urlsplit(self.url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"WebhookTarget url must be an https:// URL with a host, got {self.url!r}")
        if parts.username or parts.password:
            raise ValueError("WebhookTarget url must not embed credentials; sign with the secret instead")
        if self.secret is None:
            raise ValueError("WebhookTarget secret is required (a secretsmanager.ISecret)")
