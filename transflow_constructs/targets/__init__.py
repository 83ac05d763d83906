"""Where ``TransflowStatus`` sends things: webhook targets."""

from .webhooks import WebhookTarget

__all__ = ["WebhookTarget"]
