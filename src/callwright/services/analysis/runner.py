"""The analysis job: for every call whose ``call.ended`` was fanned out, run the analyzer and
write the result with its ``call.analyzed`` event in one transaction.

It is also where a caller's request not to be called again is honoured (the agent's
``do_not_call_on_request``): every ended call passes here, and a claim that dies mid-way is
claimed again, so the request is never lost. The number is listed before the analyzer runs, so a
slow or failing analyzer never delays it; the analysis then records ``opted_out: true``.

Calls are claimed with a lease (``analysis_claimed_until``), so a process that dies mid-way
leaves the call to be analysed again, and two processes never analyse one call at once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from callwright.domain.agent import AgentSettings
from callwright.domain.opt_out import transcript_opts_out
from callwright.domain.pii import redact
from callwright.observability import ANALYSES
from callwright.services import dnc, events
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

_E164 = re.compile(r"^\+[1-9]\d{5,14}$")


def callee_number(row: Any) -> str | None:
    """The other party's number (the callee of an outbound call, the caller of an inbound one);
    ``None`` for a web call or a withheld number."""
    if row.medium != "phone":
        return None
    number = row.to_number if row.direction == "outbound" else row.from_number
    return number if number and _E164.match(number) else None


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
        opted = await self._honour_opt_outs(rows)
        plans: dict[uuid.UUID, AgentSettings] = {}
        done = [
            d for d in await asyncio.gather(*(self._analyze(row, plans, row.id in opted) for row in rows))
            if d is not None
        ]
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

    async def _honour_opt_outs(self, rows: Sequence[Any]) -> set[uuid.UUID]:
        """The calls whose caller asked not to be called again, with the agent's option on (as the
        version that took the call had it); their numbers are listed now, in one transaction.

        A call whose earlier analysis already says ``opted_out`` is not listed again, so a re-run
        of the analysis never undoes someone's later removal of the number from the list."""
        opted: set[uuid.UUID] = set()
        to_list: list[tuple[Any, str]] = []
        versions: dict[uuid.UUID, AgentSettings] = {}
        for row in rows:
            if not transcript_opts_out(row.transcript or []):
                continue
            settings = versions.get(row.agent_version_id)
            if settings is None:
                version = await version_by_id(self.db, row.org_id, row.agent_version_id)
                settings = versions[row.agent_version_id] = version.settings
            if not settings.do_not_call_on_request:
                continue
            opted.add(row.id)
            number = callee_number(row)
            if number is not None and not (row.analysis or {}).get("opted_out"):
                to_list.append((row, number))
        if to_list:
            now = utcnow()
            await self.db.run_tx(lambda conn: self._list(conn, to_list, now))
            log.info("listed %d number(s) as do-not-call at the caller's request", len(to_list))
        return opted

    @staticmethod
    def _list(conn: Connection, to_list: list[tuple[Any, str]], now: datetime) -> None:
        for row, number in to_list:
            dnc.list_on_request_sync(conn, row.org_id, number, f"asked during call {row.id}", now)

    async def _analyze(
        self, row: Any, plans: dict[uuid.UUID, AgentSettings], opted_out: bool
    ) -> tuple[Any, dict[str, Any]] | None:
        try:
            settings = await self._plan(row, plans)
            analysis = (await self.analyzer.analyze(analysis_input(row, settings))).to_dict()
            if opted_out:
                analysis["opted_out"] = True
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
