"""AssemblyStatus: the seed's schema, unknown fields kept, ok only ever terminal."""

from __future__ import annotations

from decimal import Decimal

import pydantic
import pytest
from transflow_runtime import AssemblyStatus, Result, Upload

SEED_FIELDS = {
    "assembly_id", "ok", "error", "message", "uploads", "results", "bytes_expected", "bytes_received",
    "bytes_usage", "execution_duration", "execution_start", "last_job_completed", "template_id", "branch",
    "user", "created_at", "updated_at",
}
SEED_UPLOAD_FIELDS = {"id", "name", "basename", "ext", "size", "mime", "field", "md5hash", "meta"}
SEED_RESULT_FIELDS = {"id", "name", "basename", "ext", "size", "mime", "field", "original_id", "ssl_url", "meta"}
EXTRA_FIELDS = {"steps_total", "steps_completed", "current_step_name", "progress_pct", "warnings", "ttl",
                "notify_status", "notify_response_code", "notify_error", "notify_duration", "notify_delivered_at"}


def minimal(**overrides):
    base = {
        "assembly_id": "a" * 64,
        "template_id": "tpl",
        "user": {"userId": "u1"},
        "created_at": "2026-11-30T00:00:00.000Z",
        "updated_at": "2026-11-30T00:00:00.000Z",
    }
    base.update(overrides)
    return base


def test_model_has_every_field_of_the_seed_interface_plus_progress_and_notify_fields():
    assert set(AssemblyStatus.model_fields) >= SEED_FIELDS | EXTRA_FIELDS
    assert set(Upload.model_fields) >= SEED_UPLOAD_FIELDS
    assert set(Result.model_fields) >= SEED_RESULT_FIELDS


def test_unknown_fields_survive_a_round_trip():
    item = minimal(custom_field={"nested": [1, 2]}, uploads=[{"id": "u", "name": "a.wav", "vendor_x": 1}])
    status = AssemblyStatus.model_validate(item)
    dumped = status.model_dump(exclude_none=True)
    assert dumped["custom_field"] == {"nested": [1, 2]}
    assert dumped["uploads"][0]["vendor_x"] == 1


@pytest.mark.parametrize("value", ["ASSEMBLY_EXECUTING", "ASSEMBLY_UPLOADING", "yes", "true"])
def test_ok_refuses_non_terminal_values(value):
    with pytest.raises(pydantic.ValidationError):
        AssemblyStatus.model_validate(minimal(ok=value))


@pytest.mark.parametrize("value", ["ASSEMBLY_COMPLETED", "ASSEMBLY_CANCELED"])
def test_ok_accepts_terminal_values(value):
    assert AssemblyStatus.model_validate(minimal(ok=value)).is_terminal


def test_dynamodb_decimals_validate_into_numbers():
    status = AssemblyStatus.model_validate(minimal(bytes_expected=Decimal("12"), execution_duration=Decimal("1.5")))
    assert status.bytes_expected == 12 and isinstance(status.bytes_expected, int)
    assert status.execution_duration == 1.5


def test_upload_derives_basename_and_ext_from_name():
    upload = Upload(id="1", name="track.final.mp3")
    assert (upload.basename, upload.ext) == ("track.final", "mp3")
    assert (Upload(id="2", name="README").basename, Upload(id="2", name="README").ext) == ("README", "")


def test_wire_bytes_of_a_model_omit_unset_optional_fields():
    wire = AssemblyStatus.model_validate(minimal(execution_duration=Decimal("2.0"))).to_wire()
    assert b'"ok"' not in wire and b'"error"' not in wire
    assert b'"execution_duration":2,' in wire
