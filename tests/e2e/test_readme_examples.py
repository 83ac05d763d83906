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

def test_readme_local_mode_worker_snippet_runs_without_aws_credentials(tmp_path):
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    ready = tmp_path / "ready.json"
    local = subprocess.Popen(
        [sys.executable, "-m", "transflow_runtime.cli", "local", "--port", "0", "--ready-file", str(ready), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert local.poll() is None and time.monotonic() < deadline, "local mode did not start"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        snippet = _readme_local_snippet().replace("http://127.0.0.1:8787", info["api_url"])
        snippet += "\nprint(store.get('" + "0" * 64 + "'))\n"
        run = subprocess.run([sys.executable, "-c", snippet], env=clean, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr[-600:]
        assert run.stdout.strip() == "None"
    finally:
        local.terminate()
        try:
            local.wait(timeout=20)
        except subprocess.TimeoutExpired:
            local.kill()
            local.wait()
