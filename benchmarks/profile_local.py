"""Where local mode's CPU goes under polling: a CPU breakdown of ``LocalStack`` per poll.

Runs ``LocalStack`` in this process while a separate process runs the same 20 keep-alive
pollers as ``local_polls.py``, and measures, with ``time.thread_time`` (CPU of the calling thread,
so waiting for the GIL or for a socket is not counted), four parts of the work:

* the gateway's whole request (HTTP parsing, event building, response writing, and the two below);
* the shared-secret authorizer handler (PyJWT HS256 verification);
* the status handler (including the boto3 client's side of its GetItem);
* the embedded moto server's handling of each AWS request (Flask/werkzeug + moto), counting the
  background pumps' polls of the stream and the queue separately.

Light wrappers only (four function calls per request), so the figures are close to the
unprofiled run. ``--cprofile FILE`` additionally writes a per-thread cProfile (much slower) for
reading with ``pstats``.

    .venv/bin/python benchmarks/profile_local.py [--seconds 4]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import PYTHON, ROOT, child_env, fake_aws_environ

JWT_SECRET = "bench-local-secret-0123456789abcdef"  # noqa: S105 - a throwaway local secret
USER = "user-bench"

_POLLER = """
import json, sys
sys.path.insert(0, {bench!r})
from local_polls import poll
info, assembly, token, pollers, seconds = json.loads(sys.stdin.read())
print(json.dumps(poll(info, assembly, token, pollers, seconds, warmup=0.3)))
"""


class _Meter:
    """Thread-CPU seconds and call counts of wrapped callables, by label."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.enabled = False
        self._lock = threading.Lock()

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.enabled:
                    spent = time.thread_time() - started
                    with self._lock:
                        self.cpu[label] = self.cpu.get(label, 0.0) + spent
                        self.calls[label] = self.calls.get(label, 0) + 1

        return wrapper


def measure(seconds: float = 4.0, pollers: int = 20, cprofile: str | None = None) -> dict[str, Any]:
    fake_aws_environ()
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from transflow_runtime import StatusStore, assembly_id
    from transflow_runtime.auth import mint_token
    from transflow_runtime.local import functions as functions_module
    from transflow_runtime.local import gateway as gateway_module
    from transflow_runtime.local.runner import LocalStack
    from transflow_runtime.local.settings import LocalSettings

    meter = _Meter()
    patched = [
        (gateway_module._RequestHandler, "_dispatch", "gateway_request"),
        (DomainDispatcherApplication, "__call__", "moto_request"),
        # the functions run in their own processes: this is local mode's side of each invocation
        (functions_module.FunctionRuntime, "invoke", "status_handler"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    for owner, name, label in patched:
        setattr(owner, name, meter.wrap(label, getattr(owner, name)))
    profiles: list[cProfile.Profile] = []

    def start_profile(*_args: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        sys.setprofile(None)
        profile.enable()

    saved_stdout = sys.stdout
    try:
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
            settings = LocalSettings(port=0, jwt_secret=JWT_SECRET, ready_file=str(Path(tmp, "ready.json")))
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the handlers' EMF lines; closed below
            stack = LocalStack(settings).start()
            try:
                gw = stack.gateway
                assert gw is not None
                info = stack.info
                import boto3

                client = boto3.client("dynamodb", endpoint_url=info["aws_endpoint_url"], region_name=info["region"],
                                      aws_access_key_id=info["aws_access_key_id"],
                                      aws_secret_access_key=info["aws_secret_access_key"])
                store = StatusStore(info["table_name"], client=client)
                assembly = assembly_id("b" * 32, "tpl_bench", USER)
                store.create(assembly, user_id=USER, template_id="tpl_bench", steps_total=2)
                token = mint_token(JWT_SECRET, USER, ttl=3600)
                payload = json.dumps([info, assembly, token, pollers, seconds])
                if cprofile:
                    threading.setprofile(start_profile)
                process_cpu0, wall0 = time.process_time(), time.perf_counter()
                meter.enabled = True
                out = subprocess.run(
                    [PYTHON, "-c", _POLLER.format(bench=str(ROOT / "benchmarks"))], input=payload,
                    capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=seconds + 120, check=False,
                )
                meter.enabled = False
                process_cpu, wall = time.process_time() - process_cpu0, time.perf_counter() - wall0
                threading.setprofile(None)
                if out.returncode != 0:
                    raise RuntimeError(f"pollers failed: {out.stderr[-2000:]}")
                polled = json.loads(out.stdout.strip().splitlines()[-1])
            finally:
                threading.setprofile(None)
                stack.stop()
    finally:
        if sys.stdout is not saved_stdout:
            sys.stdout.close()
            sys.stdout = saved_stdout
        for owner, name, original in originals:
            setattr(owner, name, original)
    if cprofile and profiles:
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        stats.dump_stats(cprofile)
    polls = max(1, meter.calls.get("status_handler", 0))
    per_poll = {label: round(1000 * cpu / polls, 3) for label, cpu in meter.cpu.items()}
    moto_calls = meter.calls.get("moto_request", 0)
    moto_per_call = meter.cpu.get("moto_request", 0.0) / max(1, moto_calls)
    gateway_other = per_poll.get("gateway_request", 0) - per_poll.get("status_handler", 0) - per_poll.get(
        "authorizer_handler", 0)
    breakdown = {
        "moto_for_the_polls_getitem": round(1000 * moto_per_call, 3),
        "moto_for_background_pumps": round(1000 * moto_per_call * max(0, moto_calls - polls) / polls, 3),
        "status_handler_incl_boto3_client": per_poll.get("status_handler", 0),
        "authorizer_handler": per_poll.get("authorizer_handler", 0),
        "gateway_http_and_event": round(gateway_other, 3),
    }
    measured = sum(breakdown.values())
    process_per_poll = 1000 * process_cpu / polls
    breakdown["everything_else_in_process"] = round(process_per_poll - measured, 3)
    total = sum(breakdown.values())
    return {
        "polls": polls,
        "polls_per_second": round(polls / wall, 1),
        "poller_reported_polls_per_second": polled["polls_per_second"],
        "process_cpu_share": round(process_cpu / wall, 2),
        "cpu_ms_per_poll": round(process_per_poll, 3),
        "cpu_ms_per_poll_by_part": breakdown,
        "cpu_share_by_part_pct": {k: round(100 * v / total, 1) for k, v in breakdown.items()} if total else {},
        "moto_requests": moto_calls,
        "note": "time.thread_time around each part; 'everything_else' is the rest of the process's CPU "
                "(thread switching, socket accept, the pumps' client side, garbage collection)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--pollers", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cprofile", default=None, metavar="FILE", help="also write a per-thread cProfile here")
    args = parser.parse_args()
    result = measure(args.seconds, args.pollers, cprofile=args.cprofile)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['polls']} polls, {result['polls_per_second']} polls/s, process CPU share "
          f"{result['process_cpu_share']}, {result['cpu_ms_per_poll']} ms CPU per poll")
    for label, ms in result["cpu_ms_per_poll_by_part"].items():
        print(f"  {label:36s} {ms:7.3f} ms/poll  {result['cpu_share_by_part_pct'].get(label, 0):5.1f} %")


if __name__ == "__main__":
    main()
