"""Admission control for campaigns, on a real SQLite database with a clock the test moves:
claims never exceed the limits, rows wait for their window and their day, retries carry what was
collected, and nothing is lost when a call or a process goes quiet."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from callwright.domain.agent import AgentCreate
from callwright.domain.campaign import CampaignCreate
from callwright.services import call_state, campaigns
from callwright.services.admission import CampaignAdmission
from callwright.services.agents import create_agent
from callwright.services.calls import CallService
from callwright.services.dispatch import NoDialer
from callwright.services.secrets import SecretBox
from callwright.store.db import Database
from callwright.store.tables import calls, campaign_contacts, events, organizations
from callwright.store.types import utcnow

# A Wednesday, 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles.
NOON_ISH = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
NEW_YORK = "+12125550100"
LOS_ANGELES = "+14155550100"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    db: Database
    org_id: uuid.UUID
    agent_id: uuid.UUID
    clock: Clock
    admission: CampaignAdmission


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/cw.db")
    await db.migrate()
    org_id = uuid.uuid4()
    async with db.tx() as conn:
        await conn.execute(organizations.insert().values(id=org_id, name="acme", created_at=utcnow()))
    box = SecretBox(base64.urlsafe_b64decode(base64.urlsafe_b64encode(b"k" * 32)))
    agent = await create_agent(db, org_id, AgentCreate(name="Reminder"), box=box, allow_private_urls=False)
    clock = Clock(NOON_ISH)
    admission = CampaignAdmission(db, CallService(db, NoDialer()), max_live_per_org=100, clock=clock)
    yield World(db, org_id, uuid.UUID(agent.id), clock, admission)
    await db.dispose()


async def running(w: World, numbers: list[str], **fields: Any) -> uuid.UUID:
    body = CampaignCreate.model_validate({"name": "c", "agent_id": str(w.agent_id), **fields})
    created = await campaigns.create(w.db, w.org_id, body)
    cid = uuid.UUID(created.id)
    now = w.clock()
    async with w.db.tx() as conn:
        for i, number in enumerate(numbers):
            await conn.execute(campaign_contacts.insert().values(
                id=uuid.uuid4(), org_id=w.org_id, campaign_id=cid, row_number=i + 2, phone_number=number,
                variables={"amount": str(10 * (i + 1))}, state="pending", attempts=0, attempts_that_day=0,
                created_at=now, updated_at=now,
            ))
    await campaigns.control(w.db, w.org_id, cid, "start")
    return cid


async def rows(w: World, cid: uuid.UUID) -> list[Any]:
    async with w.db.read() as conn:
        q = sa.select(campaign_contacts).where(campaign_contacts.c.campaign_id == cid)
        return list((await conn.execute(q.order_by(campaign_contacts.c.row_number))).all())


async def live_calls(w: World, cid: uuid.UUID) -> list[Any]:
    async with w.db.read() as conn:
        q = sa.select(calls).where(calls.c.campaign_id == cid, calls.c.status.not_in(("completed", "no_answer",
                                                                                        "busy", "failed", "voicemail",
                                                                                        "canceled")))
        return list((await conn.execute(q)).all())


async def end_all(w: World, cid: uuid.UUID, status: str, results: dict[str, Any] | None = None) -> None:
    for call in await live_calls(w, cid):
        if results is not None:
            async with w.db.tx() as conn:
                await conn.execute(calls.update().where(calls.c.id == call.id).values(results=results))
        await call_state.finish(w.db, call.id, status, status, ended_at=w.clock())


async def test_claims_never_exceed_the_campaigns_max_concurrency(world: World) -> None:
    cid = await running(world, [f"+1212555{n:04d}" for n in range(10)], max_concurrency=3)
    report = await world.admission.run_once()
    assert report.placed == 3
    assert await world.admission.run_once() == type(report)()  # full: nothing more
    assert len(await live_calls(world, cid)) == 3
    assert [r.state for r in await rows(world, cid)].count("dialing") == 3


async def test_a_slot_freed_by_an_ended_call_is_claimed_again(world: World) -> None:
    cid = await running(world, [f"+1212555{n:04d}" for n in range(5)], max_concurrency=2)
    await world.admission.run_once()
    await end_all(world, cid, "completed")
    assert (await world.admission.run_once()).placed == 2
    states = [r.state for r in await rows(world, cid)]
    assert states.count("completed") == 2 and states.count("dialing") == 2


async def test_the_organizations_limit_bounds_every_campaign_together(world: World) -> None:
    world.admission.max_live_per_org = 4
    first = await running(world, [f"+1212555{n:04d}" for n in range(5)], max_concurrency=3)
    second = await running(world, [f"+1212556{n:04d}" for n in range(5)], max_concurrency=3)
    await world.admission.run_once()
    assert len(await live_calls(world, first)) + len(await live_calls(world, second)) == 4


async def test_a_row_outside_its_calling_window_waits_for_the_opening_in_the_callees_time(world: World) -> None:
    cid = await running(world, [NEW_YORK, LOS_ANGELES])  # 10:00 in New York, 07:00 in Los Angeles
    await world.admission.run_once()
    new_york, los_angeles = await rows(world, cid)
    assert new_york.state == "dialing"
    assert los_angeles.state == "pending"
    assert los_angeles.next_attempt_at == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 08:00 in Los Angeles
    world.clock.at = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    await world.admission.run_once()
    assert (await rows(world, cid))[1].state == "dialing"


async def test_a_named_time_zone_window_applies_to_every_row(world: World) -> None:
    window = {"start": "09:00", "end": "17:00", "days": ["mon"], "timezone": "Europe/London"}
    cid = await running(world, [NEW_YORK], calling_window=window)  # a Wednesday
    await world.admission.run_once()
    (row,) = await rows(world, cid)
    assert row.state == "pending"
    assert row.next_attempt_at == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # next Monday 09:00 London


async def test_a_retried_outcome_comes_back_after_its_backoff_with_what_was_collected(world: World) -> None:
    retry = {"max_attempts": 3, "on": ["no_answer"], "backoff_minutes": [30]}
    cid = await running(world, [NEW_YORK], retry=retry)
    await world.admission.run_once()
    (first_call,) = await live_calls(world, cid)
    await end_all(world, cid, "no_answer", results={"confirmed": True})
    (row,) = await rows(world, cid)
    assert (row.state, row.last_outcome, row.attempts) == ("pending", "no_answer", 1)
    assert row.next_attempt_at == NOON_ISH + timedelta(minutes=30)
    assert row.retry_context["collected_data"] == {"confirmed": True}
    assert row.retry_context["previous_call_id"] == str(first_call.id)
    assert (await world.admission.run_once()).placed == 0  # not yet
    world.clock.at = NOON_ISH + timedelta(minutes=30)
    assert (await world.admission.run_once()).placed == 1
    (second_call,) = await live_calls(world, cid)
    assert second_call.attempt == 2
    assert second_call.retry_context["collected_data"] == {"confirmed": True}


async def test_an_outcome_the_policy_does_not_retry_ends_the_row(world: World) -> None:
    cid = await running(world, [NEW_YORK], retry={"max_attempts": 3, "on": ["no_answer"]})
    await world.admission.run_once()
    await end_all(world, cid, "busy")
    (row,) = await rows(world, cid)
    assert (row.state, row.last_outcome) == ("failed", "busy")


async def test_the_last_attempt_ends_the_row_whatever_the_outcome(world: World) -> None:
    cid = await running(world, [NEW_YORK], retry={"max_attempts": 2, "on": ["no_answer"], "backoff_minutes": [0]})
    for _ in range(2):
        await world.admission.run_once()
        await end_all(world, cid, "no_answer")
    (row,) = await rows(world, cid)
    assert (row.state, row.attempts) == ("failed", 2)


async def test_the_per_day_cap_moves_a_row_to_the_next_days_window(world: World) -> None:
    retry = {"max_attempts": 5, "on": ["no_answer"], "backoff_minutes": [0]}
    cid = await running(world, [NEW_YORK], retry=retry, max_attempts_per_day=2)
    for _ in range(2):
        await world.admission.run_once()
        await end_all(world, cid, "no_answer")
    (row,) = await rows(world, cid)
    assert row.state == "pending"
    assert row.next_attempt_at == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # 08:00 in New York tomorrow


async def test_the_campaign_completes_when_its_last_row_ends_and_says_so_once(world: World) -> None:
    cid = await running(world, [NEW_YORK, LOS_ANGELES], retry={"max_attempts": 1})
    world.clock.at = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # both windows open
    await world.admission.run_once()
    await end_all(world, cid, "completed")
    out = await campaigns.get(world.db, world.org_id, cid)
    assert out.status == "completed"
    assert out.progress.by_state["completed"] == 2 and out.progress.by_outcome == {"completed": 2}
    async with world.db.read() as conn:
        types = [r.type for r in (await conn.execute(sa.select(events).where(events.c.campaign_id == cid))).all()]
    assert types.count("campaign.started") == 1 and types.count("campaign.completed") == 1


async def test_a_paused_campaign_dials_nothing(world: World) -> None:
    cid = await running(world, [NEW_YORK])
    await campaigns.control(world.db, world.org_id, cid, "pause")
    assert (await world.admission.run_once()).placed == 0


async def test_a_call_the_carrier_never_reports_on_frees_its_slot_after_the_timeout(world: World) -> None:
    cid = await running(world, [NEW_YORK, "+12125550101"], max_concurrency=1, retry={"max_attempts": 1})
    await world.admission.run_once()
    (call,) = await live_calls(world, cid)
    await call_state.transition(world.db, call.id, ["queued"], "dialing", started_at=NOON_ISH)
    world.clock.at = NOON_ISH + timedelta(seconds=world.admission.carrier_timeout_s + 1)
    assert (await world.admission.run_once()).placed == 1
    async with world.db.read() as conn:
        ended = (await conn.execute(sa.select(calls).where(calls.c.id == call.id))).one()
    assert (ended.status, ended.end_reason) == ("failed", "no_carrier_callback")
    first = (await rows(world, cid))[0]
    assert (first.state, first.last_outcome) == ("failed", "failed")


async def test_a_row_whose_call_was_never_created_is_given_back_uncounted(world: World) -> None:
    cid = await running(world, [NEW_YORK])
    async with world.db.tx() as conn:  # a process claimed it, then died before creating the call
        await conn.execute(campaign_contacts.update().values(
            state="dialing", attempts=1, attempts_that_day=1, last_call_id=uuid.uuid4(), updated_at=NOON_ISH,
        ))
    world.clock.at = NOON_ISH + timedelta(minutes=2)
    assert (await world.admission.run_once()).placed == 1
    (row,) = await rows(world, cid)
    assert (row.state, row.attempts) == ("dialing", 1)
    assert len(await live_calls(world, cid)) == 1


async def test_a_number_listed_as_do_not_call_after_upload_is_skipped(world: World) -> None:
    from callwright.services import dnc

    cid = await running(world, [NEW_YORK])
    await dnc.add(world.db, world.org_id, NEW_YORK, "asked", "US")
    await world.admission.run_once()
    (row,) = await rows(world, cid)
    assert row.state == "skipped_dnc"
    assert (await campaigns.get(world.db, world.org_id, cid)).status == "completed"


async def test_the_rows_columns_and_the_campaign_context_reach_the_calls_variables(world: World) -> None:
    cid = await running(world, [NEW_YORK], context={"promotion": "20% off"})
    await world.admission.run_once()
    (call,) = await live_calls(world, cid)
    assert call.variables["amount"] == "10"
    assert "20% off" in str(call.variables.get("context"))
    assert call.call_source == "api_campaign"
    assert call.campaign_contact_id == (await rows(world, cid))[0].id


async def test_a_row_given_back_while_its_call_was_being_created_is_not_dialed_twice(world: World) -> None:
    cid = await running(world, [NEW_YORK])
    slow = CampaignAdmission(world.db, world.admission.calls, clock=world.clock)
    claims, _ = await slow._claim(cid, NOON_ISH)  # this process claims the row, then stalls
    world.clock.at = NOON_ISH + timedelta(minutes=2)  # another process thinks it died
    assert (await world.admission.run_once()).placed == 1
    assert not await slow._place(claims[0])  # the stalled claim's call is refused
    async with world.db.read() as conn:
        placed = (await conn.execute(sa.select(calls.c.attempt).where(calls.c.campaign_id == cid))).all()
    assert [p.attempt for p in placed] == [1]
    (row,) = await rows(world, cid)
    assert (row.state, row.attempts) == ("dialing", 1)


async def test_a_single_call_over_the_organizations_limit_stays_queued(world: World) -> None:
    from callwright.domain.contact import ContactIn
    from callwright.services.calls import NewCall
    from callwright.services.carriers import CarrierRegistry
    from callwright.services.dialer import Dialer
    from callwright.services.live_calls import LiveCalls
    from callwright.services.runners import MediaDirectory
    from callwright.store.tables import runners
    from tests.test_process_roles import RecordingCarrier

    carrier = RecordingCarrier()
    registry = CarrierRegistry({"simulator": lambda: carrier})
    async with world.db.tx() as conn:
        await conn.execute(runners.insert().values(
            id="me", started_at=utcnow(), heartbeat_at=utcnow(), roles=["media"],
            media_url="ws://me/carrier/media-stream", media_capacity=10, media_live=0,
        ))
    dialer = Dialer(world.db, registry, MediaDirectory(world.db, "me"), "me", LiveCalls(registry), max_live_per_org=1)
    created = [
        await world.admission.calls.create(world.org_id, NewCall(agent_id=world.agent_id, contact=ContactIn(
            phone_number=number)))
        for number in (NEW_YORK, LOS_ANGELES)
    ]
    first, second = (uuid.UUID(c.id) for c in created)
    assert await dialer.dial(first) is True
    assert await dialer.dial(second) is False  # one live call is the limit
    await call_state.finish(world.db, first, "completed", "agent_hangup")
    assert await dialer.dial(second) is True
