"""SSRF guard for webhook targets: resolve once, check every address, connect to the checked one.

A webhook URL may be whatever a user typed (``notify_url``). Inside a Lambda the runtime API
listens on 127.0.0.1:9001 and the metadata service on 169.254.169.254, and inside a VPC every
private address is reachable. So a target host is resolved, *every* address it resolves to is
checked against ``ADDRESS_BLOCKS`` (IANA's special-purpose registries and their "Globally
Reachable" column, plus unallocated space; IPv4 addresses embedded in IPv6 forms are named), and
the TCP connection is opened to the address that was checked while TLS (SNI, certificate check)
and ``Host`` use the original hostname. A second DNS answer is never consulted, so DNS rebinding has nothing to race.

An explicit allow-list (CIDRs or hostnames; used by local mode and tests) lets private targets
through. The metadata endpoints and the Lambda runtime API are refused even when allow-listed.
Stdlib only.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from .errors import TransflowError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud metadata services (EC2 IMDS v4/v6, ECS task metadata): refused even when allow-listed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "169.254.170.23")
)
#: Where the Lambda runtime API listens unless ``AWS_LAMBDA_RUNTIME_API`` says otherwise.
DEFAULT_LAMBDA_RUNTIME_API = "127.0.0.1:9001"


_V4_SPECIAL = "IANA IPv4 Special-Purpose Address Registry"
_V6_SPECIAL = "IANA IPv6 Special-Purpose Address Registry"
_V4_SPACE = "IANA IPv4 Address Space Registry"
_V6_SPACE = "IANA IPv6 Address Space Registry"


@dataclass(frozen=True)
class AddressBlock:
    """One row of ``ADDRESS_BLOCKS``: a registry's entry and its "Globally Reachable" value."""

    network: IPNetwork
    name: str
    reference: str
    globally_reachable: bool | None  # None: the registry says N/A (or leaves it blank)
    registry: str


def _block(cidr: str, name: str, reference: str, reachable: bool | None, registry: str) -> AddressBlock:
    return AddressBlock(ipaddress.ip_network(cidr), name, reference, reachable, registry)


#: Every special or unallocated address block, with the "Globally Reachable" column of
#: https://www.iana.org/assignments/iana-ipv4-special-registry and
#: https://www.iana.org/assignments/iana-ipv6-special-registry (rows as of 2025; N/A and blank are
#: None). The most specific row containing an address decides; only ``True`` may be a webhook
#: target. The two special registries do not list what was never allocated, so the table also
#: holds IPv4 multicast (IANA IPv4 Address Space: 224/4 "Multicast") and every IPv6 block outside
#: 2000::/3 Global Unicast (IANA IPv6 Address Space: "Reserved by IETF", ULA, link-local,
#: multicast). An address in no row is ordinary unicast.
ADDRESS_BLOCKS: tuple[AddressBlock, ...] = (
    _block("0.0.0.0/8", '"This network"', "RFC 791", False, _V4_SPECIAL),
    _block("0.0.0.0/32", '"This host on this network"', "RFC 1122", False, _V4_SPECIAL),
    _block("10.0.0.0/8", "Private-Use", "RFC 1918", False, _V4_SPECIAL),
    _block("100.64.0.0/10", "Shared Address Space (carrier-grade NAT)", "RFC 6598", False, _V4_SPECIAL),
    _block("127.0.0.0/8", "Loopback", "RFC 1122", False, _V4_SPECIAL),
    _block("169.254.0.0/16", "Link Local", "RFC 3927", False, _V4_SPECIAL),
    _block("172.16.0.0/12", "Private-Use", "RFC 1918", False, _V4_SPECIAL),
    _block("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890", False, _V4_SPECIAL),
    _block("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", False, _V4_SPECIAL),
    _block("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", False, _V4_SPECIAL),
    _block("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", True, _V4_SPECIAL),
    _block("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155", True, _V4_SPECIAL),
    _block("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880", False, _V4_SPECIAL),
    _block("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880", False, _V4_SPECIAL),
    _block("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", False, _V4_SPECIAL),
    _block("192.31.196.0/24", "AS112-v4", "RFC 7535", True, _V4_SPECIAL),
    _block("192.52.193.0/24", "AMT", "RFC 7450", True, _V4_SPECIAL),
    _block("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", None, _V4_SPECIAL),
    _block("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751", False, _V4_SPECIAL),
    _block("192.168.0.0/16", "Private-Use", "RFC 1918", False, _V4_SPECIAL),
    _block("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", True, _V4_SPECIAL),
    _block("198.18.0.0/15", "Benchmarking", "RFC 2544", False, _V4_SPECIAL),
    _block("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", False, _V4_SPECIAL),
    _block("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", False, _V4_SPECIAL),
    _block("240.0.0.0/4", "Reserved", "RFC 1112", False, _V4_SPECIAL),
    _block("255.255.255.255/32", "Limited Broadcast", "RFC 919", False, _V4_SPECIAL),
    _block("224.0.0.0/4", "Multicast", "RFC 5771", False, _V4_SPACE),
    _block("::1/128", "Loopback Address", "RFC 4291", False, _V6_SPECIAL),
    _block("::/128", "Unspecified Address", "RFC 4291", False, _V6_SPECIAL),
    _block("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", False, _V6_SPECIAL),
    _block("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", True, _V6_SPECIAL),
    _block("64:ff9b:1::/48", "IPv4-IPv6 Translat. (local-use NAT64)", "RFC 8215", False, _V6_SPECIAL),
    _block("100::/64", "Discard-Only Address Block", "RFC 6666", False, _V6_SPECIAL),
    _block("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780", False, _V6_SPECIAL),
    _block("2001::/23", "IETF Protocol Assignments", "RFC 2928", False, _V6_SPECIAL),
    _block("2001::/32", "TEREDO", "RFC 4380", None, _V6_SPECIAL),
    _block("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", True, _V6_SPECIAL),
    _block("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155", True, _V6_SPECIAL),
    _block("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665", True, _V6_SPECIAL),
    _block("2001:2::/48", "Benchmarking", "RFC 5180", False, _V6_SPECIAL),
    _block("2001:3::/32", "AMT", "RFC 7450", True, _V6_SPECIAL),
    _block("2001:4:112::/48", "AS112-v6", "RFC 7535", True, _V6_SPECIAL),
    _block("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", None, _V6_SPECIAL),
    _block("2001:20::/28", "ORCHIDv2", "RFC 7343", True, _V6_SPECIAL),
    _block("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", True, _V6_SPECIAL),
    _block("2001:db8::/32", "Documentation", "RFC 3849", False, _V6_SPECIAL),
    _block("2002::/16", "6to4", "RFC 3056", None, _V6_SPECIAL),
    _block("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", True, _V6_SPECIAL),
    _block("3fff::/20", "Documentation", "RFC 9637", False, _V6_SPECIAL),
    _block("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", False, _V6_SPECIAL),
    _block("fc00::/7", "Unique-Local", "RFC 4193", False, _V6_SPECIAL),
    _block("fe80::/10", "Link-Local Unicast", "RFC 4291", False, _V6_SPECIAL),
    *(
        _block(cidr, "Reserved by IETF", "RFC 4291", False, _V6_SPACE)
        for cidr in ("::/8", "100::/8", "200::/7", "400::/6", "800::/5", "1000::/4", "4000::/3", "6000::/3",
                     "8000::/3", "a000::/3", "c000::/3", "e000::/4", "f000::/5", "f800::/6", "fe00::/9")
    ),
    _block("fec0::/10", "Reserved by IETF (deprecated site-local)", "RFC 3879", False, _V6_SPACE),
    _block("ff00::/8", "Multicast", "RFC 4291", False, _V6_SPACE),
)
#: Per IP version, most specific first: the first block containing an address is its row.
_BY_VERSION = {
    version: tuple(sorted((b for b in ADDRESS_BLOCKS if b.network.version == version),
                          key=lambda b: -b.network.prefixlen))
    for version in (4, 6)
}

_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 "IPv4-translated"
_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291 2.5.5.1, deprecated
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")


class UnsafeTargetError(TransflowError, ValueError):
    """The webhook URL is not allowed (scheme, syntax, or an address it resolves to)."""


def address_block(ip: IPAddress) -> AddressBlock | None:
    """The most specific row of ``ADDRESS_BLOCKS`` holding ``ip`` (None: ordinary unicast)."""
    for block in _BY_VERSION[ip.version]:
        if ip in block.network:
            return block
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, and the form (mapped, NAT64, 6to4, ...)."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _MAPPED:
        return low32, "IPv4-mapped"
    if ip in _TRANSLATED:
        return low32, "IPv4-translated"
    if ip in _NAT64:
        return low32, "NAT64"
    if ip in _SIXTOFOUR:
        return ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF), "6to4"
    if ip in _TEREDO and ip.teredo is not None:
        return ip.teredo[1], "Teredo"
    if ip in _COMPATIBLE and int(ip) > 1:  # not :: or ::1, which have rows of their own
        return low32, "IPv4-compatible"
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be a webhook target, or ``None`` when it is globally reachable.

    The verdict is the "Globally Reachable" column of ``ADDRESS_BLOCKS``' most specific row. An
    IPv4-mapped address is IPv4 on the wire and is judged as its IPv4 address; an address in
    NAT64's 64:ff9b::/96 (globally reachable) is refused when the IPv4 address it reaches is.
    """
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata endpoint"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return f"{ip} is a scoped (link-local) IPv6 address"
        embedded = _embedded_v4(ip)
        if embedded is not None:
            v4, form = embedded
            reason = address_refusal(v4)
            if reason is not None:
                return f"{ip} is the {form} form of {v4}, and {reason}"
            if form == "IPv4-mapped":
                return None
    block = address_block(ip)
    if block is None or block.globally_reachable is True:
        return None
    reachable = "N/A" if block.globally_reachable is None else "False"
    return (f"{ip} is {block.name} ({block.network}, {block.reference}; {block.registry}: "
            f"Globally Reachable {reachable})")


def _runtime_api() -> tuple[str, int] | None:
    value = os.environ.get("AWS_LAMBDA_RUNTIME_API") or DEFAULT_LAMBDA_RUNTIME_API
    host, _, port = value.rpartition(":")
    try:
        return str(ipaddress.ip_address(host.strip("[]"))), int(port)
    except ValueError:
        return None


@dataclass(frozen=True)
class Target:
    """A parsed webhook URL. ``host`` is the IDNA-encoded hostname used for SNI and ``Host``."""

    scheme: str
    host: str
    port: int
    path: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """Scheme, host and port only: safe for logs (no credentials, path or query)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_target(url: str, *, allow_http: bool = False) -> Target:
    """Parse and syntactically validate a webhook URL (``https`` only unless ``allow_http``)."""
    if not isinstance(url, str) or not url:
        raise UnsafeTargetError("webhook URL must be a non-empty string")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UnsafeTargetError("webhook URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTargetError(f"webhook URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeTargetError(f"webhook URL scheme {scheme or '(none)'!r} is not supported; use https")
    if scheme == "http" and not allow_http:
        raise UnsafeTargetError("webhook URL must use https (plain http is only allowed in local mode)")
    hostname = (parts.hostname or "").rstrip(".")
    if not hostname:
        raise UnsafeTargetError("webhook URL has no host")
    try:
        ipaddress.ip_address(hostname)
        host = hostname
    except ValueError:
        try:
            host = hostname.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UnsafeTargetError(f"webhook URL host {hostname!r} is not a valid hostname") from None
    # http.client sends the request line as ASCII: percent-encode what is not (already-encoded
    # escapes and reserved characters are kept as they are).
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return Target(
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=path,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


class NetGuard:
    """Decides which addresses a webhook may reach and opens connections pinned to them.

    ``allow`` holds CIDRs (``10.0.0.0/8``, ``127.0.0.1``) and/or hostnames (``hooks.internal``);
    an allow-listed hostname may resolve anywhere except the metadata endpoints and the Lambda
    runtime API.
    """

    def __init__(self, allow: Iterable[str] = (), *, allow_http: bool = False) -> None:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in allow:
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.rstrip(".").lower())
        self.allowed_networks = tuple(networks)
        self.allowed_hosts = frozenset(hosts)
        self.allow_http = allow_http

    @classmethod
    def from_strings(cls, allow: str | None, allow_http: str | None) -> NetGuard:
        """From the comma-separated allow-list and the "1"/"true" flag of the environment."""
        entries = [e for e in (allow or "").split(",") if e.strip()]
        return cls(entries, allow_http=(allow_http or "").strip().lower() in ("1", "true", "yes"))

    def parse(self, url: str) -> Target:
        return parse_target(url, allow_http=self.allow_http)

    def refusal(self, ip: IPAddress, target: Target) -> str | None:
        """Why ``target`` may not connect to ``ip`` (``None`` when it may)."""
        plain = ipaddress.ip_address(str(ip).split("%")[0])
        if isinstance(plain, ipaddress.IPv6Address) and plain.ipv4_mapped is not None:
            plain = plain.ipv4_mapped
        # Metadata is refused in every spelling (IPv4-mapped, NAT64, ...), allow-listed or not.
        embedded = _embedded_v4(plain) if isinstance(plain, ipaddress.IPv6Address) else None
        if embedded and embedded[0] in METADATA_ADDRESSES:
            return f"{ip} ({embedded[1]} form of {embedded[0]}) is a cloud metadata endpoint"
        if ip in METADATA_ADDRESSES or plain in METADATA_ADDRESSES:
            return f"{ip} is a cloud metadata endpoint"
        runtime_api = _runtime_api()
        if runtime_api and (str(plain), target.port) == runtime_api:
            return f"{ip}:{target.port} is the Lambda runtime API"
        if target.host in self.allowed_hosts or any(ip in net for net in self.allowed_networks):
            return None
        return address_refusal(ip)

    def resolve(self, target: Target) -> list[IPAddress]:
        """Resolve ``target.host`` once and check every address; all must pass.

        Raises ``UnsafeTargetError`` naming the refused address, or ``socket.gaierror`` when the
        name does not resolve (a retryable condition: DNS may recover).
        """
        try:
            literal: IPAddress | None = ipaddress.ip_address(target.host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
            addresses = []
            for _family, _type, _proto, _canon, sockaddr in infos:
                text = str(sockaddr[0])
                ip = ipaddress.ip_address(text.split("%")[0])
                if isinstance(ip, ipaddress.IPv6Address) and len(sockaddr) >= 4 and sockaddr[3]:
                    ip = ipaddress.IPv6Address(f"{ip}%{sockaddr[3]}")
                if ip not in addresses:
                    addresses.append(ip)
            if not addresses:
                raise socket.gaierror(f"{target.host} resolved to no addresses")
        for ip in addresses:
            reason = self.refusal(ip, target)
            if reason is not None:
                raise UnsafeTargetError(f"webhook host {target.host} is refused: {reason}")
        return addresses

    def connection(
        self,
        target: Target,
        address: IPAddress,
        *,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> http.client.HTTPConnection:
        """An HTTP(S) connection to ``address`` that speaks to ``target.host`` (SNI, cert, Host)."""
        if target.scheme == "https":
            context = ssl_context or _default_context()
            return _PinnedHTTPSConnection(target.host, target.port, address, timeout=timeout, context=context)
        return _PinnedHTTPConnection(target.host, target.port, address, timeout=timeout)


_context: ssl.SSLContext | None = None


def _default_context() -> ssl.SSLContext:
    """One verifying client context per process: loading the CA bundle costs milliseconds, and
    an SSLContext may be shared by threads."""
    global _context
    if _context is None:
        _context = ssl.create_default_context()
    return _context


def _pinned_create_connection(address: IPAddress, port: int) -> Callable[..., socket.socket]:
    def create(_requested: object, timeout: float | None = None, source_address: object = None) -> socket.socket:
        # The host http.client asked for is ignored on purpose: only the checked address is used.
        return socket.create_connection((str(address), port), timeout, source_address)  # type: ignore[arg-type]

    return create


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: IPAddress, *, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.pinned_address = address
        self._create_connection = _pinned_create_connection(address, port)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, address: IPAddress, *, timeout: float, context: ssl.SSLContext
    ) -> None:
        # server_hostname for SNI and certificate checking is self.host: the original name.
        super().__init__(host, port, timeout=timeout, context=context)
        self.pinned_address = address
        self._create_connection = _pinned_create_connection(address, port)
