"""Secrets Manager GetSecretValue for the light client (JSON protocol 1.1)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from . import endpoints
from .protocol import Protocol, ServiceClient

MODELED_ERRORS = frozenset({
    "DecryptionFailure", "EncryptionFailure", "InternalServiceError", "InvalidNextTokenException",
    "InvalidParameterException", "InvalidRequestException", "LimitExceededException",
    "MalformedPolicyDocumentException", "PreconditionNotMetException", "PublicPolicyException",
    "ResourceExistsException", "ResourceNotFoundException",
})
PROTOCOL = Protocol(endpoints.SECRETS_MANAGER, "secretsmanager", "1.1", {name: name for name in MODELED_ERRORS})


class SecretsManagerClient(ServiceClient):
    """``get_secret_value`` of boto3's ``client("secretsmanager")``: ``SecretBinary`` as bytes,
    ``CreatedDate`` as an aware datetime."""

    PROTOCOL = PROTOCOL

    def get_secret_value(self, **params: Any) -> dict[str, Any]:
        out = self._client.call("GetSecretValue", params)
        if isinstance(out.get("SecretBinary"), str):
            out["SecretBinary"] = base64.b64decode(out["SecretBinary"])
        if isinstance(out.get("CreatedDate"), (int, float)):
            out["CreatedDate"] = datetime.fromtimestamp(out["CreatedDate"], UTC)
        return out
