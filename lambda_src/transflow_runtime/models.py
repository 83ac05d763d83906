"""The status document: the seed's ``AssemblyStatus`` interface as pydantic models.

Workers (``StatusStore``'s typed calls), receivers (``verify_webhook``) and the clients import this
module; no Lambda handler does (pydantic costs tens of milliseconds of a cold start), so
``store.py`` imports it on first use.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .schema import INTERNAL_ATTRIBUTES, OK_CANCELED, OK_COMPLETED
from .terminal import terminal_event


class _Document(BaseModel):
    # Items written by other tools keep their extra attributes through a round trip.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _split_name(name: str) -> tuple[str, str]:
    base, dot, ext = name.rpartition(".")
    if not dot or not base:
        return name, ""
    return base, ext


class Upload(_Document):
    """One input file, as the seed's ``uploads[]`` entry."""

    id: str
    name: str
    basename: str = ""
    ext: str = ""
    size: int = Field(default=0, ge=0)
    mime: str = "application/octet-stream"
    field: str = "file"
    md5hash: str = ""
    meta: dict[str, Any] | None = None

    def model_post_init(self, __context: Any) -> None:
        if not self.basename and not self.ext:
            self.basename, self.ext = _split_name(self.name)


class Result(_Document):
    """One output file of a step, as the seed's ``results[step][]`` entry."""

    id: str
    name: str
    basename: str = ""
    ext: str = ""
    size: int = Field(default=0, ge=0)
    mime: str = "application/octet-stream"
    field: str = "file"
    original_id: str = ""
    ssl_url: str = ""
    meta: dict[str, Any] | None = None

    def model_post_init(self, __context: Any) -> None:
        if not self.basename and not self.ext:
            self.basename, self.ext = _split_name(self.name)


class User(_Document):
    userId: str


class AssemblyStatus(_Document):
    """A job's full status: every field of the seed's interface plus progress and notify fields.

    ``ok`` only ever holds a terminal value (``ASSEMBLY_COMPLETED`` or ``ASSEMBLY_CANCELED``):
    seed clients stop polling on any truthy ``ok``, so progress lives in ``state``, ``message``
    and the ``steps_*``/``progress_pct``/``bytes_*`` fields.
    """

    assembly_id: str
    ok: Literal["ASSEMBLY_COMPLETED", "ASSEMBLY_CANCELED"] | None = None
    error: str | None = None
    message: str = ""
    #: This project's lifecycle field; ``None`` for items a seed-style writer made without it.
    state: str | None = None

    uploads: list[Upload] = Field(default_factory=list)
    results: dict[str, list[Result]] = Field(default_factory=dict)

    bytes_expected: int = 0
    bytes_received: int = 0
    bytes_usage: int = 0
    execution_duration: float = 0
    execution_start: str = ""
    last_job_completed: str | None = None

    template_id: str
    branch: str = ""
    user: User
    created_at: str
    updated_at: str

    # Progress (not in the seed, all optional)
    steps_total: int | None = None
    steps_completed: int | None = None
    current_step_name: str | None = None
    progress_pct: float | None = None
    warnings: list[str] | None = None
    ttl: int | None = None
    version: int | None = None

    # Notification bookkeeping, in Transloadit's names
    notify_url: str | None = None
    notify_status: str | None = None
    notify_response_code: int | None = None
    notify_error: str | None = None
    notify_duration: float | None = None
    notify_attempts: int | None = None
    notify_delivered_at: str | None = None
    notify_event_id: str | None = None

    @field_validator("ok")
    @classmethod
    def _ok_is_terminal(cls, value: str | None) -> str | None:
        if value not in (None, OK_COMPLETED, OK_CANCELED):  # pragma: no cover - Literal already guards
            raise ValueError("ok must be ASSEMBLY_COMPLETED or ASSEMBLY_CANCELED")
        return value

    @property
    def user_id(self) -> str:
        return self.user.userId

    @property
    def terminal_event(self) -> str | None:
        """``completed`` / ``failed`` / ``canceled`` once finished, else ``None`` (``terminal.py``)."""
        return terminal_event({"state": self.state, "ok": self.ok, "error": self.error})

    @property
    def is_terminal(self) -> bool:
        return self.terminal_event is not None

    def to_wire(self) -> bytes:
        """The bytes the API returns and webhooks sign (see ``serialize.status_to_wire``)."""
        from .serialize import status_to_wire

        return status_to_wire(self)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> AssemblyStatus:
        """A stored item (or the API's JSON of one) as a status, robust to what other writers stored.

        The store's bookkeeping attributes are left out. An optional field whose stored value does
        not fit the schema (``steps_total: "three"``, a binary value answered as null, ...) is left
        out too, so it reads as its default; the raw value stays available through
        ``StatusStore.get_item``. Only a required field that is missing or unusable (``assembly_id``,
        ``template_id``, ``user.userId``, ``created_at``, ``updated_at``) raises ``ValueError``.
        """
        if not isinstance(item, dict):
            raise ValueError(f"a status is a JSON object, got {type(item).__name__}")
        data = {k: v for k, v in item.items() if k not in INTERNAL_ATTRIBUTES}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")}
            fields = cls.model_fields
            if not bad or any(n not in fields or fields[n].is_required() for n in bad):
                raise
        return cls.model_validate({k: v for k, v in data.items() if k not in bad})
