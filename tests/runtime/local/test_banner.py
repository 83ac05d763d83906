"""What ``transflow-status local`` prints: the export line sets what the SDKs read (boto3 reads
``AWS_DEFAULT_REGION``, the SDK for JavaScript v3 ``AWS_REGION``), a bind other machines can reach
is said so, the notify_url secret and the synthesis time are shown, and the default stack's
synthesis prints nothing of jsii's own (its Node-version box)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from transflow_runtime.cli import _print_banner

INFO = {
    "api_url": "http://127.0.0.1:8787", "aws_endpoint_url": "http://127.0.0.1:8787", "region": "eu-west-1",
    "table_name": "t", "status_function_name": "f", "aws_access_key_id": "AKIAX",
    "aws_secret_access_key": "s/e+c", "stack": "S", "instance": "c8abc", "startup_seconds": 3.2,
    "synth_seconds": None, "unsupported": [], "inbox_url": None, "oidc_issuer": None,
    "notify_url_secret": None, "exposed": False, "host": "127.0.0.1", "remote_tokens": False,
}  # fmt: skip


def _printed(capsys, **changes) -> str:
    _print_banner({**INFO, **changes}, None, [], quiet=False)
    return capsys.readouterr().out


def test_the_export_line_sets_both_region_variables(capsys):
    line = next(t for t in _printed(capsys).splitlines() if t.strip().startswith("export "))
    exported = dict(part.split("=", 1) for part in shlex.split(line.strip())[1:])
    assert exported["AWS_REGION"] == exported["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert exported["AWS_SECRET_ACCESS_KEY"] == "s/e+c"


def test_a_bind_other_machines_can_reach_is_a_warning(capsys):
    assert "WARNING" not in _printed(capsys)
    text = _printed(capsys, exposed=True, host="0.0.0.0")  # noqa: S104 - a value printed, not bound
    warning = next(t for t in text.splitlines() if "WARNING" in t)
    assert "0.0.0.0" in warning and "this machine only" in warning  # noqa: S104
    assert "http://127.0.0.1:8787" in text  # the URL printed works from here


def test_the_notify_url_secret_and_the_synthesis_time_are_shown(capsys):
    text = _printed(capsys, notify_url_secret="whsec_bm90aWZ5", synth_seconds=41.5, startup_seconds=47.0)
    assert "whsec_bm90aWZ5" in text
    assert "47.0 s" in text and "synthesis took 41.5 s" in text


def test_synthesizing_the_default_stack_prints_nothing_of_jsiis_own(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_")}
    code = "from transflow_runtime.local.default_app import _synthesize; _synthesize(['*'])"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "!!" not in done.stderr and "b'" not in done.stderr, done.stderr[:2000]
