"""The analysis job: for every call whose ``call.ended`` was fanned out, run the analyzer and
write the result with its ``call.analyzed`` event in one transaction.

Calls are claimed with a lease (``analysis_claimed_until``), so a process that dies mid-way
leaves the call to be analysed again, and two processes never analyse one call at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from callwright.domain.agent import AgentSettings
from callwright.domain.pii import redact
from callwright.observability import ANALYSES
from callwright.services import events
from callwright.services.agents import current_version, version_by_id
from callwright.services.analysis.base import AnalysisInput, Analyzer
from callwright.services.conversations import call_row
from callwright.services.errors import Conflict
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow
from callwright.store.wakeups import Wakeups

log = logging.getLogger("callwright.analysis")

LEASE_S = 120.0


def analysis_input(row: Any, settings: Any) -> AnalysisInput:
    return AnalysisInput(
        transcript=list(row.transcript or []), results=dict(row.results or {}), status=row.status,
        end_reason=row.end_reason, answered_by=row.answered_by, duration_ms=row.duration_ms,
        plan=settings.analysis, prompt=row.prompt or "", language=settings.language, started_at=row.answered_at,
    )


class AnalysisRunner:
    def __init__(self, db: Database, analyzer: Analyzer, *, concurrency: int = 32, poll_s: float = 1.0) -> None:
        self.db = db
        self.analyzer = analyzer
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.wakeups = Wakeups()

    async def run(self) -> None:
        while True:
            if await self.run_once() == 0:
                await self.wakeups.wait(self.poll_s)

    async def run_once(self) -> int:
        now = utcnow()
        due = (
            sa.select(calls.c.id)
            .where(
                sa.or_(
                    calls.c.analysis_state == "pending",
                    sa.and_(calls.c.analysis_state == "running", calls.c.analysis_claimed_until < now),
                )
            )
            .limit(self.concurrency)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        claim = (
            calls.update()
            .where(calls.c.id.in_(due.scalar_subquery()))
            .values(analysis_state="running", analysis_claimed_until=now + timedelta(seconds=LEASE_S))
            .returning(calls.c.id)
        )
        claimed = [r.id for r in await self.db.run_tx(lambda conn: conn.execute(claim).all())]
        if not claimed:
            return 0
        query = sa.select(calls).where(calls.c.id.in_(claimed))
        rows = await self.db.run_read(lambda conn: conn.execute(query).all())
        plans: dict[uuid.UUID, AgentSettings] = {}
        done = [d for d in await asyncio.gather(*(self._analyze(row, plans) for row in rows)) if d is not None]
        if done:
            await self.db.run_tx(lambda conn: self._record(conn, done))
            self.db.wakeups.notify()
        return len(claimed)

    async def _plan(self, row: Any, plans: dict[uuid.UUID, AgentSettings]) -> AgentSettings:
        """The agent's plan as it is now, so a re-run after changing the plan uses the new one (the
        call's own version when the agent was archived since); read once per agent per batch."""
        settings = plans.get(row.agent_id)
        if settings is None:
            version = await current_version(self.db, row.org_id, row.agent_id)
            if version is None:
                version = await version_by_id(self.db, row.org_id, row.agent_version_id)
            settings = plans[row.agent_id] = version.settings
        return settings

    async def _analyze(self, row: Any, plans: dict[uuid.UUID, AgentSettings]) -> tuple[Any, dict[str, Any]] | None:
        try:
            settings = await self._plan(row, plans)
            analysis = (await self.analyzer.analyze(analysis_input(row, settings))).to_dict()
            if settings.redact_pii and analysis.get("call_summary"):
                analysis["call_summary"] = redact(analysis["call_summary"])
        except Exception:
            log.exception("analysis failed; it will be retried when its lease runs out")
            return None
        ANALYSES.labels(str(analysis.get("engine"))).inc()
        return row, analysis

    @staticmethod
    def _record(conn: Connection, done: list[tuple[Any, dict[str, Any]]]) -> None:
        """Each analysis and its ``call.analyzed`` event, in one transaction for the batch."""
        now = utcnow()
        conn.execute(
            calls.update()
            .where(calls.c.id == sa.bindparam("b_id"), calls.c.analysis_state == "running")
            .values(analysis=sa.bindparam("b_analysis", type_=calls.c.analysis.type), analysis_state="done",
                    analysis_claimed_until=None,
                    updated_at=now),
            [{"b_id": row.id, "b_analysis": analysis} for row, analysis in done],
        )
        events.emit_sync(conn, [
            events.event_values(
                events.CALL_ANALYZED, row.org_id, call_id=row.id, agent_id=row.agent_id,
                campaign_id=row.campaign_id, data={"engine": analysis.get("engine")}, at=now,
            )
            for row, analysis in done
        ])


async def request_reanalysis(db: Database, org_id: uuid.UUID, call_id: uuid.UUID) -> None:
    """Run the analysis again (e.g. after the plan changed); ``call.analyzed`` is sent again."""
    row = await call_row(db, org_id, call_id)
    if row.ended_at is None:
        raise Conflict("the call has not ended yet; it is analysed when it ends")
    if row.analysis_state in ("pending", "running"):
        return
    async with db.tx() as conn:
        await conn.execute(
            calls.update()
            .where(calls.c.id == call_id, calls.c.org_id == org_id)
            .values(analysis_state="pending", analysis_claimed_until=None)
        )
