"""``transflow-status watch``: its progress line and its exit code follow terminal.py."""

from __future__ import annotations

import pytest
from transflow_runtime import cli
from transflow_runtime.models import AssemblyStatus

BASE = {"assembly_id": "a" * 64, "template_id": "tpl", "user": {"userId": "u"},
        "created_at": "2026-01-01T00:00:00.000Z", "updated_at": "2026-01-01T00:00:00.000Z"}


@pytest.mark.parametrize(
    ("fields", "phase"),
    [({"state": "ASSEMBLY_QUEUED"}, "queued"), ({"state": "ASSEMBLY_EXECUTING"}, "executing"),
     ({}, "executing"),  # a seed-style item without state is running until ok or error says otherwise
     ({"ok": "ASSEMBLY_COMPLETED"}, "completed"), ({"error": "E"}, "failed"),
     ({"error": "ASSEMBLY_CANCELED"}, "canceled"), ({"state": "ASSEMBLY_FAILED", "error": "E"}, "failed")],
)
def test_the_progress_line_names_the_phase_by_either_convention(fields, phase):
    line = cli.render_progress(AssemblyStatus.model_validate({**BASE, **fields}))
    assert line.split()[2] == phase, line


class _Client:
    final: AssemblyStatus

    def __init__(self, *_args, **_kwargs) -> None:
        pass

    def wait(self, *_args, **_kwargs) -> AssemblyStatus:
        return self.final


@pytest.mark.parametrize(
    ("fields", "code", "word"),
    [({"ok": "ASSEMBLY_COMPLETED"}, cli.EXIT_OK, "Completed"),
     ({"error": "PROCESSING_ERROR"}, cli.EXIT_FAILED, "Failed"),
     ({"error": "ASSEMBLY_CANCELED"}, cli.EXIT_CANCELED, "Canceled"),
     ({"ok": "ASSEMBLY_CANCELED"}, cli.EXIT_CANCELED, "Canceled")],
)
def test_watch_exits_by_the_terminal_event_of_a_seed_style_item(monkeypatch, capsys, fields, code, word):
    from transflow_runtime import clients

    _Client.final = AssemblyStatus.model_validate({**BASE, **fields})
    monkeypatch.setattr(clients, "StatusClient", _Client)
    assert cli.main(["watch", "a" * 64, "--api", "http://127.0.0.1:9", "--token", "t"]) == code
    assert word in capsys.readouterr().out
