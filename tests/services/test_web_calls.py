"""Web calls that never connect end on their own, and the live-call limit holds for them too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from callwright.domain.agent import AgentCreate
from callwright.services import agents as agent_service
from callwright.services.events import CALL_FAILED
from callwright.services.orgs import create_key
from callwright.services.runners import Heartbeat
from callwright.services.secrets import SecretBox
from callwright.services.web_calls import NewWebCall, TooManyLiveCalls, WebCalls, stream_refusal
from callwright.store.db import Database
from callwright.store.tables import calls, events

RUNNER = "media-here"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/cw.db")
    await database.migrate()
    await Heartbeat(database, RUNNER, frozenset({"media"}), "ws://127.0.0.1:1/carrier/media-stream", 50).register()
    yield database
    await database.dispose()


async def _agent(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    org_id = (await create_key(db, f"org-{uuid.uuid4().hex[:6]}")).org_id
    agent = await agent_service.create_agent(
        db, org_id, AgentCreate(name="Web"), box=SecretBox(b"k" * 32), allow_private_urls=False
    )
    return org_id, uuid.UUID(str(agent.id))


async def _status(db: Database, call_id: uuid.UUID) -> tuple[str, str | None, str | None]:
    async with db.read() as conn:
        row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).one()
    return row.status, row.end_reason, row.stream_token_hash


async def test_a_web_call_whose_browser_never_connects_ends_failed_when_its_token_expires(db: Database) -> None:
    org_id, agent_id = await _agent(db)
    web = WebCalls(db, own_runner_id=RUNNER, token_ttl_s=0.3)
    ticket = await web.create(org_id, NewWebCall(agent_id=agent_id))
    assert ticket.stream_url is None  # this process's own media role takes it
    assert (await _status(db, ticket.call_id))[0] == "ringing"
    await asyncio.sleep(0.6)
    status, reason, token_hash = await _status(db, ticket.call_id)
    assert (status, reason, token_hash) == ("failed", "browser_not_connected", None)
    async with db.read() as conn:
        kinds = (await conn.execute(sa.select(events.c.type).where(events.c.call_id == ticket.call_id))).scalars().all()
    assert CALL_FAILED in kinds
    assert await stream_refusal(db, str(ticket.call_id), ticket.access_token) == "bad token"  # spent by the expiry
    await web.aclose()


async def test_a_token_is_good_only_for_its_own_web_call(db: Database) -> None:
    org_id, agent_id = await _agent(db)
    web = WebCalls(db, own_runner_id=RUNNER)
    first = await web.create(org_id, NewWebCall(agent_id=agent_id))
    second = await web.create(org_id, NewWebCall(agent_id=agent_id))
    assert await stream_refusal(db, str(first.call_id), first.access_token) is None
    assert await stream_refusal(db, str(first.call_id), second.access_token) == "bad token"
    assert await stream_refusal(db, "nonsense", first.access_token) == "not a call id"
    await web.aclose()


async def test_the_organizations_live_call_limit_refuses_one_more_web_call(db: Database) -> None:
    org_id, agent_id = await _agent(db)
    web = WebCalls(db, own_runner_id=RUNNER, max_live_per_org=2)
    await web.create(org_id, NewWebCall(agent_id=agent_id))
    await web.create(org_id, NewWebCall(agent_id=agent_id))
    with pytest.raises(TooManyLiveCalls):
        await web.create(org_id, NewWebCall(agent_id=agent_id))
    await web.aclose()
