"""SSRF guard for webhook targets: resolve once, check every address, connect to the checked one.

A webhook URL may be whatever a user typed (``notify_url``). Inside a Lambda the runtime API
listens on 127.0.0.1:9001 and the metadata service on 169.254.169.254, and inside a VPC every
private address is reachable. So a target host is resolved, *every* address it resolves to is
checked (loopback, private, link-local, CGNAT, multicast, reserved, IPv6 ULA and link-local, and
IPv4 addresses embedded in IPv4-mapped, NAT64, 6to4 and Teredo forms), and the TCP connection is
opened to the address that was checked while TLS (SNI, certificate check) and ``Host`` use the
original hostname. A second DNS answer is never consulted, so DNS rebinding has nothing to race.

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


def _nets(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), reason) for cidr, reason in pairs)


_BLOCKED_V4 = _nets(
    [
        ("0.0.0.0/8", "unspecified ('this network'; 0.0.0.0 reaches the local host)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    ]
)
_BLOCKED_V6 = _nets(
    [
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("2001::/23", "IETF protocol assignments"),
        ("fc00::/7", "unique local (ULA)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    ]
)
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_TEREDO = ipaddress.ip_network("2001::/32")


class UnsafeTargetError(TransflowError, ValueError):
    """The webhook URL is not allowed (scheme, syntax, or an address it resolves to)."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    if ip in _MAPPED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "IPv4-mapped"
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
    if ip in _SIXTOFOUR:
        return ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF), "6to4"
    if ip in _TEREDO and ip.teredo is not None:
        return ip.teredo[1], "Teredo"
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be a webhook target, or ``None`` when it is a public unicast address."""
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
            if form == "Teredo":
                return f"{ip} is a Teredo tunnel address"
            return None
        table = _BLOCKED_V6
    else:
        table = _BLOCKED_V4
    for network, label in table:
        if ip in network:
            return f"{ip} is {label}"
    if not ip.is_global:
        return f"{ip} is not a globally routable address"
    return None


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
