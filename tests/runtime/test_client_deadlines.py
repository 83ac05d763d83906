"""StatusClient keeps its word against servers that stall it: real local HTTP servers that answer
503 with a long Retry-After, accept and never answer, or trickle their answer.

``wait(timeout=T)`` raises ``StatusTimeoutError`` once T has passed, never T + Retry-After and
never T + retries x socket timeout: each request's socket timeout is capped by the time left.
No assertion is wall-clock tight: the fake-clock tests count what was slept, and the real-time
ones run ``wait`` in a thread and only require it to finish far below what the old behaviour
needed (hours, or minutes of socket timeouts).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from transflow_runtime import StatusClient, StatusClientError
from transflow_runtime.clients import StatusTimeoutError

from tests.runtime.status_support import aid
from tests.runtime.test_clients import Script, Sleeps, reply, serve, status_doc

ID = aid(1)


def unavailable(retry_after: str = "3600") -> Any:
    return reply(503, {"message": "Service Unavailable"}, {"Retry-After": retry_after})


def test_wait_with_a_fake_clock_never_sleeps_past_its_deadline_for_retry_after(httpserver):
    serve(httpserver, Script(*[unavailable() for _ in range(10)]))
    clock = [0.0]
    sleeps = Sleeps(clock)
    client = StatusClient(httpserver.url_for("/"), "tok", sleep=sleeps, clock=lambda: clock[0])
    with pytest.raises(StatusTimeoutError) as info:
        client.wait(ID, timeout=10)
    assert sum(sleeps) == 10 and clock[0] == 10, sleeps
    assert info.value.last_status is None and len(httpserver.log) == 1


def test_wait_keeps_polling_through_short_retry_afters_until_its_deadline(httpserver):
    serve(httpserver, Script(*[reply(200, status_doc(), {"Retry-After": "2"}) for _ in range(3)],
                             *[unavailable("4") for _ in range(20)]))
    clock = [0.0]
    sleeps = Sleeps(clock)
    client = StatusClient(httpserver.url_for("/"), "tok", sleep=sleeps, clock=lambda: clock[0])
    with pytest.raises(StatusTimeoutError) as info:
        client.wait(ID, timeout=15)
    assert clock[0] == 15 and info.value.last_status.assembly_id == ID
    assert max(sleeps) <= 4


def run_in_thread(fn: Any, limit: float) -> tuple[BaseException | None, float]:
    """(exception raised or None, seconds taken); fails if ``fn`` is still running after ``limit``."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # handed back to the test
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still running after {limit} s"
    return outcome.get("error"), time.monotonic() - started


def test_wait_against_503_retry_after_3600_returns_in_real_time(httpserver):
    serve(httpserver, Script(*[unavailable() for _ in range(10)]))
    client = StatusClient(httpserver.url_for("/"), "tok")
    error, _ = run_in_thread(lambda: client.wait(ID, timeout=1.0), limit=30)
    assert isinstance(error, StatusTimeoutError)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and reads requests, but never answers (a hung backend)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    server.close()


def test_wait_against_a_hung_server_caps_each_socket_timeout_by_the_time_left(silent_server):
    # 30 s per request and 4 retries used to mean 150 s; the deadline is 1 s.
    client = StatusClient(f"http://127.0.0.1:{silent_server}", "tok", timeout=30)
    error, took = run_in_thread(lambda: client.wait(ID, timeout=1.0), limit=25)
    assert isinstance(error, StatusTimeoutError) and took < 25


@pytest.fixture
def trickling_server() -> Iterator[int]:
    """Sends a 200 with a long body one byte every 0.1 s (for at most 30 s per connection)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
            deadline = time.monotonic() + 30
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.1)

    def serve_forever() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_wait_against_a_server_that_trickles_its_body_stops_at_the_deadline(trickling_server):
    client = StatusClient(f"http://127.0.0.1:{trickling_server}", "tok", timeout=5)
    error, took = run_in_thread(lambda: client.wait(ID, timeout=1.0), limit=25)
    assert isinstance(error, StatusTimeoutError) and took < 25


def test_a_single_call_does_not_sleep_through_a_long_retry_after(httpserver: HTTPServer):
    serve(httpserver, Script(*[unavailable() for _ in range(10)]))
    sleeps = Sleeps()
    client = StatusClient(httpserver.url_for("/"), "tok", sleep=sleeps)
    with pytest.raises(StatusClientError) as info:
        client.get(ID)
    assert info.value.status_code == 503 and sleeps == [] and len(httpserver.log) == 1


def test_a_retry_after_within_max_retry_delay_is_honoured_and_an_http_date_is_understood(httpserver):
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    serve(httpserver, Script(unavailable("45"), reply(503, "", {"Retry-After": date}), reply(200, status_doc())))
    sleeps = Sleeps()
    StatusClient(httpserver.url_for("/"), "tok", sleep=sleeps).get(ID)
    assert sleeps[0] == 45 and 20 < sleeps[1] <= 31


def test_wait_without_a_timeout_honours_a_long_retry_after_as_asked(httpserver):
    serve(httpserver, Script(unavailable("120"), reply(200, status_doc("ASSEMBLY_COMPLETED", ok="ASSEMBLY_COMPLETED"))))
    sleeps = Sleeps()
    final = StatusClient(httpserver.url_for("/"), "tok", sleep=sleeps).wait(ID)
    assert final.ok == "ASSEMBLY_COMPLETED" and sleeps == [120]
