"""HTTP tools against a real loopback endpoint: the request each method makes, the answer the
model gets, and every way the customer's API can misbehave (never an exception, always a reason)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from callwright.dialogue.tools import MAX_RESULT_CHARS
from callwright.domain.agent import HttpTool
from callwright.net import SafeHttpClient
from callwright.services.http_tools import HttpToolRunner
from callwright.services.secrets import SecretBox
from tests.fakes.tool_endpoint import ToolEndpoint

box = SecretBox(b"test root key")
TOKEN = "tok-secret-1234"


@pytest.fixture
def endpoint() -> Iterator[ToolEndpoint]:
    with ToolEndpoint() as server:
        yield server


@pytest.fixture
async def runner() -> AsyncIterator[HttpToolRunner]:
    async with SafeHttpClient(allow_private=True) as client:
        yield HttpToolRunner(client, box)


def tool(url: str, **fields: Any) -> HttpTool:
    return HttpTool.model_validate({"name": "lookup_order", "url": url, **fields})


async def test_a_post_tool_sends_the_arguments_as_a_json_body_with_its_headers_and_auth(
    runner: HttpToolRunner, endpoint: ToolEndpoint
) -> None:
    auth = {"type": "bearer", "token": box.encrypt(TOKEN)}
    await runner.call(tool(endpoint.url, headers={"X-Shop": "acme"}, auth=auth), {"order": "A-17", "qty": 2})
    [seen] = endpoint.requests
    assert seen.method == "POST" and seen.path == "/tool" and seen.query == {}
    assert seen.json() == {"order": "A-17", "qty": 2}
    h = seen.headers
    assert h["authorization"] == f"Bearer {TOKEN}" and h["x-shop"] == "acme"
    assert h["content-type"] == "application/json" and h["accept"] == "application/json"
    assert h["user-agent"].startswith("Callwright")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_put_and_patch_send_a_json_body_too(
    runner: HttpToolRunner, endpoint: ToolEndpoint, method: str
) -> None:
    await runner.call(tool(endpoint.url, method=method), {"status": "shipped"})
    [seen] = endpoint.requests
    assert seen.method == method and seen.json() == {"status": "shipped"}


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_get_and_delete_send_the_arguments_as_the_query_string(
    runner: HttpToolRunner, endpoint: ToolEndpoint, method: str
) -> None:
    arguments = {"order": "A 17&x", "qty": 2, "gift": True, "tags": ["a", "b"], "note": None}
    await runner.call(tool(endpoint.url + "?shop=acme", method=method), arguments)
    [seen] = endpoint.requests
    assert seen.method == method and seen.body == b""
    assert seen.query == {
        "shop": ["acme"], "order": ["A 17&x"], "qty": ["2"], "gift": ["true"], "tags": ['["a","b"]'],
    }
    assert "content-type" not in seen.headers and seen.headers["accept"] == "application/json"


async def test_a_json_answer_is_returned_parsed(runner: HttpToolRunner, endpoint: ToolEndpoint) -> None:
    endpoint.reply({"status": "shipped", "items": [{"sku": "X1"}]}, status=201)
    outcome = await runner.call(tool(endpoint.url), {})
    assert outcome.ok and outcome.status_code == 201
    assert outcome.result == {"status": "shipped", "items": [{"sku": "X1"}]}


async def test_a_text_answer_is_returned_as_text_cut_to_the_limit(
    runner: HttpToolRunner, endpoint: ToolEndpoint
) -> None:
    endpoint.reply(raw=("The order shipped. " * 1000).encode(), content_type="text/plain")
    outcome = await runner.call(tool(endpoint.url), {})
    assert outcome.ok and isinstance(outcome.result, str)
    assert outcome.result.startswith("The order shipped.") and len(outcome.result) == MAX_RESULT_CHARS


async def test_an_empty_answer_is_a_success(runner: HttpToolRunner, endpoint: ToolEndpoint) -> None:
    endpoint.reply(raw=b"", status=204, content_type="")
    outcome = await runner.call(tool(endpoint.url, method="DELETE"), {"order": "A-17"})
    assert outcome.ok and outcome.status_code == 204 and outcome.result == {"ok": True}


async def test_a_500_fails_with_the_status_and_the_start_of_the_body(
    runner: HttpToolRunner, endpoint: ToolEndpoint
) -> None:
    endpoint.reply(raw=b"database is down " + b"x" * 1000, status=500, content_type="text/plain")
    outcome = await runner.call(tool(endpoint.url), {})
    assert not outcome.ok and outcome.status_code == 500
    assert outcome.result.startswith("the tool answered HTTP 500: database is down")
    assert len(outcome.result) == len("the tool answered HTTP 500: ") + 300


async def test_a_redirect_is_not_followed(runner: HttpToolRunner, endpoint: ToolEndpoint) -> None:
    endpoint.reply(raw=b"", status=302, content_type="")
    outcome = await runner.call(tool(endpoint.url), {})
    assert not outcome.ok and outcome.status_code == 302
    assert outcome.result == "the tool answered HTTP 302 (redirects are not followed)"


async def test_junk_declared_as_json_fails_saying_so(runner: HttpToolRunner, endpoint: ToolEndpoint) -> None:
    endpoint.reply(raw=b"{not json at all", content_type="application/json; charset=utf-8")
    outcome = await runner.call(tool(endpoint.url), {})
    assert not outcome.ok and outcome.status_code == 200
    assert outcome.result.startswith("the tool's response is not valid JSON (")


async def test_a_binary_answer_fails_saying_so(runner: HttpToolRunner, endpoint: ToolEndpoint) -> None:
    endpoint.reply(raw=b"\x89PNG\r\n\x1a\n\xff\xfe\x00", content_type="image/png")
    outcome = await runner.call(tool(endpoint.url), {})
    assert not outcome.ok and outcome.status_code == 200
    assert outcome.result == "the tool answered with 11 bytes of binary data (image/png), not text"


async def test_a_tool_that_hangs_fails_within_its_timeout(runner: HttpToolRunner, endpoint: ToolEndpoint) -> None:
    endpoint.hang = True
    started = time.monotonic()
    outcome = await runner.call(tool(endpoint.url, timeout_s=0.5), {})
    assert time.monotonic() - started < 2.0
    assert not outcome.ok and outcome.status_code is None
    assert outcome.result == "the tool did not answer within 0.5 s"


async def test_a_private_address_is_refused_without_a_request(endpoint: ToolEndpoint) -> None:
    async with SafeHttpClient() as client:
        outcome = await HttpToolRunner(client, box).call(tool(endpoint.url), {"order": "A-17"})
    assert not outcome.ok and outcome.status_code is None
    assert outcome.result.startswith("the tool's URL was refused: ") and "public" in outcome.result
    assert endpoint.requests == []


async def test_a_refused_connection_fails_saying_so(runner: HttpToolRunner) -> None:
    with socket.socket() as s:  # a port that was just free and has nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = await runner.call(tool(f"http://127.0.0.1:{port}/tool"), {})
    assert not outcome.ok and outcome.status_code is None
    assert "could not connect" in outcome.result and "refused" in outcome.result.lower()


async def test_credentials_this_server_cannot_decrypt_fail_without_a_request(
    endpoint: ToolEndpoint, runner: HttpToolRunner
) -> None:
    foreign = SecretBox(b"another server's key").encrypt(TOKEN)
    outcome = await runner.call(tool(endpoint.url, auth={"type": "bearer", "token": foreign}), {})
    assert not outcome.ok and "cannot be decrypted" in outcome.result
    assert endpoint.requests == []


async def test_the_tool_credentials_win_over_a_configured_header_of_the_same_name(
    runner: HttpToolRunner, endpoint: ToolEndpoint
) -> None:
    auth = {"type": "bearer", "token": box.encrypt(TOKEN)}
    await runner.call(tool(endpoint.url, headers={"authorization": "Bearer stale"}, auth=auth), {})
    assert endpoint.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_the_log_names_the_tool_and_status_but_not_its_secrets_or_arguments(
    runner: HttpToolRunner, endpoint: ToolEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    auth = {"type": "header", "header_name": "X-Api-Key", "header_value": box.encrypt("key-5555-secret")}
    with caplog.at_level(logging.INFO, logger="callwright.http_tools"):
        await runner.call(tool(endpoint.url + "?api_key=in-url-7777", auth=auth), {"card_holder": "Ann Example"})
    [record] = [r for r in caplog.records if r.name == "callwright.http_tools"]
    logged = record.getMessage() + json.dumps(getattr(record, "fields", {}))
    assert "lookup_order" in logged and "200" in logged
    assert "key-5555-secret" not in logged and "in-url-7777" not in logged and "Ann Example" not in logged
