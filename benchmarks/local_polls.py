"""Local mode under polling: status polls per second with 20 concurrent pollers.

Starts ``transflow-status local`` as its own process (``python -m transflow_runtime.cli local
--port 0 --ready-file F --jwt-secret S``), creates one assembly through its AWS endpoint with
``StatusStore``, then 20 threads poll ``GET /status?assemblyId=`` with a bearer token over
keep-alive connections (``http.client``) for a fixed time. Every answer must be a 200 with the
assembly. Reported: polls per second, latency percentiles, and the CPU both processes used, so
it is clear which side was the bottleneck (the local-mode process is one Python process: its
gateway threads, the authorizer, the status handler and the embedded moto server share one GIL).
Then one poller alone polls for a shorter window: the latency of an unloaded poll.

    .venv/bin/python benchmarks/local_polls.py [--seconds 5] [--pollers 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import PYTHON, ROOT, child_env, fake_aws_environ, percentile

JWT_SECRET = "bench-local-secret-0123456789abcdef"  # noqa: S105 - a throwaway local secret
USER = "user-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def start_local(ready_file: Path, timeout: float = 90.0) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    proc = subprocess.Popen(  # our interpreter, our CLI
        [PYTHON, "-m", "transflow_runtime.cli", "local", "--port", "0", "--ready-file", str(ready_file),
         "--jwt-secret", JWT_SECRET, "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env(), cwd=ROOT,
    )
    deadline = time.monotonic() + timeout
    while not ready_file.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"local mode exited with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            stop_local(proc)
            raise RuntimeError("local mode did not become ready in time")
        time.sleep(0.05)
    return proc, json.loads(ready_file.read_text())


def stop_local(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def poll(info: dict[str, Any], assembly: str, token: str, pollers: int, seconds: float,
         warmup: float = 0.5) -> dict[str, Any]:
    """Run ``pollers`` keep-alive pollers; latencies of the requests that started in the window."""
    host, port = info["api_url"].removeprefix("http://").rsplit(":", 1)
    path = f"/status?assemblyId={assembly}"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    start_at = time.perf_counter() + 0.2
    window = (start_at + warmup, start_at + warmup + seconds)
    latencies: list[list[float]] = [[] for _ in range(pollers)]
    errors: list[str] = []

    def run(slot: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        mine = latencies[slot]
        while time.perf_counter() < start_at:
            time.sleep(0.001)
        try:
            while True:
                started = time.perf_counter()
                if started >= window[1]:
                    break
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200 or assembly.encode() not in body:
                    errors.append(f"{response.status} {body[:200]!r}")
                    break
                if started >= window[0]:
                    mine.append(elapsed)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(pollers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + warmup + 60)
    if errors:
        raise RuntimeError(f"{len(errors)} pollers failed; first: {errors[0]}")
    flat = sorted(x for per in latencies for x in per)
    return {
        "polls": len(flat),
        "seconds": seconds,
        "polls_per_second": round(len(flat) / seconds, 1),
        "latency_ms": {
            "p50": round(percentile(flat, 0.50) * 1000, 2),
            "p90": round(percentile(flat, 0.90) * 1000, 2),
            "p99": round(percentile(flat, 0.99) * 1000, 2),
            "max": round(flat[-1] * 1000, 2) if flat else None,
        },
        "per_poller_polls": sorted(len(per) for per in latencies),
    }


def measure(seconds: float = 5.0, pollers: int = 20) -> dict[str, Any]:
    fake_aws_environ()
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        proc, info = start_local(Path(tmp, "ready.json"))
        try:
            import boto3
            from transflow_runtime import StatusStore, assembly_id
            from transflow_runtime.auth import mint_token

            client = boto3.client("dynamodb", endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
                                  aws_access_key_id=info["aws_access_key_id"],
                                  aws_secret_access_key=info["aws_secret_access_key"])
            store = StatusStore(info["table_name"], client=client)
            assembly = assembly_id("a" * 32, "tpl_bench", USER)
            store.create(assembly, user_id=USER, template_id="tpl_bench", steps_total=2)
            store.progress(assembly, state="ASSEMBLY_EXECUTING", message="Encoding", progress_pct=50)
            token = mint_token(JWT_SECRET, USER, ttl=3600)
            server_cpu0, client_cpu0, wall0 = _cpu_seconds(proc.pid), time.process_time(), time.perf_counter()
            result = poll(info, assembly, token, pollers, seconds)
            wall = time.perf_counter() - wall0
            server_cpu = _cpu_seconds(proc.pid) - server_cpu0
            client_cpu = time.process_time() - client_cpu0
            # One poller alone: the latency a developer sees when nothing else is going on.
            single = poll(info, assembly, token, 1, max(0.5, seconds / 2.5), warmup=0.2)
        finally:
            stop_local(proc)
    result.update({
        "single_poller": {k: single[k] for k in ("polls", "seconds", "polls_per_second", "latency_ms")},
        "pollers": pollers,
        "local_polls_per_second": result["polls_per_second"],
        "cpu_share_during_run": {
            "local_mode_process": round(server_cpu / wall, 2),
            "pollers_process": round(client_cpu / wall, 2),
            "note": "1.0 = one core busy; the local-mode process cannot use much more than one (one GIL)",
        },
    })
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.seconds, args.pollers)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['polls_per_second']} polls/s with {result['pollers']} pollers over {result['seconds']} s; "
          f"latency {result['latency_ms']}; CPU {result['cpu_share_during_run']}")
    one = result["single_poller"]
    print(f"one poller alone: {one['polls_per_second']} polls/s, latency {one['latency_ms']}")


if __name__ == "__main__":
    main()
