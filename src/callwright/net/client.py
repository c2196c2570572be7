"""The HTTP/1.1 client itself: h11 over asyncio streams, a keep-alive pool keyed by the checked
address, bounded in time and size, never following a redirect."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import h11

from callwright import __version__
from callwright.net.errors import (
    BadResponse,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    InvalidHeader,
    ResponseTooLarge,
)
from callwright.net.guard import (
    _TOKEN,
    IPAddress,
    Resolver,
    _check_addresses,
    _parse_url,
    _resolve,
    _Target,
    system_resolver,
    validate_headers,
)

USER_AGENT: Final = f"Callwright/{__version__}"
_READ_SIZE: Final = 64 * 1024
_MAX_HEADER_BYTES: Final = 64 * 1024  # response head (status line + headers)

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
