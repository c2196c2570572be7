"""Webhook delivery against a real loopback receiver: retries, Retry-After, 410, restarts.

The jobs run in-process on a real SQLite database (and PostgreSQL where available); events are
written by the one status writer, exactly as a call would write them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from callwright.net import SafeHttpClient
from callwright.services import call_state
from callwright.services.background_jobs import BackgroundJobs
from callwright.services.secrets import SecretBox
from callwright.services.webhooks.targets import new_secret
from callwright.settings import Settings
from callwright.store.db import Database
from callwright.store.tables import agent_versions, agents, calls, organizations, webhook_deliveries, webhook_targets
from callwright.store.types import utcnow
from tests.fakes.webhook_receiver import Answer, WebhookReceiver, webhook_receiver
from tests.support import database_url, drop_postgres

FAST_SCHEDULE = [0.0, 0.3, 0.3, 0.3]


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url = database_url(request.param, tmp_path)
    yield url
    if request.param == "postgres":
        drop_postgres(url)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await database.migrate()
    yield database
    await database.dispose()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as r:
        yield r


class World:
    def __init__(self, db: Database, tmp: Path, receiver: WebhookReceiver) -> None:
        self.db = db
        self.settings = Settings(
            database_url=str(db.url), data_dir=tmp, allow_private_urls=True, jobs_poll_interval_s=0.05,
            webhook_retry_schedule_s=FAST_SCHEDULE, webhook_timeout_s=1.0,
        )
        self.box = SecretBox(b"test key")
        self.secret = new_secret()
        self.receiver = receiver
        self.org, self.agent, self.version, self.target = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def setup(self) -> None:
        now = utcnow()
        async with self.db.tx() as conn:
            await conn.execute(organizations.insert().values(id=self.org, name=str(self.org), created_at=now))
            await conn.execute(agents.insert().values(
                id=self.agent, org_id=self.org, name="a", version_id=self.version, version=1, config={},
                created_at=now, updated_at=now,
            ))
            await conn.execute(agent_versions.insert().values(
                id=self.version, agent_id=self.agent, org_id=self.org, version=1, config={"name": "a"}, created_at=now,
            ))
            await conn.execute(webhook_targets.insert().values(
                id=self.target, org_id=self.org, agent_id=self.agent, url=self.receiver.url,
                events=["call.started", "call.ended", "call.failed", "call.analyzed"], include_transcript=True,
                include_recording=False, secret=self.box.encrypt(self.secret), enabled=True, created_at=now,
                updated_at=now,
            ))

    async def ended_call(self) -> uuid.UUID:
        """A call that was answered and ended: call.started, call.ended (and call.analyzed after)."""
        call_id, now = uuid.uuid4(), utcnow()
        async with self.db.tx() as conn:
            await conn.execute(calls.insert().values(
                id=call_id, org_id=self.org, trace_id=uuid.uuid4().hex, agent_id=self.agent,
                agent_version_id=self.version, direction="outbound", medium="phone", to_number="+15550100001",
                from_number="+15550100000", status="ringing", call_source="api", metadata={"crm": 1},
                variables={}, transcript=[], results={}, attempt=1, created_at=now, updated_at=now,
            ))
        await call_state.transition(self.db, call_id, ["ringing"], "in_progress", answered_at=utcnow())
        await call_state.finish(
            self.db, call_id, "completed", "agent_hangup",
            transcript=[{"role": "agent", "text": "Hello.", "start_ms": 0, "end_ms": 1, "interrupted": False},
                        {"role": "user", "text": "Thanks, great.", "start_ms": 2, "end_ms": 3, "interrupted": False}],
        )
        return call_id

    async def end_a_call_and_wait(self, done: Any) -> None:
        """Run the jobs as a server does while one call ends, until ``done()`` holds."""
        jobs = self.jobs()
        jobs.start()
        try:
            await self.ended_call()
            await wait_for(done)
        finally:
            await jobs.stop()

    def jobs(self) -> BackgroundJobs:
        return BackgroundJobs(self.settings, self.db, SafeHttpClient(allow_private=True), self.box)

    async def deliveries(self) -> list[Any]:
        async with self.db.read() as conn:
            return list((await conn.execute(sa.select(webhook_deliveries))).all())


@pytest.fixture
async def world(db: Database, tmp_path: Path, receiver: WebhookReceiver) -> World:
    w = World(db, tmp_path, receiver)
    await w.setup()
    return w


async def wait_for(predicate: Any, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def all_delivered(world: World, count: int) -> bool:
    rows = await world.deliveries()
    return len(rows) >= count and all(r.status == "succeeded" for r in rows)


async def test_each_event_is_delivered_signed_with_its_request_id_as_webhook_id(world: World) -> None:
    await world.end_a_call_and_wait(lambda: all_delivered(world, 3))
    got = world.receiver.events()
    # Deliveries are sent concurrently, so arrival order is not promised (docs/webhooks.md).
    assert sorted(g.json()["event"] for g in got) == ["call.analyzed", "call.ended", "call.started"]
    for g in got:
        Webhook(world.secret).verify(g.body, g.headers)
        assert g.headers["webhook-id"] == g.json()["request_id"]


async def test_a_receiver_that_is_down_then_back_gets_every_event_with_its_original_id(world: World) -> None:
    world.settings = world.settings.model_copy(update={"webhook_retry_schedule_s": [0.5] * 8})
    world.receiver.stop()
    jobs = world.jobs()
    jobs.start()
    try:
        await world.ended_call()
        await wait_for(lambda: _attempted(world, 3))
        first_ids = {str(r.event_id) for r in await world.deliveries()}
        world.receiver.start()
        await wait_for(lambda: all_delivered(world, 3))
    finally:
        await jobs.stop()
    assert {g.headers["webhook-id"] for g in world.receiver.events()} == first_ids


async def _attempted(world: World, count: int) -> bool:
    rows = await world.deliveries()
    return len(rows) >= count and all(r.attempts >= 1 for r in rows)


async def test_deliveries_survive_a_restart_of_the_jobs(world: World) -> None:
    # Retries far enough apart that none runs out of attempts while the receiver is down.
    world.settings = world.settings.model_copy(update={"webhook_retry_schedule_s": [1.0] * 8})
    world.receiver.stop()
    jobs = world.jobs()
    jobs.start()
    await world.ended_call()
    await wait_for(lambda: _attempted(world, 3))
    await jobs.stop()
    world.receiver.start()
    again = world.jobs()
    again.start()
    try:
        await wait_for(lambda: all_delivered(world, 3))
    finally:
        await again.stop()
    assert len({g.headers["webhook-id"] for g in world.receiver.events()}) == 3


async def test_a_500_is_retried_until_it_succeeds(world: World) -> None:
    world.receiver.script = [Answer(500), Answer(500)]
    world.receiver.default = Answer(200)
    await world.end_a_call_and_wait(lambda: all_delivered(world, 3))
    attempts = sorted(r.attempts for r in await world.deliveries())
    assert sum(attempts) == 5
    assert any(row.last_status_code == 200 for row in await world.deliveries())


async def test_retry_after_is_honoured(world: World) -> None:
    world.receiver.script = [Answer(429, retry_after="2")]
    await world.end_a_call_and_wait(lambda: all_delivered(world, 3))
    by_id: dict[str, list[float]] = {}
    for g in world.receiver.events():
        by_id.setdefault(g.headers["webhook-id"], []).append(g.at)
    waits = [times[1] - times[0] for times in by_id.values() if len(times) == 2]
    assert len(waits) == 1 and waits[0] >= 1.9


async def test_a_410_disables_the_target_and_cancels_what_is_pending(world: World) -> None:
    world.receiver.default = Answer(410)
    await world.end_a_call_and_wait(lambda: _settled(world))
    async with world.db.read() as conn:
        target = (await conn.execute(sa.select(webhook_targets))).one()
    assert not target.enabled and "410" in (target.disabled_reason or "")
    assert "pending" not in {r.status for r in await world.deliveries()}


async def _settled(world: World) -> bool:
    rows = await world.deliveries()
    return bool(rows) and all(r.status in ("succeeded", "failed", "canceled") for r in rows)


async def test_a_slow_receiver_times_out_and_is_retried(world: World) -> None:
    world.receiver.script = [Answer(200, delay_s=1.5)]
    await world.end_a_call_and_wait(lambda: all_delivered(world, 3))
    rows = await world.deliveries()
    slow = [r for r in rows if r.attempts == 2]
    assert len(slow) == 1
    assert "no complete response" in (slow[0].attempt_log[0]["error"] or "")


async def test_giving_up_after_the_schedule_marks_the_delivery_failed(world: World) -> None:
    world.receiver.default = Answer(503)
    await world.end_a_call_and_wait(lambda: _settled(world))
    rows = await world.deliveries()
    assert {r.status for r in rows} == {"failed"}
    assert {r.attempts for r in rows} == {len(FAST_SCHEDULE) + 1}


async def test_a_delivery_whose_target_was_disabled_meanwhile_is_canceled_not_sent(world: World) -> None:
    jobs = world.jobs()
    await world.ended_call()
    assert await jobs.fanout.run_once() > 0  # deliveries written, nothing sent yet
    async with world.db.tx() as conn:
        await conn.execute(webhook_targets.update().values(enabled=False, disabled_reason="paused"))
    await jobs.sender.drain()
    rows = await world.deliveries()
    assert rows and {r.status for r in rows} == {"canceled"}
    assert {r.last_error for r in rows} == {"the webhook target is disabled"}
    assert world.receiver.events() == []
