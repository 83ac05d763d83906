"""transflow_runtime: the code that runs in TransflowStatus's Lambdas and in your workers.

Exports are resolved lazily (PEP 562) so that importing a handler module does not import
pydantic, PyJWT or anything else it does not use: Lambda cold starts pay for every import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "assembly_id": "ids",
    "assembly_id_for_files": "ids",
    "md5_of_bytes": "ids",
    "md5_of_file": "ids",
    "AssemblyStatus": "models",
    "Upload": "models",
    "Result": "models",
    "StatusStore": "store",
    "status_to_wire": "serialize",
    "js_dumps": "serialize",
    "TransflowError": "errors",
    "StoreError": "errors",
    "AssemblyNotFoundError": "errors",
    "AssemblyConflictError": "errors",
    "AssemblyTerminalError": "errors",
    "ItemTooLargeError": "errors",
    "StatusValueError": "errors",
    "verify_webhook": "webhooks",
    "sign_webhook": "webhooks",
    "WebhookVerificationError": "webhooks",
    "StatusClient": "clients",
    "StatusLambdaClient": "clients",
    "StatusResult": "clients",
    "StatusClientError": "clients",
    "AuthenticationError": "clients",
    "AccessDeniedError": "clients",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'transflow_runtime' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from .errors import (  # noqa: F401
        AssemblyConflictError,
        AssemblyNotFoundError,
        AssemblyTerminalError,
        ItemTooLargeError,
        StatusValueError,
        StoreError,
        TransflowError,
    )
    from .ids import assembly_id, assembly_id_for_files, md5_of_bytes, md5_of_file  # noqa: F401
    from .models import AssemblyStatus, Result, Upload  # noqa: F401
    from .serialize import js_dumps, status_to_wire  # noqa: F401
    from .store import StatusStore  # noqa: F401
