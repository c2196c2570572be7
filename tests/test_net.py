"""The SSRF-safe client against real loopback servers (raw asyncio HTTP written here, and TLS)."""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from callwright import __version__
from callwright.net import (
    BadResponse,
    ConnectFailed,
    FetchTimeout,
    InvalidHeader,
    Limits,
    ResponseTooLarge,
    SafeHttpClient,
    UrlRefused,
    check_url,
    validate_url_syntax,
)

FAST = Limits(connect_timeout_s=0.3, total_timeout_s=0.3)
HINT = "customer URLs must be public (set CALLWRIGHT_ALLOW_PRIVATE_URLS=true for development)"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A raw HTTP/1.1 server on 127.0.0.1; the request path picks the behaviour."""

    connections: int = 0
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            for index in range(1_000_000):
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
                method, path, _ = request_line.split(" ")
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(method, path, headers, body))
                if not await self._respond(index, path, headers, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _respond(
        self, index: int, path: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        """Write the response for ``path``; False closes the connection."""

        def send(status: str, payload: bytes, *extra: str) -> None:
            head = [f"HTTP/1.1 {status}", f"Content-Length: {len(payload)}", *extra]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)

        if path == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            writer.write(b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n")
        elif path == "/redirect":
            send("302 Found", b"", "Location: http://127.0.0.1/admin")
        elif path == "/close":
            send("200 OK", b"bye", "Connection: close")
            return False
        elif path == "/hang":
            await asyncio.Event().wait()
        elif path == "/drip":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.02)
        elif path == "/big":
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {50 << 20}\r\n\r\n".encode())
            await self._stream(writer, 50 << 20, chunked=False)
        elif path == "/big-chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            await self._stream(writer, 50 << 20, chunked=True)
        elif path == "/garbage":
            writer.write(b"SSH-2.0-OpenSSH_9.6 certainly not HTTP\r\n\r\n")
            return False
        elif path == "/silent-close":
            return False
        elif path == "/one-per-connection" and index > 0:
            return False  # drop a kept-alive connection on its next request, without a word
        else:
            echo = {"path": path, "host": headers.get("host"), "body": body.decode()}
            send("200 OK", json.dumps(echo).encode(), "Content-Type: application/json")
        await writer.drain()
        return True

    @staticmethod
    async def _stream(writer: asyncio.StreamWriter, total: int, *, chunked: bool) -> None:
        block = b"x" * (64 << 10)
        for _ in range(total // len(block)):
            writer.write(b"10000\r\n" + block + b"\r\n" if chunked else block)
            await writer.drain()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def client() -> AsyncIterator[SafeHttpClient]:
    async with SafeHttpClient(allow_private=True) as c:
        yield c


@pytest.fixture
async def strict() -> AsyncIterator[SafeHttpClient]:
    async with SafeHttpClient(allow_private=False) as c:
        yield c


def resolver_for(
    mapping: dict[str, list[str]], calls: list[str] | None = None
) -> Callable[[str, int], Awaitable[list[str]]]:
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return mapping[host]

    return resolve


# -- talking HTTP ----------------------------------------------------------------------------


async def test_get_returns_status_headers_and_body(client: SafeHttpClient, server: Server) -> None:
    r = await client.request("GET", f"{server.url}/hello?x=1")
    assert r.status_code == 200 and r.is_success
    assert r.header("Content-Type") == "application/json"
    assert r.json()["path"] == "/hello?x=1"
    assert r.elapsed_ms > 0
    sent = server.requests[0]
    assert sent.method == "GET"
    assert sent.headers["host"] == f"127.0.0.1:{server.port}"
    assert sent.headers["user-agent"] == f"Callwright/{__version__}"


async def test_post_sends_body_with_content_length(client: SafeHttpClient, server: Server) -> None:
    r = await client.request("POST", f"{server.url}/hook", headers={"X-Sig": "abc"}, body=b'{"a": 1}')
    assert r.json()["body"] == '{"a": 1}'
    sent = server.requests[0]
    assert (sent.method, sent.headers["content-length"], sent.headers["x-sig"]) == ("POST", "8", "abc")


async def test_sequential_requests_reuse_one_kept_alive_connection(client: SafeHttpClient, server: Server) -> None:
    for _ in range(5):
        assert (await client.request("POST", f"{server.url}/hook", body=b"{}")).status_code == 200
    assert server.connections == 1
    assert len(server.requests) == 5


async def test_connection_close_response_is_not_reused(client: SafeHttpClient, server: Server) -> None:
    await client.request("GET", f"{server.url}/close")
    await client.request("GET", f"{server.url}/close")
    assert server.connections == 2


async def test_concurrent_requests_each_get_their_own_response(client: SafeHttpClient, server: Server) -> None:
    responses = await asyncio.gather(*(client.request("GET", f"{server.url}/n{i}") for i in range(20)))
    assert [r.json()["path"] for r in responses] == [f"/n{i}" for i in range(20)]


async def test_chunked_response_is_read(client: SafeHttpClient, server: Server) -> None:
    r = await client.request("GET", f"{server.url}/chunked")
    assert r.body == b"hello world"


async def test_dropped_kept_alive_connection_is_retried_once_on_a_fresh_one(
    client: SafeHttpClient, server: Server
) -> None:
    first = await client.request("POST", f"{server.url}/one-per-connection", body=b"1")
    second = await client.request("POST", f"{server.url}/one-per-connection", body=b"2")
    assert first.status_code == second.status_code == 200
    assert second.json()["body"] == "2"
    assert server.connections == 2


async def test_redirect_is_returned_not_followed(client: SafeHttpClient, server: Server) -> None:
    r = await client.request("GET", f"{server.url}/redirect")
    assert r.status_code == 302
    assert r.header("location") == "http://127.0.0.1/admin"
    assert [req.path for req in server.requests] == ["/redirect"]


# -- the address rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/", "127.0.0.1 is a loopback address"),
        ("http://[::1]:{port}/", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://[::ffff:127.0.0.1]:{port}/", "::ffff:127.0.0.1 is an IPv4-mapped address of 127.0.0.1, a loopback"),
        ("http://0.0.0.0:{port}/", "0.0.0.0 is an unspecified address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://[2002:7f00:1::]/", "2002:7f00:1:: is a 6to4 address of 127.0.0.1, a loopback address"),
        ("http://[64:ff9b::a00:1]/", "64:ff9b::a00:1 is a NAT64 address of 10.0.0.1, a private address"),
        ("http://192.0.2.1/", "192.0.2.1 is a special-purpose (non-public) address"),
    ],
)
async def test_non_public_literal_address_is_refused_with_the_reason(
    strict: SafeHttpClient, server: Server, url: str, reason: str
) -> None:
    with pytest.raises(UrlRefused) as refused:
        await strict.request("GET", url.format(port=server.port))
    assert refused.value.kind == "not_public"
    assert refused.value.message.startswith(reason)
    assert refused.value.message.endswith(HINT)
    assert server.connections == 0


async def test_name_resolving_to_loopback_is_refused_without_connecting(strict: SafeHttpClient, server: Server) -> None:
    with pytest.raises(UrlRefused, match=r"^localhost resolves to (127\.0\.0\.1|::1), a loopback address; "):
        await strict.request("GET", f"http://localhost:{server.port}/")
    assert server.connections == 0


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("100.64.0.1", "a carrier-grade NAT (shared) address"),
        ("fc00::1", "a unique-local (private) address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
    ],
)
async def test_name_resolving_to_a_non_public_address_is_refused(address: str, reason: str) -> None:
    resolver = resolver_for({"hooks.customer.example": [address]})
    async with SafeHttpClient(resolver=resolver) as c:
        with pytest.raises(UrlRefused) as refused:
            await c.request("GET", "https://hooks.customer.example/x")
    assert refused.value.message == f"hooks.customer.example resolves to {address}, {reason}; {HINT}"


async def test_one_non_public_address_among_public_ones_refuses_the_url() -> None:
    resolver = resolver_for({"mixed.example": ["93.184.215.14", "10.1.2.3"]})
    with pytest.raises(UrlRefused, match=r"resolves to 10\.1\.2\.3, a private address"):
        await check_url("https://mixed.example/", allow_private=False, resolver=resolver)


async def test_public_addresses_pass_the_check() -> None:
    resolver = resolver_for({"api.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]})
    await check_url("https://api.example/hook", allow_private=False, resolver=resolver)


async def test_unresolvable_name_is_refused() -> None:
    with pytest.raises(UrlRefused) as refused:
        await check_url("https://nowhere.example/", allow_private=False, resolver=resolver_for({}))
    assert refused.value.kind == "unresolvable"
    assert refused.value.message == "cannot resolve nowhere.example: Name or service not known"


async def test_allow_private_check_only_validates_syntax() -> None:
    await check_url("http://localhost:8000/hook", allow_private=True, resolver=resolver_for({}))
    with pytest.raises(UrlRefused):
        await check_url("ftp://localhost/", allow_private=True)


async def test_name_is_resolved_once_and_the_checked_address_is_used(server: Server) -> None:
    """DNS rebinding: a second lookup would answer an unroutable address; the client never makes one."""
    calls: list[str] = []
    answers = iter([["127.0.0.1"], ["192.0.2.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    async with SafeHttpClient(allow_private=True, resolver=rebinding, dns_ttl_s=0) as c:
        r = await c.request("POST", f"http://customer.example:{server.port}/hook", body=b"{}", limits=FAST)
    assert r.status_code == 200
    assert calls == ["customer.example"]
    assert server.requests[0].headers["host"] == f"customer.example:{server.port}"


async def test_each_request_resolves_afresh_without_the_cache(server: Server) -> None:
    calls: list[str] = []
    resolver = resolver_for({"customer.example": ["127.0.0.1"]}, calls)
    async with SafeHttpClient(allow_private=True, resolver=resolver, dns_ttl_s=0) as c:
        for _ in range(3):
            await c.request("GET", f"http://customer.example:{server.port}/")
    assert calls == ["customer.example"] * 3
    assert server.connections == 1  # the pool is per checked address, not per lookup


async def test_cached_addresses_are_checked_again() -> None:
    calls: list[str] = []
    resolver = resolver_for({"customer.example": ["10.0.0.7"]}, calls)
    async with SafeHttpClient(resolver=resolver) as c:
        for _ in range(2):
            with pytest.raises(UrlRefused, match=r"10\.0\.0\.7, a private address"):
                await c.request("GET", "http://customer.example/")
    assert calls == ["customer.example"]


# -- bounds ----------------------------------------------------------------------------------


async def test_server_that_never_answers_times_out(client: SafeHttpClient, server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as timeout:
        await client.request("GET", f"{server.url}/hang", limits=FAST)
    assert timeout.value.kind == "timeout"
    assert 0.25 < time.monotonic() - started < 1.0


async def test_slow_drip_past_the_total_timeout_times_out(client: SafeHttpClient, server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeout, match=r"within 0\.3 s"):
        await client.request("GET", f"{server.url}/drip", limits=FAST)
    assert time.monotonic() - started < 1.0


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose accept queue is full: the kernel drops further SYNs, so connecting hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for s in [*fillers, listener]:
        s.close()


async def test_connect_that_hangs_is_a_connect_timeout(client: SafeHttpClient, full_backlog: int) -> None:
    await asyncio.sleep(0.05)
    limits = Limits(connect_timeout_s=0.2, total_timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(FetchTimeout) as timeout:
        await client.request("GET", f"http://127.0.0.1:{full_backlog}/", limits=limits)
    assert timeout.value.kind == "connect_timeout"
    assert time.monotonic() - started < 1.0


async def test_announced_huge_body_is_refused_without_reading_it(client: SafeHttpClient, server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge) as too_large:
        await client.request("GET", f"{server.url}/big")
    assert too_large.value.kind == "too_large"
    assert time.monotonic() - started < 1.0


async def test_streamed_huge_body_stops_at_the_limit(client: SafeHttpClient, server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="over the limit of 1048576 bytes"):
        await client.request("GET", f"{server.url}/big-chunked")
    assert time.monotonic() - started < 1.0


async def test_body_limit_is_per_request(client: SafeHttpClient, server: Server) -> None:
    with pytest.raises(ResponseTooLarge):
        await client.request("GET", f"{server.url}/chunked", limits=Limits(max_response_bytes=5))
    assert (await client.request("GET", f"{server.url}/chunked", limits=Limits(max_response_bytes=11))).body


# -- broken peers ----------------------------------------------------------------------------


async def test_garbage_instead_of_http_is_a_bad_response(client: SafeHttpClient, server: Server) -> None:
    with pytest.raises(BadResponse) as bad:
        await client.request("GET", f"{server.url}/garbage")
    assert bad.value.kind == "bad_response"


async def test_fresh_connection_closed_without_a_response_is_a_bad_response(
    client: SafeHttpClient, server: Server
) -> None:
    with pytest.raises(BadResponse, match="closed the connection without a response"):
        await client.request("GET", f"{server.url}/silent-close")
    assert server.connections == 1  # not retried: the connection was new


async def test_refused_connection_is_connect_failed(client: SafeHttpClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connecting is refused
        with pytest.raises(ConnectFailed) as failed:
            await client.request("GET", f"http://127.0.0.1:{port}/")
    assert failed.value.kind == "connect_failed"
    assert failed.value.message == f"could not connect to 127.0.0.1 port {port} (127.0.0.1: Connection refused)"


# -- TLS: connect to the checked IP, verify the certificate against the name -------------------


def _certificates(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``name`` signed by it."""
    now = datetime.datetime.now(datetime.UTC)

    def build(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
        else:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("Test CA", ca_key, "Test CA", ca_key, ca=True)
    leaf_cert = build(name, leaf_key, "Test CA", ca_key, ca=False)
    ca_pem, cert_pem, key_pem = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_pem, cert_pem, key_pem


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[Server, ssl.SSLContext]]:
    ca_pem, cert_pem, key_pem = _certificates(tmp_path, "customer.example")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_pem, key_pem)
    srv = Server()
    await srv.start(tls=server_context)
    yield srv, ssl.create_default_context(cafile=str(ca_pem))
    await srv.stop()


async def test_https_connects_to_the_checked_ip_and_verifies_the_name(
    tls_server: tuple[Server, ssl.SSLContext],
) -> None:
    srv, trust = tls_server
    resolver = resolver_for({"customer.example": ["127.0.0.1"]})
    async with SafeHttpClient(allow_private=True, resolver=resolver, ssl_context=trust) as c:
        for _ in range(2):
            r = await c.request("POST", f"https://customer.example:{srv.port}/hook", body=b"{}")
            assert r.json()["host"] == f"customer.example:{srv.port}"
    assert srv.connections == 1


async def test_https_certificate_for_another_name_is_refused(tls_server: tuple[Server, ssl.SSLContext]) -> None:
    srv, trust = tls_server
    resolver = resolver_for({"attacker.example": ["127.0.0.1"]})
    async with SafeHttpClient(allow_private=True, resolver=resolver, ssl_context=trust) as c:
        with pytest.raises(ConnectFailed) as failed:
            await c.request("GET", f"https://attacker.example:{srv.port}/")
    assert failed.value.kind == "tls"
    assert "attacker.example" in failed.value.message
    assert srv.requests == []


# -- URL and header syntax -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://files.example/x", "the scheme 'ftp' is not allowed; use http or https"),
        ("file:///etc/passwd", "the scheme 'file' is not allowed; use http or https"),
        ("gopher://example.com/", "the scheme 'gopher' is not allowed; use http or https"),
        ("example.com/hook", "the URL must start with http:// or https://"),
        ("http://user:pw@example.com/", "the URL must not contain a user name or password"),
        ("http://@example.com/", "the URL must not contain a user name or password"),
        ("http://example.com:0/", "the port must be a number from 1 to 65535"),
        ("http://example.com:65536/", "the port must be a number from 1 to 65535"),
        ("http://example.com:http/", "the port must be a number from 1 to 65535"),
        ("http:///path", "the URL has no host"),
        ("http://exa mple.com/", "the URL contains spaces or control characters"),
        ("http://example.com/\r\nX-Injected: 1", "the URL contains spaces or control characters"),
        ("http://bad!host.example/", "'bad!host.example' is not a valid host name"),
    ],
)
def test_bad_url_syntax_is_refused(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        validate_url_syntax(url, allow_private=True)
    assert refused.value.kind == "bad_url"
    assert refused.value.message == why


def test_literal_private_address_is_refused_by_the_syntax_check() -> None:
    with pytest.raises(UrlRefused, match=r"^127\.0\.0\.1 is a loopback address"):
        validate_url_syntax("http://127.0.0.1:8000/hook")
    validate_url_syntax("http://127.0.0.1:8000/hook", allow_private=True)
    validate_url_syntax("https://hooks.example.com/hook")


async def test_bad_scheme_is_refused_by_the_client(client: SafeHttpClient) -> None:
    with pytest.raises(UrlRefused, match="scheme 'file'"):
        await client.request("GET", "file:///etc/passwd")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Sig": "a\r\nX-Injected: 1"},
        {"X-Sig": "a\nb"},
        {"X-Bad\r\nName": "a"},
        {"Bad Name": "a"},
        {"Host": "internal.example"},
        {"Content-Length": "0"},
        {"Transfer-Encoding": "chunked"},
    ],
)
async def test_header_injection_and_managed_headers_are_refused(
    client: SafeHttpClient, server: Server, headers: dict[str, str]
) -> None:
    with pytest.raises(InvalidHeader) as invalid:
        await client.request("POST", f"{server.url}/hook", headers=headers, body=b"")
    assert invalid.value.kind == "bad_header"
    assert isinstance(invalid.value, ValueError)
    assert server.connections == 0


async def test_non_ascii_path_is_percent_encoded(client: SafeHttpClient, server: Server) -> None:
    r = await client.request("GET", f"{server.url}/café?q=a%20b")
    assert r.json()["path"] == "/caf%C3%A9?q=a%20b"
