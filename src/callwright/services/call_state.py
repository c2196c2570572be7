"""Moving a call through its states with conditional updates: each transition happens once,
whoever tries it twice (a redelivered task, a late carrier callback) changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from callwright.domain.call import LIVE_STATUSES, TERMINAL_STATUSES
from callwright.observability import CALLS_ENDED
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow


async def transition(db: Database, call_id: uuid.UUID, allowed_from: Iterable[str], status: str, **values: Any) -> bool:
    """Set ``status`` (and ``values``) only when the call is in one of ``allowed_from``."""
    now = utcnow()
    async with db.tx() as conn:
        result = await conn.execute(
            calls.update()
            .where(calls.c.id == call_id, calls.c.status.in_(list(allowed_from)))
            .values(status=status, updated_at=now, **values)
        )
    changed = result.rowcount == 1
    if changed and status in TERMINAL_STATUSES:
        CALLS_ENDED.labels(status).inc()
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
    """Close a call that is not yet closed; the first closer wins."""
    ended = ended_at or utcnow()
    async with db.read() as conn:
        row = (await conn.execute(sa.select(calls.c.answered_at).where(calls.c.id == call_id))).first()
    duration = None
    if row is not None and row.answered_at is not None:
        duration = max(0, int((ended - row.answered_at).total_seconds() * 1000))
    values.setdefault("duration_ms", duration)
    return await transition(
        db,
        call_id,
        ["scheduled", "queued", *LIVE_STATUSES],
        status,
        end_reason=end_reason,
        ended_at=ended,
        error=error,
        **values,
    )
