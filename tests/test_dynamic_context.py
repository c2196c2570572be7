"""Dynamic context against a real loopback endpoint: the documented request, each kind of auth,
the merge, every way the endpoint can misbehave (never an exception), and the per-contact cache."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from callwright.domain.agent import DynamicContext, DynamicContextAuth
from callwright.net import SafeHttpClient
from callwright.services.dynamic_context import ContextQuery, ContextResult, fetch_context, load_context
from callwright.services.secrets import SecretBox
from callwright.store.db import Database
from callwright.store.tables import context_cache
from callwright.store.types import utcnow
from tests.context_endpoint import ContextEndpoint

AGENT = uuid.UUID("11111111-2222-3333-4444-555555555555")
ROOM = uuid.UUID("99999999-8888-7777-6666-555555555555")
box = SecretBox(b"test root key")


@pytest.fixture
def endpoint() -> Iterator[ContextEndpoint]:
    with ContextEndpoint() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[SafeHttpClient]:
    async with SafeHttpClient(allow_private=True) as c:
        yield c


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'ctx.db'}")
    await database.migrate()
    yield database
    await database.dispose()


def config(url: str, auth: DynamicContextAuth | None = None, **fields: Any) -> DynamicContext:
    return DynamicContext(enabled=True, url=url, auth=auth or DynamicContextAuth(), **fields)  # type: ignore[arg-type]


async def fetch(
    client: SafeHttpClient, cfg: DynamicContext, *, medium: str = "phone", external_id: str | None = None
) -> ContextResult:
    return await fetch_context(
        client, box, cfg,
        ContextQuery(
            agent_id=AGENT, direction="outbound", medium=medium, agent_number="+14155550100",
            contact_number="+14155552671", external_id=external_id, room_sid=ROOM,
        ),
    )


async def test_phone_call_posts_the_documented_body_and_headers(
    client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    endpoint.reply({"tier": "gold"})
    result = await fetch(client, config(endpoint.url))
    assert result.ok and result.variables == {"tier": "gold"} and result.status_code == 200
    assert result.error is None and not result.cached and result.latency_ms > 0
    [seen] = endpoint.requests
    assert seen.method == "POST" and seen.path == "/context"
    assert seen.json() == {
        "agent_uuid": str(AGENT), "direction": "outbound", "agent_number": "+14155550100",
        "contact_number": "+14155552671",
    }
    h = seen.headers
    assert h["x-agent-uuid"] == str(AGENT)
    assert h["x-agent-number"] == "+14155550100"
    assert h["x-contact-number"] == "+14155552671"
    assert h["x-direction"] == "outbound"
    assert h["x-medium"] == "phone"
    assert h["x-room-sid"] == str(ROOM)
    assert h["content-type"] == "application/json" and h["accept"] == "application/json"
    assert "x-external-id" not in h and "authorization" not in h


async def test_web_call_sends_the_external_id_in_body_and_header(
    client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    await fetch(client, config(endpoint.url), medium="web", external_id="crm-42")
    [seen] = endpoint.requests
    assert seen.json()["external_id"] == "crm-42"
    assert seen.headers["x-external-id"] == "crm-42" and seen.headers["x-medium"] == "web"


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        (DynamicContextAuth(type="bearer", token=box.encrypt("tok-secret-1234")), "authorization",
         "Bearer tok-secret-1234"),
        (DynamicContextAuth(type="basic", username="acme", password=box.encrypt("p4ss:word")), "authorization",
         "Basic " + base64.b64encode(b"acme:p4ss:word").decode()),
        (DynamicContextAuth(type="header", header_name="X-Api-Key", header_value=box.encrypt("k-9876")),
         "x-api-key", "k-9876"),
        (DynamicContextAuth(type="none"), "authorization", None),
    ],
    ids=["bearer", "basic", "header", "none"],
)
async def test_each_auth_type_sends_its_decrypted_credentials(
    client: SafeHttpClient, endpoint: ContextEndpoint, auth: DynamicContextAuth, header: str, expected: str | None
) -> None:
    assert (await fetch(client, config(endpoint.url, auth))).ok
    assert endpoint.requests[0].headers.get(header) == expected


async def test_an_array_of_objects_is_merged_in_order(client: SafeHttpClient, endpoint: ContextEndpoint) -> None:
    endpoint.reply([{"tier": "silver", "name": "Ann"}, {"tier": "gold"}, {"account": {"open": True}}])
    result = await fetch(client, config(endpoint.url))
    assert result.ok
    assert result.variables == {"tier": "gold", "name": "Ann", "account": {"open": True}}


@pytest.mark.parametrize(
    ("status", "raw", "error"),
    [
        (401, b'{"tier": "gold"}', "HTTP 401 from the context endpoint"),
        (500, b"oops", "HTTP 500 from the context endpoint"),
        (302, b"", "HTTP 302 from the context endpoint (redirects are not followed)"),
        (200, b'{"tier": ', "the response is not valid JSON (Expecting value at line 1 column 10)"),
        (200, b'"just a string"', "the response is a JSON string; expected an object or an array of objects"),
        (200, b"42", "the response is a JSON number; expected an object or an array of objects"),
        (200, b"null", "the response is a JSON null; expected an object or an array of objects"),
        (200, b'[{"a": 1}, 2]', "item 1 of the response array is a JSON number; expected an object"),
        (200, b'{"a": NaN}', "the response is not valid JSON (NaN is not a JSON value)"),
        (200, b"", "the response body is empty; expected a JSON object"),
    ],
    ids=["401", "500", "redirect", "invalid-json", "string", "number", "null", "array-with-scalar", "nan", "empty"],
)
async def test_a_bad_answer_is_a_failure_with_a_precise_error_and_no_variables(
    client: SafeHttpClient, endpoint: ContextEndpoint, status: int, raw: bytes, error: str
) -> None:
    endpoint.reply(status=status, raw=raw)
    result = await fetch(client, config(endpoint.url))
    assert not result.ok
    assert result.error == error
    assert result.variables == {}
    assert result.status_code == status


async def test_a_50_mb_answer_is_cut_off_at_the_limit(client: SafeHttpClient, endpoint: ContextEndpoint) -> None:
    endpoint.stream_bytes = 50 * 1024 * 1024
    result = await fetch(client, config(endpoint.url))
    assert not result.ok and result.variables == {}
    assert result.error == "response larger than 256 KiB"


async def test_an_endpoint_that_hangs_times_out_at_the_configured_timeout(
    client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    endpoint.hang = True
    result = await fetch(client, config(endpoint.url, timeout_s=0.5))
    assert not result.ok and result.variables == {} and result.status_code is None
    assert result.error == "the context endpoint did not answer within 0.5 s"
    assert 450 <= result.latency_ms < 3000


async def test_a_loopback_url_is_refused_without_a_request_when_private_urls_are_not_allowed(
    endpoint: ContextEndpoint,
) -> None:
    async with SafeHttpClient(allow_private=False) as strict:
        result = await fetch(strict, config(endpoint.url))
    assert not result.ok and result.variables == {}
    assert result.error is not None
    assert result.error.startswith("the context URL was refused: 127.0.0.1 is a loopback address")
    assert endpoint.requests == []


async def test_an_unreachable_endpoint_is_a_failure(client: SafeHttpClient, endpoint: ContextEndpoint) -> None:
    url = endpoint.url
    endpoint.__exit__(None, None, None)
    result = await fetch(client, config(url))
    assert not result.ok and result.error is not None and "could not connect" in result.error


# --- the cache ----------------------------------------------------------------------------------


async def load(
    db: Database, client: SafeHttpClient, cfg: DynamicContext, contact: str = "+14155552671"
) -> ContextResult:
    return await load_context(
        db, client, box, cfg, AGENT, AGENT,
        ContextQuery(
            agent_id=AGENT, direction="outbound", medium="phone", agent_number="+14155550100",
            contact_number=contact, external_id=None, room_sid=uuid.uuid4(),
        ),
    )


async def test_a_cache_hit_skips_the_request(db: Database, client: SafeHttpClient, endpoint: ContextEndpoint) -> None:
    endpoint.reply({"tier": "gold"})
    cfg = config(endpoint.url, cache_ttl_s=300)
    first = await load(db, client, cfg)
    second = await load(db, client, cfg)
    assert first.ok and not first.cached
    assert second.ok and second.cached and second.variables == {"tier": "gold"} and second.status_code is None
    assert len(endpoint.requests) == 1
    await load(db, client, cfg, contact="+14155559999")  # another contact is another entry
    assert len(endpoint.requests) == 2


async def test_a_failure_is_never_cached(db: Database, client: SafeHttpClient, endpoint: ContextEndpoint) -> None:
    cfg = config(endpoint.url, cache_ttl_s=300)
    endpoint.reply(status=500, raw=b"down")
    assert not (await load(db, client, cfg)).ok
    endpoint.reply({"tier": "gold"})
    result = await load(db, client, cfg)
    assert result.ok and not result.cached and result.variables == {"tier": "gold"}
    assert len(endpoint.requests) == 2


async def test_an_expired_entry_is_fetched_again(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    cfg = config(endpoint.url, cache_ttl_s=60)
    endpoint.reply({"tier": "silver"})
    await load(db, client, cfg)
    async with db.tx() as conn:  # the minute has passed
        await conn.execute(context_cache.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    endpoint.reply({"tier": "gold"})
    result = await load(db, client, cfg)
    assert not result.cached and result.variables == {"tier": "gold"}
    assert len(endpoint.requests) == 2
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(context_cache))).all()
    assert [r.variables for r in rows] == [{"tier": "gold"}]


async def test_without_a_ttl_every_call_fetches(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    cfg = config(endpoint.url)
    await load(db, client, cfg)
    await load(db, client, cfg)
    assert len(endpoint.requests) == 2
    async with db.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(context_cache))).scalar() == 0
