"""Reading conversation records: one call, the filtered list, the transcript."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.domain.call import Conversation, TranscriptTurn
from callwright.services.errors import NotFound
from callwright.services.pagination import MAX_LIMIT, encode_cursor, newest_first
from callwright.store.db import Database
from callwright.store.tables import calls


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def conversation_out(row: Row[Any] | Any) -> Conversation:
    """The record from a ``calls`` row (or anything with the same attributes)."""
    return Conversation(
        id=str(row.id), trace_id=row.trace_id, agent_id=str(row.agent_id),
        agent_version_id=str(row.agent_version_id), contact_id=_s(row.contact_id),
        campaign_id=_s(row.campaign_id), direction=row.direction, medium=row.medium,
        from_=row.from_number, to=row.to_number, status=row.status, end_reason=row.end_reason,
        call_source=row.call_source, metadata=row.metadata or {}, variables=row.variables or {},
        context=row.context, first_message=row.first_message, prompt=row.prompt,
        retry_context=row.retry_context, transcript=row.transcript or [], results=row.results or {},
        analysis=row.analysis,
        recording_url=f"/v1/conversations/{row.id}/recording" if row.recording_path else None,
        error=row.error, created_at=row.created_at, updated_at=row.updated_at,
        scheduled_for=row.scheduled_for, started_at=row.started_at, answered_at=row.answered_at,
        ended_at=row.ended_at, duration_ms=row.duration_ms, attempt=row.attempt, retry_of=_s(row.retry_of),
        latency=row.latency, dynamic_context=row.dynamic_context, render_errors=row.render_errors,
        tool_calls=row.tool_calls or [], transferred_to=row.transferred_to,
    )


async def call_row(db: Database, org_id: uuid.UUID, call_id: uuid.UUID) -> Row[Any]:
    async with db.read() as conn:
        row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id, calls.c.org_id == org_id))).first()
    if row is None:
        raise NotFound("conversation not found")
    return row


async def recording_file(db: Database, org_id: uuid.UUID, call_id: uuid.UUID, data_dir: Path) -> Path:
    """The stereo WAV of one of the organization's calls (a stored relative path is under
    ``data_dir``); ``NotFound`` when the call has none or the file is gone."""
    row = await call_row(db, org_id, call_id)
    if not row.recording_path:
        raise NotFound("this conversation has no recording")
    path = Path(row.recording_path)
    if not path.is_absolute():
        path = data_dir / path
    if not path.is_file():
        raise NotFound("the recording file is missing")
    return path


async def get_conversation(db: Database, org_id: uuid.UUID, call_id: uuid.UUID) -> Conversation:
    return conversation_out(await call_row(db, org_id, call_id))


async def get_transcript(db: Database, org_id: uuid.UUID, call_id: uuid.UUID) -> list[TranscriptTurn]:
    return conversation_out(await call_row(db, org_id, call_id)).transcript


async def list_conversations(
    db: Database,
    org_id: uuid.UUID,
    *,
    limit: int = 50,
    cursor: str | None = None,
    agent_id: uuid.UUID | None = None,
    campaign_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    status: str | None = None,
    call_source: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[Conversation], str | None]:
    limit = min(max(limit, 1), MAX_LIMIT)
    conds: list[sa.ColumnElement[bool]] = [calls.c.org_id == org_id, *newest_first(calls, cursor)]
    for col, value in (
        (calls.c.agent_id, agent_id), (calls.c.campaign_id, campaign_id), (calls.c.contact_id, contact_id),
        (calls.c.status, status), (calls.c.call_source, call_source),
    ):
        if value is not None:
            conds.append(col == value)
    if created_after is not None:
        conds.append(calls.c.created_at >= created_after)
    if created_before is not None:
        conds.append(calls.c.created_at < created_before)
    q = sa.select(calls).where(*conds).order_by(calls.c.created_at.desc(), calls.c.id.desc()).limit(limit + 1)
    async with db.read() as conn:
        rows = (await conn.execute(q)).all()
    nxt = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return [conversation_out(r) for r in rows[:limit]], nxt


async def call_row_by_link(db: Database, call_id: uuid.UUID) -> Row[Any]:
    """A call for a signed attachment link: the signature, not an API key, proves access."""
    async with db.read() as conn:
        row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).first()
    if row is None:
        raise NotFound("conversation not found")
    return row
