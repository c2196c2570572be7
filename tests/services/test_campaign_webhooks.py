"""Campaign webhooks: ``campaign.started`` and ``campaign.completed`` reach the campaign agent's
targets that subscribe to them, signed like call events, with the campaign as ``data``.

A real SQLite database, the real admission, status writer and jobs, and a loopback receiver:
the campaign is started, its one row dialed and its call ended, exactly as a server would."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from callwright.domain.agent import AgentCreate
from callwright.domain.campaign import CampaignCreate
from callwright.domain.webhook import WebhookEvent, WebhookTargetIn
from callwright.net import SafeHttpClient
from callwright.services import call_state, campaigns
from callwright.services.admission import CampaignAdmission
from callwright.services.agents import create_agent
from callwright.services.background_jobs import BackgroundJobs
from callwright.services.calls import CallService
from callwright.services.dispatch import NoDialer
from callwright.services.secrets import SecretBox
from callwright.services.webhooks.targets import create_target
from callwright.settings import Settings
from callwright.store.db import Database
from callwright.store.tables import calls, campaign_contacts, organizations, webhook_deliveries
from callwright.store.types import utcnow
from tests.fakes.webhook_receiver import Received, WebhookReceiver, webhook_receiver

# A Wednesday, 15:00 UTC: 10:00 in New York, inside the default calling window.
IN_WINDOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
NEW_YORK = "+12125550100"


@dataclass
class World:
    db: Database
    settings: Settings
    box: SecretBox
    org_id: uuid.UUID
    agent_id: uuid.UUID
    receiver: WebhookReceiver

    async def target(self, events: list[WebhookEvent]) -> tuple[uuid.UUID, str]:
        body = WebhookTargetIn(url=self.receiver.url, events=events)
        created = await create_target(self.db, self.box, self.org_id, self.agent_id, body, allow_private=True)
        return uuid.UUID(created.id), created.secret

    async def run_campaign(self, metadata: dict[str, Any]) -> uuid.UUID:
        """Create, upload one row, start, dial it and end its call: started, then completed."""
        body = CampaignCreate.model_validate(
            {"name": "December reminders", "agent_id": str(self.agent_id), "call_source": "crm-sync",
             "metadata": metadata}
        )
        cid = uuid.UUID((await campaigns.create(self.db, self.org_id, body)).id)
        now = utcnow()
        async with self.db.tx() as conn:
            await conn.execute(campaign_contacts.insert().values(
                id=uuid.uuid4(), org_id=self.org_id, campaign_id=cid, row_number=2, phone_number=NEW_YORK,
                variables={}, state="pending", attempts=0, attempts_that_day=0, created_at=now, updated_at=now,
            ))
        await campaigns.control(self.db, self.org_id, cid, "start")
        admission = CampaignAdmission(
            self.db, CallService(self.db, NoDialer()), max_live_per_org=10, clock=lambda: IN_WINDOW
        )
        assert (await admission.run_once()).placed == 1
        async with self.db.read() as conn:
            call_id = (await conn.execute(sa.select(calls.c.id).where(calls.c.campaign_id == cid))).scalar_one()
        await call_state.finish(self.db, call_id, "completed", "agent_hangup")
        return cid

    async def deliveries(self, target_id: uuid.UUID) -> list[Any]:
        async with self.db.read() as conn:
            q = sa.select(webhook_deliveries).where(webhook_deliveries.c.target_id == target_id)
            return list((await conn.execute(q)).all())


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


@pytest.fixture
async def world(tmp_path: Path, receiver: WebhookReceiver) -> AsyncIterator[World]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/cw.db")
    await db.migrate()
    org_id = uuid.uuid4()
    async with db.tx() as conn:
        await conn.execute(organizations.insert().values(id=org_id, name="acme", created_at=utcnow()))
    box = SecretBox(b"k" * 32)
    agent = await create_agent(db, org_id, AgentCreate(name="Reminder"), box=box, allow_private_urls=True)
    settings = Settings(
        database_url=str(db.url), data_dir=tmp_path, allow_private_urls=True, jobs_poll_interval_s=0.05,
        webhook_retry_schedule_s=[0.0, 0.3], webhook_timeout_s=1.0,
    )
    yield World(db, settings, box, org_id, uuid.UUID(agent.id), receiver)
    await db.dispose()


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def run_with_jobs(world: World, work: Callable[[], Awaitable[uuid.UUID]], target_id: uuid.UUID) -> uuid.UUID:
    """Do ``work`` while the jobs run, until the target's deliveries have all succeeded."""
    jobs = BackgroundJobs(world.settings, world.db, SafeHttpClient(allow_private=True), world.box)
    jobs.start()
    try:
        cid = await work()

        async def two_delivered() -> bool:
            rows = await world.deliveries(target_id)
            return len(rows) >= 2 and all(r.status == "succeeded" for r in rows)

        await wait_for(two_delivered)
    finally:
        await jobs.stop()
    return cid


def by_event(received: list[Received]) -> dict[str, Received]:
    return {r.json()["event"]: r for r in received}


async def test_a_started_and_completed_campaign_sends_two_signed_deliveries(world: World) -> None:
    target_id, secret = await world.target(["campaign.started", "campaign.completed"])
    await run_with_jobs(world, lambda: world.run_campaign({}), target_id)
    got = world.receiver.events()
    assert sorted(by_event(got)) == ["campaign.completed", "campaign.started"]
    for g in got:
        Webhook(secret).verify(g.body, g.headers)
        assert g.headers["webhook-id"] == g.json()["request_id"]
    assert all(r.call_id is None for r in await world.deliveries(target_id))


async def test_campaign_started_carries_the_campaign_without_progress(world: World) -> None:
    target_id, _ = await world.target(["campaign.started", "campaign.completed"])
    cid = await run_with_jobs(world, lambda: world.run_campaign({"crm_batch": "B-7"}), target_id)
    started = by_event(world.receiver.events())["campaign.started"].json()
    assert started["api_version"] == "v1"
    data = started["data"]
    assert data["id"] == data["campaign_id"] == str(cid)
    assert (data["type"], data["name"], data["status"]) == ("campaign", "December reminders", "running")
    assert (data["agent_id"], data["call_source"]) == (str(world.agent_id), "crm-sync")
    assert data["started_at"] is not None and data["completed_at"] is None
    assert data["progress"] is None
    assert data["metadata"]["request_metadata"] == {"crm_batch": "B-7"}
    assert "trace_id" not in data and "attachments" not in data


async def test_campaign_completed_carries_the_row_counts_per_state(world: World) -> None:
    target_id, _ = await world.target(["campaign.started", "campaign.completed"])
    await run_with_jobs(world, lambda: world.run_campaign({}), target_id)
    completed = by_event(world.receiver.events())["campaign.completed"].json()
    data = completed["data"]
    assert data["status"] == "completed"
    assert data["completed_at"] == completed["created_at"]
    assert data["progress"] == {
        "total": 1,
        "by_state": {"pending": 0, "dialing": 0, "completed": 1, "failed": 0, "skipped_dnc": 0, "canceled": 0},
    }


async def test_a_target_not_subscribed_to_campaign_events_gets_none(world: World) -> None:
    subscribed, _ = await world.target(["campaign.started", "campaign.completed"])
    calls_only, _ = await world.target(["call.started", "call.ended", "call.failed"])
    await run_with_jobs(world, lambda: world.run_campaign({}), subscribed)
    assert [r.event for r in await world.deliveries(calls_only) if r.event.startswith("campaign.")] == []
