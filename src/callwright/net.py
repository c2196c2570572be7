"""The one outbound HTTP client for customer-supplied URLs (webhooks, dynamic context, LLM tools).

A URL a customer typed can point anywhere this server can reach: loopback admin ports, the
private network, the cloud metadata service at 169.254.169.254 (SSRF). So every such request
goes through here, and here:

* only ``http``/``https``, no user name or password, a port from 1 to 65535;
* the host name is resolved ONCE and every address must be public (``is_global`` plus explicit
  checks: loopback, private, link-local, CGNAT, unique-local, multicast, reserved, and the
  IPv4-mapped / 6to4 / NAT64 forms of those); if any address is refused, the URL is refused;
* the connection goes to the address that was checked, never to a second lookup (``Host`` and
  TLS SNI/certificate verification still use the name), so DNS rebinding cannot redirect it;
* redirects are never followed: a 3xx is returned like any other response;
* everything is bounded: connect time, total time, response size, header size.

It speaks HTTP/1.1 with h11 over asyncio streams with a keep-alive pool, because webhook
delivery must sustain well over a thousand requests a second. ``allow_private`` lifts the
address rule, for development and tests only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import os
import re
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlsplit

import h11

from callwright import __version__

__all__ = [
    "BadResponse",
    "ConnectFailed",
    "FetchError",
    "FetchTimeout",
    "InvalidHeader",
    "Limits",
    "Resolver",
    "Response",
    "ResponseTooLarge",
    "SafeHttpClient",
    "UrlRefused",
    "check_url",
    "system_resolver",
    "validate_headers",
    "validate_url_syntax",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> IP address strings``; raises ``OSError`` (e.g. ``socket.gaierror``) on failure."""

USER_AGENT: Final = f"Callwright/{__version__}"
_PUBLIC_HINT: Final = "customer URLs must be public (set CALLWRIGHT_ALLOW_PRIVATE_URLS=true for development)"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_READ_SIZE: Final = 64 * 1024
_MAX_URL_LENGTH: Final = 8192
_MAX_HEADER_BYTES: Final = 64 * 1024  # response head (status line + headers)


# ---------------------------------------------------------------------------------------------
# Errors


class FetchError(Exception):
    """Any failure of an outbound request. ``kind`` is a short machine code, ``message`` says why."""

    kind: str = "fetch_error"

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind


class UrlRefused(FetchError):
    """The URL may not be fetched: kinds ``bad_url``, ``not_public``, ``unresolvable``."""

    kind = "bad_url"


class InvalidHeader(FetchError, ValueError):
    """A request header is malformed or could inject another header (kind ``bad_header``)."""

    kind = "bad_header"


class FetchTimeout(FetchError):
    """Kinds ``connect_timeout`` (no connection in time) and ``timeout`` (total time exceeded)."""

    kind = "timeout"


class ResponseTooLarge(FetchError):
    """The response body is over the limit (kind ``too_large``); reading stopped there."""

    kind = "too_large"


class ConnectFailed(FetchError):
    """Kinds ``connect_failed`` (refused, unreachable, reset while sending) and ``tls``."""

    kind = "connect_failed"


class BadResponse(FetchError):
    """The server did not answer with valid HTTP/1.x (kind ``bad_response``)."""

    kind = "bad_response"


# ---------------------------------------------------------------------------------------------
# Public values


@dataclass(frozen=True, slots=True)
class Limits:
    connect_timeout_s: float = 5.0
    total_timeout_s: float = 15.0
    max_response_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if self.connect_timeout_s <= 0 or self.total_timeout_s <= 0 or self.max_response_bytes < 0:
            raise ValueError("timeouts must be positive and max_response_bytes non-negative")


@dataclass(frozen=True, slots=True)
class Response:
    status_code: int
    headers: list[tuple[str, str]]  # names lower-cased, in the order received
    body: bytes
    elapsed_ms: float

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body)


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


# ---------------------------------------------------------------------------------------------
# Client

_PoolKey = tuple[str, str, int, str]  # scheme, checked IP, port, Host header


@dataclass(eq=False, slots=True)
class _Conn:
    key: _PoolKey
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT, _MAX_HEADER_BYTES))
    idle_since: float = 0.0

    def alive(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


def _why(exc: OSError) -> str:
    """``Connection refused`` rather than asyncio's ``Connect call failed ('1.2.3.4', 80)``."""
    return os.strerror(exc.errno) if exc.errno and exc.errno > 0 else str(exc)


class _Stale(Exception):
    """The connection died before any response byte arrived; a reused one may be retried."""

    def __init__(self, error: FetchError) -> None:
        super().__init__(error.message)
        self.error = error


class SafeHttpClient:
    """HTTP/1.1 client for customer URLs; one per process (or per service), closed with ``aclose``."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        limits: Limits | None = None,
        max_idle_per_host: int = 128,
        max_idle_total: int = 512,
        idle_timeout_s: float = 30.0,
        dns_ttl_s: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._resolver: Resolver = resolver or system_resolver
        self._limits = limits or Limits()
        self._max_idle_per_host = max_idle_per_host
        self._max_idle_total = max_idle_total
        self._idle_timeout_s = idle_timeout_s
        self._dns_ttl_s = dns_ttl_s
        self._ssl_context = ssl_context
        self._idle: dict[_PoolKey, deque[_Conn]] = {}
        self._idle_count = 0
        self._last_sweep = 0.0
        self._dns: dict[tuple[str, int], tuple[float, tuple[IPAddress, ...]]] = {}
        self._closed = False

    async def __aenter__(self) -> SafeHttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        limits: Limits | None = None,
    ) -> Response:
        """One request; never follows redirects. Raises a ``FetchError`` subclass on any failure."""
        if self._closed:
            raise RuntimeError("the client is closed")
        if not _TOKEN.fullmatch(method):
            raise InvalidHeader(f"{method!r} is not a valid HTTP method")
        target = _parse_url(url)
        request_headers = self._headers(target, method.upper(), headers or {}, body)
        limits = limits or self._limits
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = asyncio.timeout(limits.total_timeout_s)
        try:
            async with deadline:
                addresses = await self._addresses(target)
                status, response_headers, content = await self._exchange(
                    target, addresses, method.upper(), request_headers, body, limits
                )
        except TimeoutError:
            if not deadline.expired():
                raise
            raise FetchTimeout(
                f"no complete response from {target.host} within {limits.total_timeout_s:g} s", kind="timeout"
            ) from None
        elapsed_ms = (loop.time() - started) * 1000.0
        return Response(status, response_headers, content, elapsed_ms)

    async def aclose(self) -> None:
        """Close every idle connection; connections in use are closed when their request ends."""
        self._closed = True
        pooled = [conn for queue in self._idle.values() for conn in queue]
        self._idle.clear()
        self._idle_count = 0
        for conn in pooled:
            conn.close()
        if pooled:
            with contextlib.suppress(Exception):
                await asyncio.wait([asyncio.ensure_future(c.writer.wait_closed()) for c in pooled], timeout=1.0)

    # -- steps -------------------------------------------------------------------------------

    @staticmethod
    def _headers(
        target: _Target, method: str, headers: Mapping[str, str], body: bytes | None
    ) -> list[tuple[bytes, bytes]]:
        validate_headers(headers)
        result = [(b"host", target.host_header.encode("ascii"))]
        if not any(name.lower() == "user-agent" for name in headers):
            result.append((b"user-agent", USER_AGENT.encode("ascii")))
        result.extend((name.encode("ascii"), value.strip(" \t").encode("utf-8")) for name, value in headers.items())
        if body is not None or method in ("POST", "PUT", "PATCH"):
            result.append((b"content-length", str(len(body or b"")).encode("ascii")))
        return result

    async def _addresses(self, target: _Target) -> tuple[IPAddress, ...]:
        """The addresses to connect to: resolved once (briefly cached) and checked every time."""
        if target.literal_ip is not None:
            addresses: tuple[IPAddress, ...] = (target.literal_ip,)
        else:
            now = asyncio.get_running_loop().time()
            cache_key = (target.host, target.port)
            cached = self._dns.get(cache_key)
            if cached is not None and cached[0] > now:
                addresses = cached[1]
            else:
                addresses = await _resolve(self._resolver, target)
                if self._dns_ttl_s > 0:
                    if len(self._dns) >= 4096:
                        self._dns.clear()
                    self._dns[cache_key] = (now + self._dns_ttl_s, addresses)
        if not self._allow_private:
            _check_addresses(target, addresses)
        return addresses

    async def _exchange(
        self,
        target: _Target,
        addresses: tuple[IPAddress, ...],
        method: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        limits: Limits,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = self._checkout(target, addresses)
        if conn is not None:
            try:
                return await self._round_trip(conn, target, method, headers, body, limits)
            except _Stale:
                conn.close()  # the server dropped the kept-alive connection: once more on a fresh one
            except BaseException:
                conn.close()
                raise
        conn = await self._connect(target, addresses, limits)
        try:
            return await self._round_trip(conn, target, method, headers, body, limits)
        except _Stale as stale:
            conn.close()
            raise stale.error from None
        except BaseException:
            conn.close()
            raise

    async def _connect(self, target: _Target, addresses: tuple[IPAddress, ...], limits: Limits) -> _Conn:
        tls = self._tls() if target.scheme == "https" else None
        failures: list[str] = []
        budget = asyncio.timeout(limits.connect_timeout_s)
        try:
            async with budget:
                for ip in addresses:
                    try:
                        reader, writer = await asyncio.open_connection(
                            str(ip), target.port, ssl=tls, server_hostname=target.host if tls else None
                        )
                    except ssl.SSLError as exc:
                        raise ConnectFailed(
                            f"TLS with {target.host} ({ip}) failed: {getattr(exc, 'verify_message', None) or exc}",
                            kind="tls",
                        ) from None
                    except OSError as exc:
                        failures.append(f"{ip}: {_why(exc)}")
                        continue
                    return _Conn((target.scheme, str(ip), target.port, target.host_header), reader, writer)
        except TimeoutError:
            if not budget.expired():
                raise
            raise FetchTimeout(
                f"could not connect to {target.host} port {target.port} within {limits.connect_timeout_s:g} s",
                kind="connect_timeout",
            ) from None
        raise ConnectFailed(f"could not connect to {target.host} port {target.port} ({'; '.join(failures)})")

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            context = ssl.create_default_context()
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_context = context
        return self._ssl_context

    async def _round_trip(
        self,
        conn: _Conn,
        target: _Target,
        method: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        limits: Limits,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        protocol = conn.protocol
        try:
            parts = [protocol.send(h11.Request(method=method, target=target.target, headers=headers))]
            if body:
                parts.append(protocol.send(h11.Data(data=body)))
            parts.append(protocol.send(h11.EndOfMessage()))
        except h11.LocalProtocolError as exc:
            raise InvalidHeader(f"cannot send this request: {exc}") from None
        try:
            conn.writer.write(b"".join(p for p in parts if p))
            await conn.writer.drain()
        except OSError as exc:
            raise _Stale(ConnectFailed(f"the connection to {target.host} broke while sending: {_why(exc)}")) from None

        received_any = False
        status = 0
        response_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        size = 0
        cap = limits.max_response_bytes
        while True:
            try:
                event = protocol.next_event()
            except h11.RemoteProtocolError as exc:
                raise BadResponse(f"{target.host} sent an invalid HTTP response: {exc}") from None
            if event is h11.NEED_DATA:
                try:
                    data = await conn.reader.read(_READ_SIZE)
                except OSError as exc:
                    error = BadResponse(f"the connection to {target.host} broke: {_why(exc)}")
                    if received_any:
                        raise error from None
                    raise _Stale(error) from None
                if not data and not received_any:
                    raise _Stale(BadResponse(f"{target.host} closed the connection without a response"))
                received_any = True
                protocol.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                response_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
                declared = next((v for k, v in response_headers if k == "content-length"), None)
                if method != "HEAD" and declared is not None and int(declared) > cap:
                    raise ResponseTooLarge(f"{target.host} announced {declared} bytes; the limit is {cap}")
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > cap:
                    raise ResponseTooLarge(f"the response from {target.host} is over the limit of {cap} bytes")
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.InformationalResponse):
                continue
            else:  # ConnectionClosed or PAUSED before the end of the response
                raise BadResponse(f"{target.host} closed the connection before the response was complete")

        if protocol.our_state is h11.DONE and protocol.their_state is h11.DONE:
            protocol.start_next_cycle()
            self._release(conn)
        else:
            conn.close()
        return status, response_headers, b"".join(chunks)

    # -- pool --------------------------------------------------------------------------------

    def _checkout(self, target: _Target, addresses: tuple[IPAddress, ...]) -> _Conn | None:
        now = asyncio.get_running_loop().time()
        for ip in addresses:
            key = (target.scheme, str(ip), target.port, target.host_header)
            queue = self._idle.get(key)
            while queue:
                conn = queue.pop()  # most recently used first: the likeliest to be alive
                self._idle_count -= 1
                if now - conn.idle_since < self._idle_timeout_s and conn.alive():
                    return conn
                conn.close()
        return None

    def _release(self, conn: _Conn) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._last_sweep > self._idle_timeout_s:
            self._sweep(now)
        if self._closed or self._idle_count >= self._max_idle_total:
            conn.close()
            return
        queue = self._idle.setdefault(conn.key, deque())
        if len(queue) >= self._max_idle_per_host:
            conn.close()
            return
        conn.idle_since = now
        queue.append(conn)
        self._idle_count += 1

    def _sweep(self, now: float) -> None:
        """Close connections idle too long or closed by the server; drop empty pool entries."""
        self._last_sweep = now
        for key in list(self._idle):
            queue = self._idle[key]
            keep = deque(c for c in queue if now - c.idle_since < self._idle_timeout_s and c.alive())
            for conn in queue:
                if conn not in keep:
                    conn.close()
            self._idle_count -= len(queue) - len(keep)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
