"""The safety net: due work is re-enqueued and orphaned live calls are closed, so a lost
message or a dead process delays work but never loses a call."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import sqlalchemy as sa

from callwright.domain.call import LIVE_STATUSES
from callwright.services import call_state
from callwright.services.calls import purge_idempotency_keys
from callwright.services.dispatch import CallQueue
from callwright.services.runners import RUNNER_STALE_S
from callwright.store.db import Database
from callwright.store.tables import calls, runners
from callwright.store.types import utcnow

log = logging.getLogger("callwright.reconciler")

REQUEUE_AFTER_S = 10.0
BATCH = 500


class Reconciler:
    """Part of the ``dial`` role: any one dial process may close orphans and re-enqueue for all."""

    def __init__(self, db: Database, queue: CallQueue, runner_id: str, idempotency_ttl_s: int) -> None:
        self.db = db
        self.queue = queue
        self.runner_id = runner_id
        self.idempotency_ttl_s = idempotency_ttl_s
        self._passes = 0

    async def run_once(self) -> None:
        """One pass of the ``dial`` role; the heartbeat is the runtime's, whatever its roles."""
        await self.close_orphans()
        await self.requeue_due()
        self._passes += 1
        if self._passes % 1000 == 1:
            await purge_idempotency_keys(self.db, self.idempotency_ttl_s)

    async def close_orphans(self) -> int:
        """Live calls whose process is gone (no heartbeat) end as ``failed`` / ``interrupted``."""
        cutoff = utcnow() - timedelta(seconds=RUNNER_STALE_S)
        alive = sa.select(runners.c.id).where(runners.c.heartbeat_at >= cutoff)
        q = (
            sa.select(calls.c.id)
            .where(
                calls.c.status.in_(list(LIVE_STATUSES)),
                sa.or_(
                    calls.c.runner_id.is_(None),
                    # This process is alive by definition, however late its heartbeat is under load.
                    sa.and_(calls.c.runner_id != self.runner_id, calls.c.runner_id.not_in(alive)),
                ),
            )
            .limit(BATCH)
        )
        async with self.db.read() as conn:
            ids = [r.id for r in (await conn.execute(q)).all()]
        closed = 0
        for call_id in ids:
            if await call_state.finish(
                self.db,
                call_id,
                "failed",
                "interrupted",
                error="the process running this call stopped before it ended",
            ):
                closed += 1
        async with self.db.tx() as conn:
            await conn.execute(runners.delete().where(runners.c.heartbeat_at < cutoff - timedelta(hours=1)))
        if closed:
            log.warning("closed %d calls left live by a stopped process", closed)
        return closed

    async def requeue_due(self) -> list[uuid.UUID]:
        now = utcnow()
        async with self.db.read() as conn:
            due = (
                await conn.execute(
                    sa.select(calls.c.id)
                    .where(calls.c.status == "scheduled", calls.c.scheduled_for <= now)
                    .limit(BATCH)
                )
            ).all()
        released = await call_state.release_due(self.db, [r.id for r in due]) if due else []
        async with self.db.tx() as conn:
            stale = (
                await conn.execute(
                    sa.select(calls.c.id)
                    .where(calls.c.status == "queued", calls.c.updated_at < now - timedelta(seconds=REQUEUE_AFTER_S))
                    .limit(BATCH)
                )
            ).all()
            if stale:
                await conn.execute(calls.update().where(calls.c.id.in_([r.id for r in stale])).values(updated_at=now))
        ids = released + [r.id for r in stale]
        for call_id in ids:
            await self.queue.call_ready(call_id)
        return ids
