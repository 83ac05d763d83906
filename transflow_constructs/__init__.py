"""transflow_constructs: the ``TransflowStatus`` AWS CDK construct and its parts."""

from .auth import StatusAuth
from .status import TransflowStatus
from .targets.webhooks import WebhookTarget

__all__ = ["StatusAuth", "TransflowStatus", "WebhookTarget"]
