"""transflow_constructs: the ``TransflowStatus`` AWS CDK construct and its parts."""

from .auth import StatusAuth
from .monitoring import AlarmThresholds, StatusMonitoring
from .status import TransflowStatus
from .targets.webhooks import WebhookTarget

__all__ = ["AlarmThresholds", "StatusAuth", "StatusMonitoring", "TransflowStatus", "WebhookTarget"]
