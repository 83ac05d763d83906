"""One delivery attempt against real local receivers: what counts as success, retry and stop."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from email.utils import formatdate

import pytest
from transflow_runtime.delivery import RETRY, STOP, SUCCESS, classify_status, deliver, parse_retry_after
from transflow_runtime.netguard import NetGuard

from tests.runtime.webhook_receivers import Receiver, Reply

GUARD = NetGuard(["127.0.0.1/32"], allow_http=True)


def post(receiver: Receiver, timeout: float = 5):
    return deliver(receiver.url, b'{"assembly_id":"x"}', {"Content-Type": "application/json"},
                   guard=GUARD, timeout=timeout)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_success(status):
    with Receiver(lambda _i, _r: Reply(status)) as receiver:
        result = post(receiver)
    assert result.outcome == SUCCESS and result.status_code == status and result.error is None
    assert receiver.requests[0].body == b'{"assembly_id":"x"}'
    assert receiver.requests[0].path == "/hooks/transflow"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429, 400, 401, 403, 404, 409, 413, 422])
def test_5xx_408_429_and_other_4xx_are_retried(status):
    with Receiver(lambda _i, _r: Reply(status)) as receiver:
        result = post(receiver)
    assert result.outcome == RETRY and result.status_code == status
    assert result.error and result.error.startswith(f"HTTP {status}")


def test_410_gone_stops_retries():
    with Receiver(lambda _i, _r: Reply(410)) as receiver:
        result = post(receiver)
    assert result.outcome == STOP and result.status_code == 410 and "gone" in (result.error or "")


def test_redirects_are_not_followed():
    with Receiver(lambda i, _r: Reply(302, {"Location": "http://127.0.0.1:1/elsewhere"})) as receiver:
        result = post(receiver)
    assert result.outcome == RETRY and result.status_code == 302 and "not followed" in (result.error or "")
    assert len(receiver.requests) == 1


def test_429_reports_retry_after_in_seconds_and_as_an_http_date():
    with Receiver(lambda _i, _r: Reply(429, {"Retry-After": "120"})) as receiver:
        assert post(receiver).retry_after == 120
    date = formatdate(time.time() + 3600, usegmt=True)
    with Receiver(lambda _i, _r: Reply(503, {"Retry-After": date})) as receiver:
        wait = post(receiver).retry_after
    assert wait is not None and 3500 < wait <= 3600


def test_parse_retry_after_ignores_garbage_and_past_dates():
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert classify_status(429, "Too Many Requests", "7") == (RETRY, "HTTP 429 Too Many Requests", 7.0)


def test_a_slow_receiver_times_out_and_is_retried():
    with Receiver(lambda _i, _r: Reply(200, delay=2.0)) as receiver:
        result = post(receiver, timeout=0.5)
    assert result.outcome == RETRY and result.error == "timed out after 0.5 s"
    assert result.duration < 1.9  # gave up at the deadline, did not wait for the answer


def test_a_receiver_dripping_bytes_cannot_stretch_the_overall_timeout():
    # Each byte arrives well within a per-read timeout; only an overall deadline stops this.
    with Receiver(lambda _i, _r: Reply(action="drip")) as receiver:
        result = post(receiver, timeout=0.6)
    assert result.outcome == RETRY and "timed out" in (result.error or "")
    assert result.duration < 2.5


def test_connection_reset_is_retried():
    with Receiver(lambda _i, _r: Reply(action="reset")) as receiver:
        result = post(receiver)
    assert result.outcome == RETRY and result.status_code is None
    assert result.error == "connection reset by peer"


def test_connection_closed_without_answer_is_retried():
    with Receiver(lambda _i, _r: Reply(action="close")) as receiver:
        result = post(receiver)
    assert result.outcome == RETRY and result.status_code is None
    assert result.error == "connection closed without a response"


def test_connection_refused_is_retried():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = deliver(f"http://127.0.0.1:{port}/", b"{}", {}, guard=GUARD, timeout=2)
    assert result.outcome == RETRY and result.error == "connection refused"


def test_dns_failure_is_retried():
    result = deliver("https://does-not-exist.invalid/", b"{}", {}, guard=NetGuard(), timeout=2)
    assert result.outcome == RETRY and "DNS resolution" in (result.error or "")


def test_plain_http_is_refused_by_default():
    with Receiver() as receiver:
        result = deliver(receiver.url, b"{}", {}, guard=NetGuard(["127.0.0.1"]), timeout=2)
    assert result.outcome == STOP and "https" in (result.error or "") and receiver.requests == []


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass

def test_deliver_to_a_url_with_a_non_ascii_path_returns_a_result():
    from transflow_runtime.delivery import deliver
    from transflow_runtime.netguard import NetGuard

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks/café"
        result = deliver(
            url, b"{}", {"Content-Type": "application/json"}, guard=NetGuard(["127.0.0.1"], allow_http=True), timeout=5
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.outcome in ("success", "stop")
