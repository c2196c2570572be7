"""The one writer of a call's status. Every status change goes through here and writes an
``events`` row in the same transaction (the outbox). Transitions are conditional updates, so
each happens once whoever tries it twice (a redelivered task, a late carrier callback).

The logic is written once, on a synchronous connection (``*_sync``), so a use case can compose
it with its own writes in any transaction (``transition_in`` runs it inside an asynchronous one);
``transition``/``finish`` run it in a transaction of their own, through the inline sqlite3 path
on a SQLite file, and wake the event jobs after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from callwright.domain.call import LIVE_STATUSES, TERMINAL_STATUSES
from callwright.observability import CALLS_ENDED
from callwright.services import campaign_rows, events
from callwright.services import campaigns as campaign_service
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow

OPEN_STATUSES: tuple[str, ...] = ("scheduled", "queued", *sorted(LIVE_STATUSES))
_RETURNED = (calls.c.org_id, calls.c.agent_id, calls.c.campaign_id, calls.c.answered_at, calls.c.end_reason)


def event_type(status: str, answered: bool, end_reason: str | None) -> str:
    """Which event a new status means. A call that never reached a person (no answer, busy,
    failed, a voicemail we hung up on, canceled before answer) ends with ``call.failed``."""
    if status in TERMINAL_STATUSES:
        never_connected = not answered or (status == "voicemail" and end_reason == "voicemail_hangup")
        return events.CALL_FAILED if never_connected else events.CALL_ENDED
    if status == "in_progress":
        return events.CALL_STARTED
    return f"call.{status}"


def transition_sync(
    conn: Connection, call_id: uuid.UUID, allowed_from: Iterable[str], status: str, **values: Any
) -> bool:
    """Set ``status`` (and ``values``) only when the call is in one of ``allowed_from``, and
    record the event; False (and nothing written) when the call had moved on."""
    now = utcnow()
    row = conn.execute(
        calls.update()
        .where(calls.c.id == call_id, calls.c.status.in_(list(allowed_from)))
        .values(status=status, updated_at=now, **values)
        .returning(*_RETURNED)
    ).first()
    if row is None:
        return False
    events.emit_sync(
        conn,
        events.event_values(
            event_type(status, row.answered_at is not None, row.end_reason), row.org_id, call_id=call_id,
            agent_id=row.agent_id, campaign_id=row.campaign_id,
            data={"status": status, "end_reason": row.end_reason}, at=now,
        ),
    )
    return True


def finish_sync(
    conn: Connection,
    call_id: uuid.UUID,
    status: str,
    end_reason: str,
    *,
    error: str | None = None,
    ended_at: datetime | None = None,
    **values: Any,
) -> bool:
    """Close a call that is not yet closed; the first closer wins."""
    ended = ended_at or utcnow()
    answered_at = conn.execute(sa.select(calls.c.answered_at).where(calls.c.id == call_id)).scalar()
    if "duration_ms" not in values:
        values["duration_ms"] = (
            max(0, int((ended - answered_at).total_seconds() * 1000)) if answered_at is not None else None
        )
    changed = transition_sync(
        conn, call_id, OPEN_STATUSES, status, end_reason=end_reason, ended_at=ended, error=error, **values
    )
    if changed and status in TERMINAL_STATUSES:
        campaign_id = campaign_rows.call_ended_sync(conn, call_id, status, ended)
        if campaign_id is not None:
            campaign_service.finish_if_done_sync(conn, campaign_id, ended)
    return changed


async def transition_in(
    conn: AsyncConnection, call_id: uuid.UUID, allowed_from: Iterable[str], status: str, **values: Any
) -> bool:
    """``transition_sync`` inside the caller's open asynchronous transaction."""
    changed = await conn.run_sync(lambda c: transition_sync(c, call_id, allowed_from, status, **values))
    _count(changed, status)
    return changed


async def transition(db: Database, call_id: uuid.UUID, allowed_from: Iterable[str], status: str, **values: Any) -> bool:
    """A transition in a transaction of its own (on a SQLite file: the inline sqlite3 path)."""
    allowed = list(allowed_from)
    changed = await db.run_tx(lambda c: transition_sync(c, call_id, allowed, status, **values))
    _count(changed, status)
    if changed:
        db.wakeups.notify()
    return changed


async def finish(
    db: Database,
    call_id: uuid.UUID,
    status: str,
    end_reason: str,
    *,
    error: str | None = None,
    ended_at: datetime | None = None,
    **values: Any,
) -> bool:
    changed = await db.run_tx(
        lambda c: finish_sync(c, call_id, status, end_reason, error=error, ended_at=ended_at, **dict(values))
    )
    _count(changed, status)
    if changed:
        db.wakeups.notify()
        db.dial_wakeups.notify()  # a campaign slot may have freed
    return changed


def _count(changed: bool, status: str) -> None:
    if changed and status in TERMINAL_STATUSES:
        CALLS_ENDED.labels(status).inc()


async def cancel_pending(db: Database, org_id: uuid.UUID, call_id: uuid.UUID) -> bool:
    """Cancel a call that has not started dialing (scheduled or queued)."""
    now = utcnow()

    def cancel(conn: Connection) -> bool:
        owned = conn.execute(sa.select(calls.c.id).where(calls.c.id == call_id, calls.c.org_id == org_id)).first()
        return owned is not None and transition_sync(
            conn, call_id, ["scheduled", "queued"], "canceled", end_reason="canceled", ended_at=now
        )

    changed = await db.run_tx(cancel)
    _count(changed, "canceled")
    if changed:
        db.wakeups.notify()
    return changed


async def release_due(db: Database, call_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Scheduled calls whose time has come become ``queued``; returns the ones this process moved."""
    moved = await db.run_tx(lambda conn: [c for c in call_ids if transition_sync(conn, c, ["scheduled"], "queued")])
    if moved:
        db.wakeups.notify()
    return moved


def created_event(conn: Connection, values: dict[str, Any]) -> None:
    """The ``call.queued`` / ``call.scheduled`` event of a call row being inserted by ``conn``."""
    events.emit_sync(
        conn,
        events.event_values(
            f"call.{values['status']}", values["org_id"], call_id=values["id"], agent_id=values["agent_id"],
            campaign_id=values.get("campaign_id"), data={"status": values["status"]}, at=values["created_at"],
        ),
    )
