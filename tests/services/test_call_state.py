"""The one status writer: each status change writes its event in the same transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from callwright.services import call_state
from callwright.services.events import CALL_ENDED, CALL_FAILED, CALL_STARTED
from callwright.store.db import Database
from callwright.store.tables import agents, calls, events, organizations
from callwright.store.types import utcnow


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/cw.db")
    await database.migrate()
    yield database
    await database.dispose()


async def new_call(db: Database, status: str = "queued") -> uuid.UUID:
    org, agent, call = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = utcnow()
    async with db.tx() as conn:
        await conn.execute(organizations.insert().values(id=org, name=str(org), created_at=now))
        await conn.execute(agents.insert().values(
            id=agent, org_id=org, name="a", version_id=uuid.uuid4(), version=1, config={}, created_at=now,
            updated_at=now,
        ))
        await conn.execute(calls.insert().values(
            id=call, org_id=org, trace_id="0" * 31 + "1", agent_id=agent, agent_version_id=uuid.uuid4(),
            direction="outbound", medium="phone", status=status, call_source="api", metadata={}, variables={},
            transcript=[], results={}, attempt=1, created_at=now, updated_at=now,
        ))
    return call


async def event_types(db: Database, call_id: uuid.UUID) -> list[str]:
    async with db.read() as conn:
        rows = (await conn.execute(
            sa.select(events.c.type).where(events.c.call_id == call_id).order_by(events.c.created_at)
        )).all()
    return [r.type for r in rows]


async def test_answering_writes_call_started(db: Database) -> None:
    call = await new_call(db, "ringing")
    assert await call_state.transition(db, call, ["ringing"], "in_progress", answered_at=utcnow())
    assert await event_types(db, call) == [CALL_STARTED]


async def test_ending_an_answered_call_writes_call_ended(db: Database) -> None:
    call = await new_call(db, "ringing")
    await call_state.transition(db, call, ["ringing"], "in_progress", answered_at=utcnow())
    assert await call_state.finish(db, call, "completed", "agent_hangup")
    assert await event_types(db, call) == [CALL_STARTED, CALL_ENDED]


async def test_a_call_that_never_connected_ends_with_call_failed(db: Database) -> None:
    call = await new_call(db, "ringing")
    assert await call_state.finish(db, call, "no_answer", "no_answer")
    assert await event_types(db, call) == [CALL_FAILED]


async def test_hanging_up_on_voicemail_is_call_failed(db: Database) -> None:
    call = await new_call(db, "ringing")
    await call_state.transition(db, call, ["ringing"], "in_progress", answered_at=utcnow())
    await call_state.finish(db, call, "voicemail", "voicemail_hangup")
    assert (await event_types(db, call))[-1] == CALL_FAILED


async def test_a_second_close_changes_nothing_and_writes_no_event(db: Database) -> None:
    call = await new_call(db, "in_progress")
    assert await call_state.finish(db, call, "completed", "agent_hangup")
    assert not await call_state.finish(db, call, "failed", "interrupted")
    async with db.read() as conn:
        status = (await conn.execute(sa.select(calls.c.status).where(calls.c.id == call))).scalar()
    assert status == "completed"
    assert await event_types(db, call) == [CALL_FAILED]  # never answered


async def test_a_rolled_back_transition_leaves_no_event(db: Database) -> None:
    call = await new_call(db, "ringing")
    with pytest.raises(RuntimeError):
        async with db.tx() as conn:
            await call_state.transition_in(conn, call, ["ringing"], "in_progress", answered_at=utcnow())
            raise RuntimeError("the process died before commit")
    assert await event_types(db, call) == []


async def test_internal_events_are_written_already_processed(db: Database) -> None:
    call = await new_call(db, "queued")
    await call_state.transition(db, call, ["queued"], "dialing")
    async with db.read() as conn:
        row = (await conn.execute(sa.select(events).where(events.c.call_id == call))).one()
    assert row.type == "call.dialing"
    assert row.processed_at is not None
