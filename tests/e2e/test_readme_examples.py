"""Examples in the README run as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_local_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    marker = "A worker writing to local mode is the same code as in production:"
    block = re.search(re.escape(marker) + r"\s*```python\n(.*?)```", text, re.S)
    assert block, "README lost its local-mode worker snippet"
    return block.group(1)

def test_readme_local_mode_worker_snippet_runs_with_the_printed_exports(tmp_path, default_stack_cached):
    """The snippet, run after the export line local mode prints (here: from its ready file), in an
    environment without any other AWS configuration."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
             "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(tmp_path / "cache"))}
    ready = tmp_path / "ready.json"
    local = subprocess.Popen(
        [sys.executable, "-m", "transflow_runtime.cli", "local", "--port", "0", "--ready-file", str(ready), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert local.poll() is None and time.monotonic() < deadline, "local mode did not start"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        exported = {
            "AWS_ENDPOINT_URL": info["aws_endpoint_url"], "AWS_DEFAULT_REGION": info["region"],
            "AWS_ACCESS_KEY_ID": info["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": info["aws_secret_access_key"],
            "TRANSFLOW_TABLE_NAME": info["table_name"],
        }
        snippet = _readme_local_snippet() + "\nprint(store.get('" + "0" * 64 + "'))\n"
        run = subprocess.run([sys.executable, "-c", snippet], env={**clean, **exported}, capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stderr[-600:]
        assert run.stdout.strip() == "None"
        # and without local mode's credentials nothing gets through
        stranger = {**exported, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
        refused = subprocess.run([sys.executable, "-c", snippet], env={**clean, **stranger}, capture_output=True,
                                 text=True, timeout=60)
        assert refused.returncode != 0 and "UnrecognizedClientException" in refused.stderr
    finally:
        local.terminate()
        try:
            local.wait(timeout=20)
        except subprocess.TimeoutExpired:
            local.kill()
            local.wait()
