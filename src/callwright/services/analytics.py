"""Call analytics: one aggregate query per request, computed by the database and scoped to the
organization. The definitions of the figures are the route's (``api/analytics.py``); the choice
worth knowing here is the answer rate's base: calls with an outcome (answered, or ended as
completed, no_answer, busy, failed or voicemail), so that calls not dialed yet, and calls
canceled before anyone answered, do not lower it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from callwright.domain.analytics import CallAnalytics, CallStats, GroupBy
from callwright.domain.call import TERMINAL_STATUSES
from callwright.store.db import Database
from callwright.store.tables import calls

OUTCOME_STATUSES: frozenset[str] = TERMINAL_STATUSES - {"canceled"}
"""Statuses that say whether the callee answered; with ``answered_at``, the answer rate's base."""


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    # SUM(CASE ...) rather than COUNT(*) FILTER: it runs on every SQLite the project supports.
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _group_key(db: Database, group_by: GroupBy) -> sa.ColumnElement[Any]:
    if group_by != "day":
        return calls.c[group_by]
    if db.is_sqlite:  # stored as naive UTC text, "YYYY-MM-DD HH:MM:SS..."
        return sa.func.date(calls.c.created_at, type_=sa.String)
    # Literals, not bound parameters: PostgreSQL must see the same expression in GROUP BY.
    utc = sa.func.timezone(sa.literal_column("'UTC'"), calls.c.created_at)
    return sa.func.to_char(utc, sa.literal_column("'YYYY-MM-DD'"), type_=sa.String)


def _call_successful(db: Database) -> sa.ColumnElement[bool]:
    """``analysis.call_successful`` is JSON ``true`` (not a string or a number that looks true)."""
    if db.is_sqlite:
        return sa.func.json_type(calls.c.analysis, "$.call_successful") == "true"
    return sa.cast(calls.c.analysis["call_successful"], sa.Text) == "true"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def call_stats(
    db: Database,
    org_id: uuid.UUID,
    group_by: GroupBy,
    *,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    agent_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    call_source: str | None = None,
) -> CallAnalytics:
    """Per-group figures for the organization's calls created in [created_after, created_before),
    sorted by key (null last)."""
    conds: list[sa.ColumnElement[bool]] = [calls.c.org_id == org_id]
    for col, value in ((calls.c.agent_id, agent_id), (calls.c.campaign_id, campaign_id),
                       (calls.c.call_source, call_source)):
        if value is not None:
            conds.append(col == value)
    if created_after is not None:
        conds.append(calls.c.created_at >= created_after)
    if created_before is not None:
        conds.append(calls.c.created_at < created_before)
    answered = calls.c.answered_at.is_not(None)
    key = _group_key(db, group_by).label("key")
    q = (
        sa.select(
            key,
            sa.func.count().label("calls"),
            _count(answered).label("answered"),
            _count(sa.or_(answered, calls.c.status.in_(sorted(OUTCOME_STATUSES)))).label("with_outcome"),
            _count(calls.c.status == "completed").label("completed"),
            _count(_call_successful(db)).label("successful"),
            sa.func.avg(calls.c.duration_ms).label("avg_duration_ms"),
            _count(calls.c.status == "voicemail").label("voicemail"),
            _count(calls.c.status == "no_answer").label("no_answer"),
        )
        .where(*conds)
        .group_by(key)
    )
    async with db.read() as conn:
        rows = (await conn.execute(q)).all()
    data = [
        CallStats(
            key=None if r.key is None else str(r.key),
            calls=r.calls,
            answered=int(r.answered),
            answer_rate=_rate(int(r.answered), int(r.with_outcome)),
            completed=int(r.completed),
            successful=int(r.successful),
            success_rate=_rate(int(r.successful), int(r.answered)),
            avg_duration_ms=None if r.avg_duration_ms is None else round(float(r.avg_duration_ms)),
            voicemail=int(r.voicemail),
            no_answer=int(r.no_answer),
        )
        for r in rows
    ]
    data.sort(key=lambda s: (s.key is None, s.key or ""))
    return CallAnalytics(group_by=group_by, data=data, created_after=created_after, created_before=created_before)
