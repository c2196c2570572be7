"""Do-not-call on request: after a call in which the caller asked not to be called again, the jobs
put the number on the organization's do-not-call list (agent option ``do_not_call_on_request``,
on by default) and the call's analysis says ``opted_out``.

A real SQLite database; the call ends through the one status writer, and the event fan-out and
the analysis runner run as the jobs role runs them."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from callwright.domain.agent import AgentCreate
from callwright.domain.campaign import CampaignCreate
from callwright.services import call_state, campaigns, dnc
from callwright.services.admission import CampaignAdmission
from callwright.services.agents import create_agent, current_version
from callwright.services.analysis.offline import OfflineAnalyzer
from callwright.services.analysis.runner import AnalysisRunner, request_reanalysis
from callwright.services.calls import CallService
from callwright.services.dispatch import NoDialer
from callwright.services.secrets import SecretBox
from callwright.services.webhooks.fanout import EventFanout
from callwright.services.webhooks.links import FileLinks
from callwright.store.db import Database
from callwright.store.tables import calls, campaign_contacts, organizations
from callwright.store.types import utcnow

CALLEE = "+12125550100"
IN_WINDOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York, a Wednesday
ASKS = [
    {"role": "agent", "text": "Hi, this is Acme about your renewal.", "start_ms": 0, "end_ms": 1, "interrupted": False},
    {"role": "user", "text": "Please take me off your list.", "start_ms": 2, "end_ms": 3, "interrupted": False},
]
RESCHEDULES = [
    {"role": "agent", "text": "Hi, this is Acme about your renewal.", "start_ms": 0, "end_ms": 1, "interrupted": False},
    {"role": "user", "text": "Don't call me back tomorrow, call me next week.", "start_ms": 2, "end_ms": 3,
     "interrupted": False},
]


@dataclass
class World:
    db: Database
    box: SecretBox
    org_id: uuid.UUID

    async def agent(self, **settings: Any) -> uuid.UUID:
        created = await create_agent(
            self.db, self.org_id, AgentCreate(name="Renewals", **settings), box=self.box, allow_private_urls=False
        )
        return uuid.UUID(created.id)

    async def ended_call(self, agent_id: uuid.UUID, transcript: list[dict[str, Any]]) -> uuid.UUID:
        """An outbound call to ``CALLEE`` that was answered and ended with ``transcript``."""
        version = await current_version(self.db, self.org_id, agent_id)
        assert version is not None
        call_id, now = uuid.uuid4(), utcnow()
        async with self.db.tx() as conn:
            await conn.execute(calls.insert().values(
                id=call_id, org_id=self.org_id, trace_id=uuid.uuid4().hex, agent_id=agent_id,
                agent_version_id=version.version_id, direction="outbound", medium="phone", to_number=CALLEE,
                from_number="+15550100000", status="ringing", call_source="api", metadata={}, variables={},
                transcript=[], results={}, attempt=1, created_at=now, updated_at=now,
            ))
        await call_state.transition(self.db, call_id, ["ringing"], "in_progress", answered_at=utcnow())
        await call_state.finish(self.db, call_id, "completed", "user_hangup", transcript=transcript)
        return call_id

    async def run_jobs(self) -> None:
        """One pass of the jobs that follow an ended call: fan-out (analysis due), then analysis."""
        fanout = EventFanout(
            self.db, FileLinks(self.box, "http://localhost", 60), on_deliveries=lambda: None, on_analysis=lambda: None
        )
        while await fanout.run_once():
            pass
        await AnalysisRunner(self.db, OfflineAnalyzer()).run_once()

    async def listed(self) -> dict[str, str | None]:
        return {e["phone_number"]: e["reason"] for e in await dnc.list_numbers(self.db, self.org_id, 100, None)}

    async def analysis(self, call_id: uuid.UUID) -> dict[str, Any]:
        async with self.db.read() as conn:
            found = (await conn.execute(sa.select(calls.c.analysis).where(calls.c.id == call_id))).scalar_one()
        assert found is not None, "the call was not analysed"
        return dict(found)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/cw.db")
    await db.migrate()
    org_id = uuid.uuid4()
    async with db.tx() as conn:
        await conn.execute(organizations.insert().values(id=org_id, name="acme", created_at=utcnow()))
    yield World(db, SecretBox(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"k" * 32))), org_id)
    await db.dispose()


def test_the_option_is_on_by_default() -> None:
    assert AgentCreate(name="a").do_not_call_on_request is True


async def test_a_caller_who_asks_is_put_on_the_do_not_call_list_with_the_call_as_reason(world: World) -> None:
    call_id = await world.ended_call(await world.agent(), ASKS)
    await world.run_jobs()
    assert await world.listed() == {CALLEE: f"asked during call {call_id}"}


async def test_the_opt_out_is_recorded_in_the_calls_analysis(world: World) -> None:
    call_id = await world.ended_call(await world.agent(), ASKS)
    await world.run_jobs()
    assert (await world.analysis(call_id))["opted_out"] is True


async def test_with_the_option_off_the_number_is_not_listed(world: World) -> None:
    call_id = await world.ended_call(await world.agent(do_not_call_on_request=False), ASKS)
    await world.run_jobs()
    assert await world.listed() == {}
    assert "opted_out" not in await world.analysis(call_id)


async def test_a_caller_who_only_reschedules_is_not_listed(world: World) -> None:
    call_id = await world.ended_call(await world.agent(), RESCHEDULES)
    await world.run_jobs()
    assert await world.listed() == {}
    assert "opted_out" not in await world.analysis(call_id)


async def test_a_number_already_listed_keeps_its_entry(world: World) -> None:
    await dnc.add(world.db, world.org_id, CALLEE, "complained by email", "US")
    await world.ended_call(await world.agent(), ASKS)
    await world.run_jobs()
    assert await world.listed() == {CALLEE: "complained by email"}


async def test_a_reanalysis_does_not_list_again_a_number_removed_by_hand(world: World) -> None:
    call_id = await world.ended_call(await world.agent(), ASKS)
    await world.run_jobs()
    await dnc.remove(world.db, world.org_id, CALLEE, "US")
    await request_reanalysis(world.db, world.org_id, call_id)
    await world.run_jobs()
    assert await world.listed() == {}
    assert (await world.analysis(call_id))["opted_out"] is True


async def test_a_campaign_row_for_a_number_that_opted_out_is_skipped_not_dialed(world: World) -> None:
    agent_id = await world.agent()
    await world.ended_call(agent_id, ASKS)
    await world.run_jobs()
    body = CampaignCreate.model_validate({"name": "renewals", "agent_id": str(agent_id)})
    cid = uuid.UUID((await campaigns.create(world.db, world.org_id, body)).id)
    now = utcnow()
    async with world.db.tx() as conn:
        await conn.execute(campaign_contacts.insert().values(
            id=uuid.uuid4(), org_id=world.org_id, campaign_id=cid, row_number=2, phone_number=CALLEE, variables={},
            state="pending", attempts=0, attempts_that_day=0, created_at=now, updated_at=now,
        ))
    await campaigns.control(world.db, world.org_id, cid, "start")
    admission = CampaignAdmission(
        world.db, CallService(world.db, NoDialer()), max_live_per_org=10, clock=lambda: IN_WINDOW
    )
    await admission.run_once()
    async with world.db.read() as conn:
        row = (await conn.execute(sa.select(campaign_contacts).where(campaign_contacts.c.campaign_id == cid))).one()
        dialed = (await conn.execute(sa.select(sa.func.count()).where(calls.c.campaign_id == cid))).scalar_one()
    assert (row.state, dialed) == ("skipped_dnc", 0)
