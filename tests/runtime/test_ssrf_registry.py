"""The SSRF guard against IANA's special-purpose address registries, row by row.

Sources: https://www.iana.org/assignments/iana-ipv4-special-registry and
https://www.iana.org/assignments/iana-ipv6-special-registry ("Globally Reachable" column: only
``True`` may be a webhook target; ``N/A`` and blank are refused), plus what those registries do not
list because it was never allocated: IPv4 multicast (IANA IPv4 Address Space) and IPv6 outside
2000::/3 Global Unicast (IANA IPv6 Address Space). The rows below are transcribed independently of
``netguard.ADDRESS_BLOCKS`` (in the registries' own CSV column names), and the expected verdict of
each address is derived from them here, so the guard's table is checked, not restated.
"""

from __future__ import annotations

import csv
import io
import ipaddress

import pytest
from transflow_runtime.delivery import STOP, deliver
from transflow_runtime.netguard import ADDRESS_BLOCKS, NetGuard, UnsafeTargetError, address_refusal

from tests.runtime.webhook_receivers import fake_dns

REGISTRIES = '''\
Address Block,Name,Globally Reachable
0.0.0.0/8,"This network",False
0.0.0.0/32,"This host on this network",False
10.0.0.0/8,Private-Use,False
100.64.0.0/10,Shared Address Space,False
127.0.0.0/8,Loopback,False
169.254.0.0/16,Link Local,False
172.16.0.0/12,Private-Use,False
192.0.0.0/24,IETF Protocol Assignments,False
192.0.0.0/29,IPv4 Service Continuity Prefix,False
192.0.0.8/32,IPv4 dummy address,False
192.0.0.9/32,Port Control Protocol Anycast,True
192.0.0.10/32,Traversal Using Relays around NAT Anycast,True
192.0.0.170/32,NAT64/DNS64 Discovery,False
192.0.0.171/32,NAT64/DNS64 Discovery,False
192.0.2.0/24,Documentation (TEST-NET-1),False
192.31.196.0/24,AS112-v4,True
192.52.193.0/24,AMT,True
192.88.99.0/24,Deprecated (6to4 Relay Anycast),
192.88.99.2/32,6a44-relay anycast address,False
192.168.0.0/16,Private-Use,False
192.175.48.0/24,Direct Delegation AS112 Service,True
198.18.0.0/15,Benchmarking,False
198.51.100.0/24,Documentation (TEST-NET-2),False
203.0.113.0/24,Documentation (TEST-NET-3),False
240.0.0.0/4,Reserved,False
255.255.255.255/32,Limited Broadcast,False
::1/128,Loopback Address,False
::/128,Unspecified Address,False
::ffff:0:0/96,IPv4-mapped Address,False
64:ff9b::/96,IPv4-IPv6 Translat.,True
64:ff9b:1::/48,IPv4-IPv6 Translat.,False
100::/64,Discard-Only Address Block,False
100:0:0:1::/64,Dummy IPv6 Prefix,False
2001::/23,IETF Protocol Assignments,False
2001::/32,TEREDO,N/A
2001:1::1/128,Port Control Protocol Anycast,True
2001:1::2/128,Traversal Using Relays around NAT Anycast,True
2001:1::3/128,DNS-SD Service Registration Protocol Anycast,True
2001:2::/48,Benchmarking,False
2001:3::/32,AMT,True
2001:4:112::/48,AS112-v6,True
2001:10::/28,Deprecated (previously ORCHID),
2001:20::/28,ORCHIDv2,True
2001:30::/28,Drone Remote ID Protocol Entity Tags (DETs) Prefix,True
2001:db8::/32,Documentation,False
2002::/16,6to4,N/A
2620:4f:8000::/48,Direct Delegation AS112 Service,True
3fff::/20,Documentation,False
5f00::/16,Segment Routing (SRv6) SIDs,False
fc00::/7,Unique-Local,False
fe80::/10,Link-Local Unicast,False
224.0.0.0/4,Multicast (IPv4 Address Space),False
0000::/8,Reserved by IETF (IPv6 Address Space),False
0100::/8,Reserved by IETF,False
0200::/7,Reserved by IETF,False
0400::/6,Reserved by IETF,False
0800::/5,Reserved by IETF,False
1000::/4,Reserved by IETF,False
4000::/3,Reserved by IETF,False
6000::/3,Reserved by IETF,False
8000::/3,Reserved by IETF,False
a000::/3,Reserved by IETF,False
c000::/3,Reserved by IETF,False
e000::/4,Reserved by IETF,False
f000::/5,Reserved by IETF,False
f800::/6,Reserved by IETF,False
fe00::/9,Reserved by IETF,False
fec0::/10,Reserved by IETF,False
ff00::/8,Multicast,False
'''
ROWS = [(ipaddress.ip_network(r["Address Block"]), r["Name"], r["Globally Reachable"])
        for r in csv.DictReader(io.StringIO(REGISTRIES))]
MAPPED = ipaddress.ip_network("::ffff:0:0/96")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def expected_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """The registries' verdict: the most specific row decides; IPv4-mapped addresses are IPv4 on
    the wire; NAT64 (RFC 6052) reaches the IPv4 address it embeds."""
    if ip.version == 6 and (ip in MAPPED or ip in NAT64):
        if expected_refused(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)):
            return True
        if ip in MAPPED:
            return False
    rows = [r for r in ROWS if r[0].version == ip.version and ip in r[0]]
    if not rows:
        return False
    return max(rows, key=lambda r: r[0].prefixlen)[2] != "True"


def both_ends() -> list[tuple[str, str, str]]:
    cases = []
    for network, name, reachable in ROWS:
        for end in (network[0], network[-1]):
            cases.append((str(end), f"{network} {name}", reachable))
    return cases


def test_the_guard_table_and_this_transcription_hold_the_same_rows():
    theirs = {(str(b.network), "N/A" if b.globally_reachable is None else str(b.globally_reachable))
              for b in ADDRESS_BLOCKS}
    ours = {(str(n), reachable or "N/A") for n, _name, reachable in ROWS}
    assert theirs == ours


@pytest.mark.parametrize(("address", "row", "reachable"), both_ends(), ids=lambda v: str(v))
def test_both_ends_of_every_registry_row_get_the_registrys_verdict(address, row, reachable):
    ip = ipaddress.ip_address(address)
    reason = address_refusal(ip)
    if expected_refused(ip):
        assert reason is not None, f"{address} ({row}, Globally Reachable {reachable or 'blank'}) passed"
    else:
        assert reason is None, f"{address} ({row}) refused: {reason}"


V4_SAMPLES = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "192.168.1.1", "0.0.0.0", "100.64.0.1",  # noqa: S104
              "255.255.255.255", "8.8.8.8", "93.184.216.34"]


def embedded_forms(v4: str) -> dict[str, str]:
    n = int(ipaddress.IPv4Address(v4))
    hi, lo = n >> 16, n & 0xFFFF
    return {
        "IPv4-mapped": f"::ffff:{hi:x}:{lo:x}",
        "IPv4-translated": f"::ffff:0:{hi:x}:{lo:x}",
        "IPv4-compatible": f"::{hi:x}:{lo:x}",
        "NAT64": f"64:ff9b::{hi:x}:{lo:x}",
        "local-use NAT64": f"64:ff9b:1:{hi:x}:{lo >> 8:x}:{(lo & 0xFF) << 8:x}::",  # RFC 6052 /48
        "6to4": f"2002:{hi:x}:{lo:x}::1",
        "Teredo": f"2001:0:4136:e378:8000:63bf:{hi ^ 0xFFFF:x}:{lo ^ 0xFFFF:x}",
    }


@pytest.mark.parametrize("v4", V4_SAMPLES)
def test_every_embedded_ipv4_form_is_judged_and_only_mapped_and_nat64_may_reach_a_public_address(v4):
    refused_v4 = address_refusal(ipaddress.ip_address(v4)) is not None
    for form, text in embedded_forms(v4).items():
        ip = ipaddress.ip_address(text)
        reason = address_refusal(ip)
        if form in ("IPv4-mapped", "NAT64") and not refused_v4:
            assert reason is None, (form, text, reason)
            continue
        assert reason is not None, (form, text)
        if refused_v4 and form != "local-use NAT64" and text not in ("::0:0", "::0:1"):  # :: and ::1 have rows
            assert f"{form} form of {v4}" in reason, (form, text, reason)


def test_the_reported_ipv4_translated_loopback_url_is_refused():
    result = deliver("https://[::ffff:0:7f00:1]/", b"{}", {}, guard=NetGuard(), timeout=1)
    assert result.outcome == STOP
    assert "IPv4-translated form of 127.0.0.1" in (result.error or "")


def test_a_name_resolving_to_an_ipv4_translated_address_is_refused(monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["::ffff:0:a9fe:a9fe"]})
    guard = NetGuard()
    with pytest.raises(UnsafeTargetError, match=r"169\.254\.169\.254"):
        guard.resolve(guard.parse("https://hooks.example.com/"))


def test_metadata_stays_refused_in_every_embedded_spelling_even_when_allow_listed():
    guard = NetGuard(["::/0", "0.0.0.0/0"])
    target = guard.parse("https://hooks.example.com/")
    for form, text in embedded_forms("169.254.169.254").items():
        if form == "local-use NAT64":
            continue
        reason = guard.refusal(ipaddress.ip_address(text), target)
        assert reason is not None and "metadata" in reason, text
    assert guard.refusal(ipaddress.ip_address("::ffff:0:7f00:1"), target) is None, "allow-list still wins"
