"""Exceptions the runtime raises; each names the assembly and the problem."""

from __future__ import annotations

from typing import Any


class TransflowError(Exception):
    """Base class for every error this library raises on purpose."""


class StoreError(TransflowError):
    """DynamoDB refused or failed a call for a reason other than the ones below."""


class AssemblyNotFoundError(StoreError, LookupError):
    def __init__(self, assembly_id: str) -> None:
        super().__init__(f"assembly {assembly_id!r} does not exist")
        self.assembly_id = assembly_id


class AssemblyConflictError(StoreError):
    """The id already belongs to another user or template; nothing was written."""

    def __init__(self, assembly_id: str, *, existing_user: str, existing_template: str) -> None:
        super().__init__(
            f"assembly {assembly_id!r} already exists for another user or template "
            f"(template {existing_template!r}); refusing to overwrite it"
        )
        self.assembly_id = assembly_id
        self.existing_user = existing_user
        self.existing_template = existing_template


class AssemblyTerminalError(StoreError):
    """The assembly already finished; terminal states are final and nothing was written."""

    def __init__(self, assembly_id: str, state: str, item: dict[str, Any] | None = None) -> None:
        super().__init__(f"assembly {assembly_id!r} is already {state}; terminal states are final")
        self.assembly_id = assembly_id
        self.state = state
        self.item = item


class ItemTooLargeError(StoreError):
    """The write would push the item past DynamoDB's 400 KB item limit."""

    def __init__(self, assembly_id: str, detail: str = "") -> None:
        super().__init__(
            f"assembly {assembly_id!r} would exceed DynamoDB's 400 KB item size limit"
            + (f": {detail}" if detail else "")
            + "; store large result metadata elsewhere (e.g. S3) and keep a reference"
        )
        self.assembly_id = assembly_id


class StatusValueError(TransflowError, ValueError):
    """A value the store refuses to write (wrong type, out of range, not JSON); nothing was written."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}; nothing was written")
        self.field = field
