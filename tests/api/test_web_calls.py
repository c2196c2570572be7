"""POST /v1/web-calls: a call from a browser is stored ringing with ``medium: web`` and a
short-lived token for its stream, sent to a media process with room (runners register
themselves in the database, as a `callwright worker --roles media` does)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import ApiServer

from callwright.app import create_worker_app
from callwright.services.runners import Heartbeat
from callwright.settings import Settings
from callwright.store.db import Database
from callwright.store.tables import calls

MEDIA_URL = "ws://media-7.internal:9100/carrier/media-stream"


def _run(db_url: str, work: Any) -> Any:
    async def go() -> Any:
        db = Database(db_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


@pytest.fixture
def media_process(api_server: ApiServer) -> Iterator[str]:
    """A live media process with room, registered as a worker registers itself."""
    runner_id = f"media-{uuid.uuid4().hex[:8]}"

    async def register(db: Database) -> None:
        await Heartbeat(db, runner_id, frozenset({"media"}), MEDIA_URL, 10).register()

    async def unregister(db: Database) -> None:
        await Heartbeat(db, runner_id, frozenset({"media"}), MEDIA_URL, 10).unregister()

    _run(api_server.db_url, register)
    yield runner_id
    _run(api_server.db_url, unregister)


def _row(db_url: str, call_id: str) -> Any:
    async def read(db: Database) -> Any:
        async with db.read() as conn:
            return (await conn.execute(sa.select(calls).where(calls.c.id == uuid.UUID(call_id)))).one()

    return _run(db_url, read)


def test_a_web_call_is_stored_ringing_as_an_inbound_web_call(
    api: httpx.Client, agent: dict[str, Any], media_process: str
) -> None:
    r = api.post("/v1/web-calls", json={"agent_id": agent["id"], "external_id": "cust-9", "metadata": {"k": 1}})
    assert r.status_code == 201, r.text
    ticket = r.json()
    call = api.get(f"/v1/calls/{ticket['call_id']}").json()
    assert call["status"] == "ringing"
    assert call["medium"] == "web" and call["direction"] == "inbound" and call["call_source"] == "web"
    assert call["from"] is None and call["to"] is None and call["contact_id"] is None
    assert call["metadata"] == {"k": 1}
    assert call["variables"]["external_id"] == "cust-9"
    assert call["agent_version_id"] == agent["version_id"]


def test_only_the_tokens_hash_is_stored_and_it_expires_within_a_minute(
    api: httpx.Client, agent: dict[str, Any], media_process: str, api_server: ApiServer
) -> None:
    ticket = api.post("/v1/web-calls", json={"agent_id": agent["id"]}).json()
    assert len(ticket["access_token"]) >= 32
    row = _row(api_server.db_url, ticket["call_id"])
    assert row.stream_token_hash == hashlib.sha256(ticket["access_token"].encode()).hexdigest()
    assert ticket["access_token"] not in api.get(f"/v1/calls/{ticket['call_id']}").text
    expires = datetime.fromisoformat(ticket["expires_at"].replace("Z", "+00:00"))
    assert ticket["expires_at"].endswith("Z")
    assert timedelta(seconds=30) < expires - row.created_at <= timedelta(seconds=60)
    assert row.external_id is None


def test_the_browser_is_sent_to_the_media_process_with_room(
    api: httpx.Client, agent: dict[str, Any], media_process: str, api_server: ApiServer
) -> None:
    ticket = api.post("/v1/web-calls", json={"agent_id": agent["id"], "external_id": "x"}).json()
    assert ticket["websocket_url"] == "ws://media-7.internal:9100/web-calls/stream"
    row = _row(api_server.db_url, ticket["call_id"])
    assert row.runner_id == media_process
    assert row.external_id == "x"


def test_without_a_process_that_runs_calls_a_web_call_is_refused(api: httpx.Client, agent: dict[str, Any]) -> None:
    r = api.post("/v1/web-calls", json={"agent_id": agent["id"]})
    assert r.status_code == 409
    assert "media role" in r.json()["detail"]


def test_an_agent_of_another_organization_is_not_found(
    other_org: httpx.Client, agent: dict[str, Any], media_process: str
) -> None:
    r = other_org.post("/v1/web-calls", json={"agent_id": agent["id"]})
    assert r.status_code == 404


def test_the_api_key_is_required(api_server: ApiServer, agent: dict[str, Any]) -> None:
    r = httpx.post(f"{api_server.base_url}/v1/web-calls", json={"agent_id": agent["id"]})
    assert r.status_code == 401


@pytest.mark.parametrize(
    "body",
    [{"agent_id": "not-a-uuid"}, {"agent_id": str(uuid.uuid4()), "external_id": "x" * 201},
     {"agent_id": str(uuid.uuid4()), "external_id": "a\u0000b"}, {"agent_id": str(uuid.uuid4()), "to": "+14155550100"},
     {}],
)
def test_a_malformed_body_is_a_422(api: httpx.Client, body: dict[str, Any]) -> None:
    assert api.post("/v1/web-calls", json=body).status_code == 422


def test_canceling_a_web_call_that_waits_for_its_browser_ends_it(
    api: httpx.Client, agent: dict[str, Any], media_process: str
) -> None:
    ticket = api.post("/v1/web-calls", json={"agent_id": agent["id"]}).json()
    r = api.post(f"/v1/calls/{ticket['call_id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled"


def test_a_media_worker_takes_browser_streams_too(tmp_path: Path) -> None:
    """A browser is sent to whichever process has room, so every media process serves the route."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db", data_dir=tmp_path)
    app = create_worker_app(settings, frozenset({"media"}))
    assert app.url_path_for("media_stream") == "/carrier/media-stream"
    assert app.url_path_for("browser_stream") == "/web-calls/stream"
