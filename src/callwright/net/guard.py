"""What may be fetched: URL syntax, the public-address rule (SSRF), the one name resolution
whose checked addresses are the ones connected to, and request headers a customer configures."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlsplit

from callwright.net.errors import InvalidHeader, UrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> IP address strings``; raises ``OSError`` (e.g. ``socket.gaierror``) on failure."""

_PUBLIC_HINT: Final = "customer URLs must be public (set CALLWRIGHT_ALLOW_PRIVATE_URLS=true for development)"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_MAX_URL_LENGTH: Final = 8192

# ---------------------------------------------------------------------------------------------
# URL syntax


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str  # ASCII host name, or an IP literal without brackets
    port: int
    host_header: str
    target: bytes  # request-target: path and query
    literal_ip: IPAddress | None


_FORBIDDEN_URL_CHARS = re.compile(r"[\x00-\x20\x7f]")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
_PATH_SAFE: Final = "/:@!$&'()*+,;=?%[]~"


@functools.lru_cache(maxsize=4096)  # pure; a sender posts to the same few URLs all day
def _parse_url(url: str) -> _Target:
    if not url:
        raise UrlRefused("the URL is empty")
    if len(url) > _MAX_URL_LENGTH:
        raise UrlRefused(f"the URL is longer than {_MAX_URL_LENGTH} characters")
    if _FORBIDDEN_URL_CHARS.search(url):
        raise UrlRefused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        if not scheme:
            raise UrlRefused("the URL must start with http:// or https://")
        raise UrlRefused(f"the scheme {scheme!r} is not allowed; use http or https")
    if "@" in parts.netloc:
        raise UrlRefused("the URL must not contain a user name or password")
    host = parts.hostname
    if not host:
        raise UrlRefused("the URL has no host")
    try:
        explicit_port = parts.port
    except ValueError:
        raise UrlRefused("the port must be a number from 1 to 65535") from None
    if explicit_port is not None and not 1 <= explicit_port <= 65535:
        raise UrlRefused("the port must be a number from 1 to 65535")
    port = explicit_port if explicit_port is not None else _DEFAULT_PORTS[scheme]

    literal: IPAddress | None
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is None:
        if "[" in parts.netloc:
            raise UrlRefused(f"{host!r} is not a valid IPv6 address")
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise UrlRefused(f"{host!r} is not a valid host name") from None
        if not _HOST_NAME.fullmatch(host):
            raise UrlRefused(f"{host!r} is not a valid host name")
        host_header = host
    else:
        host_header = f"[{host}]" if literal.version == 6 else host
    if port != _DEFAULT_PORTS[scheme]:
        host_header = f"{host_header}:{port}"

    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    target = quote(path, safe=_PATH_SAFE).encode("ascii")
    return _Target(scheme, host, port, host_header, target, literal)


def validate_url_syntax(url: str, *, allow_private: bool = False) -> None:
    """Refuse (``UrlRefused``) a URL that can never be fetched, without any network access:
    a scheme other than http/https, user info, a bad port or host, and a literal IP address
    that is not public (unless ``allow_private``). Host names are checked by ``check_url``."""
    target = _parse_url(url)
    if target.literal_ip is not None and not allow_private:
        _check_addresses(target, (target.literal_ip,))


# ---------------------------------------------------------------------------------------------
# Addresses

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_PRIVATE_V4 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def _non_public_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not an address customer URLs may reach (a noun phrase), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = None
        form = ""
        if ip.ipv4_mapped is not None:
            embedded, form = ip.ipv4_mapped, "an IPv4-mapped address"
        elif ip.sixtofour is not None:
            embedded, form = ip.sixtofour, "a 6to4 address"
        elif ip in _NAT64:
            embedded, form = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "a NAT64 address"
        if embedded is not None:
            inner = _non_public_reason(embedded)
            return None if inner is None else f"{form} of {embedded}, {inner}"
        if ip in _NAT64_LOCAL:
            return "a local-use NAT64 address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip in _METADATA:
        return "a link-local address (the cloud metadata service)"
    if ip.is_link_local:
        return "a link-local address"
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in _CGNAT:
            return "a carrier-grade NAT (shared) address"
        if any(ip in net for net in _PRIVATE_V4):
            return "a private address"
    else:
        if ip in _UNIQUE_LOCAL:
            return "a unique-local (private) address"
        if ip.is_site_local:
            return "a site-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return "a special-purpose (non-public) address"
    return None


def _check_addresses(target: _Target, addresses: Sequence[IPAddress]) -> None:
    for ip in addresses:
        reason = _non_public_reason(ip)
        if reason is not None:
            if target.literal_ip is not None:
                message = f"{target.host} is {reason}; {_PUBLIC_HINT}"  # as written: 3.11 prints ::ffff:7f00:1
            else:
                message = f"{target.host} resolves to {ip}, {reason}; {_PUBLIC_HINT}"
            raise UrlRefused(message, kind="not_public")


async def system_resolver(host: str, port: int) -> list[str]:
    """The default resolver: the system's ``getaddrinfo`` (run off the event loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[str] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = str(sockaddr[0])
            if address not in found:
                found.append(address)
    return found


async def _resolve(resolver: Resolver, target: _Target) -> tuple[IPAddress, ...]:
    if target.literal_ip is not None:
        return (target.literal_ip,)
    try:
        raw = await resolver(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UrlRefused(f"cannot resolve {target.host}: {why}", kind="unresolvable") from None
    try:
        addresses = tuple(dict.fromkeys(ipaddress.ip_address(a) for a in raw))
    except ValueError as exc:
        raise UrlRefused(f"cannot resolve {target.host}: {exc}", kind="unresolvable") from None
    if not addresses:
        raise UrlRefused(f"cannot resolve {target.host}: no addresses", kind="unresolvable")
    return addresses


async def check_url(url: str, *, allow_private: bool, resolver: Resolver | None = None) -> None:
    """The check when a customer URL is saved: syntax, then (unless ``allow_private``) a lookup
    whose every address must be public. Raises ``UrlRefused`` saying why. With ``allow_private``
    the name is not looked up at all (development hosts need not resolve yet)."""
    target = _parse_url(url)
    if allow_private:
        return
    _check_addresses(target, await _resolve(resolver or system_resolver, target))


# ---------------------------------------------------------------------------------------------
# Headers

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHARS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MANAGED_HEADERS: Final = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade", "te"})


def validate_headers(headers: Mapping[str, str]) -> None:
    """Refuse (``InvalidHeader``) header names that are not HTTP tokens, values with CR, LF or
    other control characters (header injection), and headers the client manages itself."""
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise InvalidHeader(f"{name!r} is not a valid header name")
        if _BAD_VALUE_CHARS.search(value):
            raise InvalidHeader(f"the value of header {name!r} contains a line break or control character")
        if name.lower() in _MANAGED_HEADERS:
            raise InvalidHeader(f"the header {name!r} is set by the client and cannot be given")
