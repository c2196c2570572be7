"""Campaign use cases: create, read with progress, control (start, pause, resume, cancel), rows.

A campaign's rows live in ``campaign_contacts``; a row becomes a call only when the scheduler
dials it (``campaign_scheduler``). Progress is counted from the rows, never kept as counters
that could drift. Every query is scoped to the organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from callwright.domain.agent import RetryPolicy
from callwright.domain.call import LIVE_STATUSES
from callwright.domain.campaign import (
    OPEN_ROW_STATES,
    ROW_STATES,
    CampaignCreate,
    CampaignOut,
    CampaignProgress,
    CampaignRowOut,
    CampaignStatus,
)
from callwright.domain.campaign_schedule import CallingWindow
from callwright.services import agents as agent_service
from callwright.services import events
from callwright.services.errors import Conflict, InvalidInput, NotFound
from callwright.services.pagination import MAX_LIMIT, encode_cursor, newest_first
from callwright.store.db import Database
from callwright.store.tables import calls, campaign_contacts, campaigns
from callwright.store.types import utcnow

LIVE_CALL_STATUSES = ("queued", *sorted(LIVE_STATUSES))
"""Calls that hold one of a campaign's slots: from the moment the row is dialed until the end."""

_CONTROL: dict[str, tuple[tuple[str, ...], CampaignStatus]] = {
    "start": (("draft",), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "cancel": (("draft", "running", "paused"), "canceled"),
}


async def create(db: Database, org_id: uuid.UUID, body: CampaignCreate) -> CampaignOut:
    version = await agent_service.current_version(db, org_id, body.agent_id)
    if version is None:
        raise NotFound(f"no active agent with id {body.agent_id}")
    now = utcnow()
    values: dict[str, Any] = dict(
        id=uuid.uuid4(), org_id=org_id, agent_id=version.agent_id, name=body.name, status="draft",
        context=body.context, call_source=body.call_source,
        calling_window=body.calling_window.model_dump(mode="json"), retry=body.retry.model_dump(mode="json"),
        max_concurrency=body.max_concurrency, max_attempts_per_day=body.max_attempts_per_day,
        default_region=body.default_region, metadata=body.metadata, start_at=body.start_at,
        created_at=now, updated_at=now, started_at=None, completed_at=None,
    )
    async with db.tx() as conn:
        await conn.execute(campaigns.insert().values(**values))
    return await get(db, org_id, values["id"])


async def row(db: Database, org_id: uuid.UUID, campaign_id: uuid.UUID) -> Row[Any]:
    async with db.read() as conn:
        found = (
            await conn.execute(
                sa.select(campaigns).where(campaigns.c.id == campaign_id, campaigns.c.org_id == org_id)
            )
        ).first()
    if found is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    return found


async def get(db: Database, org_id: uuid.UUID, campaign_id: uuid.UUID) -> CampaignOut:
    found = await row(db, org_id, campaign_id)
    return (await _with_progress(db, [found]))[0]


async def list_campaigns(
    db: Database, org_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[CampaignOut], str | None]:
    limit = min(max(limit, 1), MAX_LIMIT)
    q = (
        sa.select(campaigns)
        .where(campaigns.c.org_id == org_id, *newest_first(campaigns, cursor))
        .order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc())
        .limit(limit + 1)
    )
    async with db.read() as conn:
        rows = (await conn.execute(q)).all()
    nxt = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return await _with_progress(db, rows[:limit]), nxt


async def _with_progress(db: Database, rows: Iterable[Row[Any]]) -> list[CampaignOut]:
    found = list(rows)
    if not found:
        return []
    ids = [r.id for r in found]
    async with db.read() as conn:
        states = (
            await conn.execute(
                sa.select(campaign_contacts.c.campaign_id, campaign_contacts.c.state, sa.func.count())
                .where(campaign_contacts.c.campaign_id.in_(ids))
                .group_by(campaign_contacts.c.campaign_id, campaign_contacts.c.state)
            )
        ).all()
        outcomes = (
            await conn.execute(
                sa.select(campaign_contacts.c.campaign_id, campaign_contacts.c.last_outcome, sa.func.count())
                .where(campaign_contacts.c.campaign_id.in_(ids), campaign_contacts.c.last_outcome.is_not(None))
                .group_by(campaign_contacts.c.campaign_id, campaign_contacts.c.last_outcome)
            )
        ).all()
        call_counts = (
            await conn.execute(
                sa.select(
                    calls.c.campaign_id,
                    sa.func.count(),
                    sa.func.sum(sa.case((calls.c.status.in_(LIVE_CALL_STATUSES), 1), else_=0)),
                )
                .where(calls.c.campaign_id.in_(ids))
                .group_by(calls.c.campaign_id)
            )
        ).all()
    by_state: dict[uuid.UUID, dict[str, int]] = {i: dict.fromkeys(ROW_STATES, 0) for i in ids}
    for cid, state, n in states:
        by_state[cid][state] = n
    by_outcome: dict[uuid.UUID, dict[str, int]] = {i: {} for i in ids}
    for cid, outcome, n in outcomes:
        by_outcome[cid][outcome] = n
    attempts = {cid: (int(n), int(live or 0)) for cid, n, live in call_counts}
    return [
        campaign_out(
            r,
            CampaignProgress(
                total=sum(by_state[r.id].values()), by_state=by_state[r.id], by_outcome=by_outcome[r.id],
                live_calls=attempts.get(r.id, (0, 0))[1], attempts=attempts.get(r.id, (0, 0))[0],
            ),
        )
        for r in found
    ]


def campaign_out(r: Row[Any], progress: CampaignProgress) -> CampaignOut:
    return CampaignOut(
        id=str(r.id), name=r.name, agent_id=str(r.agent_id), status=r.status, context=r.context,
        call_source=r.call_source, calling_window=CallingWindow.model_validate(r.calling_window),
        start_at=r.start_at, max_concurrency=r.max_concurrency, max_attempts_per_day=r.max_attempts_per_day,
        retry=RetryPolicy.model_validate(r.retry), default_region=r.default_region, metadata=r.metadata or {},
        created_at=r.created_at, updated_at=r.updated_at, started_at=r.started_at, completed_at=r.completed_at,
        progress=progress,
    )


async def control(db: Database, org_id: uuid.UUID, campaign_id: uuid.UUID, action: str) -> CampaignOut:
    """Move the campaign along its states; 409 when the action does not apply to its state."""
    allowed, target = _CONTROL[action]
    current = await row(db, org_id, campaign_id)
    now = utcnow()

    def apply(conn: Connection) -> bool:
        values: dict[str, Any] = {"status": target, "updated_at": now}
        if action == "start":
            values["started_at"] = now
        if target == "canceled":
            values["completed_at"] = now
        changed = conn.execute(
            campaigns.update()
            .where(campaigns.c.id == campaign_id, campaigns.c.org_id == org_id, campaigns.c.status.in_(allowed))
            .values(**values)
        ).rowcount
        if not changed:
            return False
        if action == "start":
            events.emit_sync(conn, events.event_values(
                events.CAMPAIGN_STARTED, org_id, agent_id=current.agent_id, campaign_id=campaign_id,
                data={"status": "running", "name": current.name}, at=now,
            ))
        if target == "canceled":
            # Rows not yet dialed never will be; a call already live finishes on its own.
            conn.execute(
                campaign_contacts.update()
                .where(campaign_contacts.c.campaign_id == campaign_id, campaign_contacts.c.state == "pending")
                .values(state="canceled", updated_at=now)
            )
        elif action == "start":
            finish_if_done_sync(conn, campaign_id, now)
        return True

    if not await db.run_tx(apply):
        raise Conflict(f"cannot {action} a campaign that is {current.status}")
    db.wakeups.notify()
    db.dial_wakeups.notify()
    return await get(db, org_id, campaign_id)


def finish_if_done_sync(conn: Connection, campaign_id: uuid.UUID, now: Any) -> bool:
    """A running campaign with no row left to dial or live is completed (and says so, once)."""
    open_rows = conn.execute(
        sa.select(sa.func.count())
        .select_from(campaign_contacts)
        .where(campaign_contacts.c.campaign_id == campaign_id, campaign_contacts.c.state.in_(OPEN_ROW_STATES))
    ).scalar_one()
    if open_rows:
        return False
    done = conn.execute(
        campaigns.update()
        .where(campaigns.c.id == campaign_id, campaigns.c.status == "running")
        .values(status="completed", completed_at=now, updated_at=now)
        .returning(campaigns.c.org_id, campaigns.c.agent_id, campaigns.c.name)
    ).first()
    if done is None:
        return False
    counts: dict[str, int] = dict(
        conn.execute(
            sa.select(campaign_contacts.c.state, sa.func.count())
            .where(campaign_contacts.c.campaign_id == campaign_id)
            .group_by(campaign_contacts.c.state)
        ).all()
    )
    events.emit_sync(conn, events.event_values(
        events.CAMPAIGN_COMPLETED, done.org_id, agent_id=done.agent_id, campaign_id=campaign_id,
        data={"status": "completed", "name": done.name, "rows": {k: int(v) for k, v in counts.items()}}, at=now,
    ))
    return True


async def list_rows(
    db: Database, org_id: uuid.UUID, campaign_id: uuid.UUID, limit: int, after_row: int | None, state: str | None
) -> tuple[list[CampaignRowOut], int | None]:
    await row(db, org_id, campaign_id)
    limit = min(max(limit, 1), MAX_LIMIT)
    conds = [campaign_contacts.c.campaign_id == campaign_id, campaign_contacts.c.org_id == org_id]
    if after_row is not None:
        conds.append(campaign_contacts.c.row_number > after_row)
    if state is not None:
        if state not in ROW_STATES:
            raise InvalidInput(["query", "state"], f"unknown row state {state!r}; one of {', '.join(ROW_STATES)}")
        conds.append(campaign_contacts.c.state == state)
    q = sa.select(campaign_contacts).where(*conds).order_by(campaign_contacts.c.row_number).limit(limit + 1)
    async with db.read() as conn:
        rows = (await conn.execute(q)).all()
    nxt = rows[limit - 1].row_number if len(rows) > limit else None
    return [row_out(r) for r in rows[:limit]], nxt


def row_out(r: Row[Any]) -> CampaignRowOut:
    return CampaignRowOut(
        id=str(r.id), row=r.row_number, phone_number=r.phone_number, first_name=r.first_name,
        last_name=r.last_name, email=r.email, external_id=r.external_id, timezone=r.timezone,
        variables=r.variables or {}, state=r.state, attempts=r.attempts, next_attempt_at=r.next_attempt_at,
        last_call_id=str(r.last_call_id) if r.last_call_id else None, last_outcome=r.last_outcome,
        retry_context=r.retry_context, errors=r.errors,
    )


async def check_uploadable(db: Database, org_id: uuid.UUID, campaign_id: uuid.UUID) -> Row[Any]:
    found = await row(db, org_id, campaign_id)
    if found.status in ("completed", "canceled"):
        raise Conflict(f"cannot add rows to a campaign that is {found.status}")
    return found



async def rows_added(db: Database, org_id: uuid.UUID, campaign_id: uuid.UUID) -> None:
    """New rows of a running campaign are due now: wake the dialers."""
    db.dial_wakeups.notify()
