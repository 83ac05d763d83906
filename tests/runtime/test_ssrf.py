"""SSRF guard: every refused address class, all resolved addresses checked, no DNS rebinding,
connections pinned to the checked address while TLS and Host use the original name."""

from __future__ import annotations

import base64
import ipaddress
import socket

import pytest
from transflow_runtime.delivery import RETRY, STOP, SUCCESS, deliver
from transflow_runtime.netguard import NetGuard, UnsafeTargetError, address_refusal, parse_target

from tests.runtime.webhook_receivers import Receiver, fake_dns, self_signed

REFUSED = {
    "127.0.0.1": "Loopback",
    "127.53.1.9": "Loopback",
    "10.1.2.3": "Private-Use",
    "172.16.0.1": "Private-Use",
    "172.31.255.254": "Private-Use",
    "192.168.1.1": "Private-Use",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "169.254.1.1": "Link Local",
    "169.254.169.254": "metadata",
    "169.254.170.2": "metadata",
    "0.0.0.0": "This host on this network",  # noqa: S104 - the address under test
    "0.1.2.3": "This network",
    "224.0.0.1": "Multicast",
    "239.255.255.250": "Multicast",
    "240.0.0.1": "Reserved",
    "255.255.255.255": "Limited Broadcast",
    "192.0.0.8": "IPv4 dummy address",
    "192.0.2.10": "Documentation",
    "198.18.0.1": "Benchmarking",
    "::1": "Loopback",
    "::": "Unspecified",
    "fc00::1": "Unique-Local",
    "fd12:3456:789a::1": "Unique-Local",
    "fd00:ec2::254": "metadata",
    "fe80::1": "Link-Local",
    "fec0::1": "site-local",
    "ff02::1": "Multicast",
    "2001:db8::1": "Documentation",
    "::ffff:127.0.0.1": "IPv4-mapped form of 127.0.0.1",
    "::ffff:10.0.0.1": "IPv4-mapped form of 10.0.0.1",
    "::ffff:169.254.169.254": "metadata",
    "64:ff9b::7f00:1": "NAT64 form of 127.0.0.1",
    "64:ff9b::a9fe:a9fe": "NAT64 form of 169.254.169.254",
    "64:ff9b:1::a00:1": "local-use NAT64",
    "2002:7f00:1::1": "6to4 form of 127.0.0.1",
    "2002:c0a8:101::1": "6to4 form of 192.168.1.1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "Teredo",
    "::127.0.0.1": "IPv4-compatible",
}
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize(("address", "why"), REFUSED.items())
def test_every_refused_address_class_is_refused_after_dns_resolution(monkeypatch, address, why):
    fake_dns(monkeypatch, {"hooks.example.com": [address]})
    guard = NetGuard()
    with pytest.raises(UnsafeTargetError, match=why):
        guard.resolve(guard.parse("https://hooks.example.com/webhook"))


@pytest.mark.parametrize(("address", "why"), REFUSED.items())
def test_every_refused_address_class_is_refused_as_an_ip_literal(address, why):
    host = f"[{address}]" if ":" in address else address
    result = deliver(f"https://{host}/hook", b"{}", {}, guard=NetGuard(), timeout=1)
    assert result.outcome == STOP and why in (result.error or "")


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address):
    import ipaddress

    assert address_refusal(ipaddress.ip_address(address)) is None


def test_every_resolved_address_is_checked_not_just_the_first(monkeypatch):
    fake_dns(monkeypatch, {"multi.example.com": ["93.184.216.34", "2606:4700:4700::1111", "10.0.0.7"]})
    guard = NetGuard()
    with pytest.raises(UnsafeTargetError, match=r"10\.0\.0\.7 is Private-Use"):
        guard.resolve(guard.parse("https://multi.example.com/"))


def test_numeric_host_spellings_resolve_to_loopback_and_are_refused():
    # inet_aton accepts decimal and hex spellings of 127.0.0.1; the resolver's answer is checked.
    for url in ("https://2130706433/", "https://0x7f.1/", "https://127.1/"):
        result = deliver(url, b"{}", {}, guard=NetGuard(), timeout=1)
        assert result.outcome == STOP and "Loopback" in (result.error or ""), url


def test_allow_list_lets_private_cidrs_and_hostnames_through(monkeypatch):
    fake_dns(monkeypatch, {"hooks.internal": ["10.20.30.40"], "other.internal": ["10.20.30.41"]})
    by_cidr = NetGuard(["10.20.30.0/24"])
    assert [str(a) for a in by_cidr.resolve(by_cidr.parse("https://other.internal/"))] == ["10.20.30.41"]
    by_name = NetGuard(["hooks.internal"])
    assert [str(a) for a in by_name.resolve(by_name.parse("https://hooks.internal/"))] == ["10.20.30.40"]
    with pytest.raises(UnsafeTargetError, match="Private-Use"):
        by_name.resolve(by_name.parse("https://other.internal/"))


def test_metadata_and_lambda_runtime_api_stay_refused_even_when_allow_listed(monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API", raising=False)
    guard = NetGuard(["169.254.0.0/16", "127.0.0.0/8", "fd00::/8"])
    for url, why in (
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", "runtime API"),
    ):
        guard.allow_http = True
        with pytest.raises(UnsafeTargetError, match=why):
            guard.resolve(guard.parse(url))
    assert guard.resolve(guard.parse("http://127.0.0.1:9002/")), "other loopback ports are allow-listed"
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9555")
    with pytest.raises(UnsafeTargetError, match="runtime API"):
        guard.resolve(guard.parse("http://127.0.0.1:9555/"))


def test_only_https_unless_http_is_allowed_and_urls_are_validated():
    with pytest.raises(UnsafeTargetError, match="https"):
        parse_target("http://hooks.example.com/")
    assert parse_target("http://hooks.example.com/", allow_http=True).port == 80
    for bad, why in (
        ("ftp://hooks.example.com/", "scheme"),
        ("hooks.example.com/webhook", "scheme"),
        ("https:///path", "no host"),
        ("https://hooks.example.com:99999/", "malformed"),
        ("https://hooks.example.com/a b", "whitespace"),
        ("https://hooks.example.com/\r\nX-Evil: 1", "whitespace"),
        ("", "non-empty"),
    ):
        with pytest.raises(UnsafeTargetError, match=why):
            parse_target(bad)
    target = parse_target("https://user:p%40ss@Hooks.Example.COM./x?y=1#frag")
    assert (target.host, target.port, target.path) == ("hooks.example.com", 443, "/x?y=1")
    assert (target.username, target.password) == ("user", "p@ss")
    assert "p@ss" not in repr(target) and target.display == "https://hooks.example.com:443"


def test_dns_rebinding_cannot_redirect_the_connection(monkeypatch):
    """The resolver answers a public address first and loopback afterwards; the connection
    goes to the address that was checked and the name is resolved exactly once."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])
    lookups = fake_dns(monkeypatch, lambda name: next(answers) if name == "rebind.example.com" else None)
    connected: list[tuple[str, int]] = []

    def create_connection(address, timeout=None, source_address=None):
        connected.append(address)
        raise ConnectionRefusedError("test network: no route")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    result = deliver("https://rebind.example.com/hook", b"{}", {}, guard=NetGuard(), timeout=2)
    assert connected == [("93.184.216.34", 443)]
    assert lookups == ["rebind.example.com"]
    assert result.outcome == RETRY and result.error == "connection refused"


def test_rebinding_to_a_refused_address_on_the_first_answer_is_refused_without_connecting(monkeypatch):
    fake_dns(monkeypatch, {"rebind.example.com": ["127.0.0.1"]})
    connected: list[object] = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a))
    result = deliver("https://rebind.example.com/hook", b"{}", {}, guard=NetGuard(), timeout=2)
    assert result.outcome == STOP and "Loopback" in (result.error or "") and connected == []


def test_tls_uses_the_original_hostname_for_sni_certificate_and_host_while_connecting_to_the_checked_ip(
    monkeypatch, tmp_path
):
    server_ctx, client_ctx, sni = self_signed(tmp_path, "hooks.example.test")
    lookups = fake_dns(monkeypatch, {"hooks.example.test": ["127.0.0.1"], "wrong.example.test": ["127.0.0.1"]})
    with Receiver(tls=server_ctx, host_for_url="hooks.example.test") as receiver:
        guard = NetGuard(["127.0.0.1/32"])
        result = deliver(receiver.url, b'{"a":1}', {"Content-Type": "application/json"},
                         guard=guard, timeout=5, ssl_context=client_ctx)
        assert result.outcome == SUCCESS and result.status_code == 200 and result.address == "127.0.0.1"
        assert sni == ["hooks.example.test"]
        assert receiver.requests[0].headers["Host"] == f"hooks.example.test:{receiver.port}"
        assert receiver.requests[0].body == b'{"a":1}'
        # Same address, a name the certificate does not cover: verification fails (and is retried).
        wrong = receiver.url.replace("hooks.example.test", "wrong.example.test")
        failed = deliver(wrong, b"{}", {}, guard=guard, timeout=5, ssl_context=client_ctx)
        assert failed.outcome == RETRY and "certificate verification failed" in (failed.error or "")
    assert lookups == ["hooks.example.test", "wrong.example.test"]


def test_credentials_in_the_url_become_basic_auth_and_never_reach_the_error_text(monkeypatch):
    with Receiver() as receiver:
        url = receiver.url.replace("http://", "http://hook%20user:s3cr%3At@")
        result = deliver(url, b"{}", {}, guard=NetGuard(["127.0.0.1"], allow_http=True), timeout=5)
        assert result.outcome == SUCCESS
        expected = "Basic " + base64.b64encode(b"hook user:s3cr:t").decode()
        assert receiver.requests[0].headers["Authorization"] == expected
        assert "s3cr" not in (result.target or "")


def test_a_refused_connection_falls_back_to_the_next_checked_address(monkeypatch):
    with Receiver() as receiver:  # listens on 127.0.0.1 only; 127.0.0.2 refuses the connection
        fake_dns(monkeypatch, {"multi.internal": ["127.0.0.2", "127.0.0.1"]})
        url = receiver.url.replace("127.0.0.1", "multi.internal")
        result = deliver(url, b"{}", {}, guard=NetGuard(["127.0.0.0/8"], allow_http=True), timeout=5)
    assert result.outcome == SUCCESS and result.address == "127.0.0.1"
    assert receiver.requests[0].headers["Host"] == f"multi.internal:{receiver.port}"


def test_metadata_endpoint_in_mapped_form_is_refused_even_for_an_allow_listed_host():
    from transflow_runtime.netguard import NetGuard, parse_target

    guard = NetGuard(["hooks.internal"])
    target = parse_target("https://hooks.internal/transflow")
    for form in ("::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe"):
        assert guard.refusal(ipaddress.ip_address(form), target) is not None, form
