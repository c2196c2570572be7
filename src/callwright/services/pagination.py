"""Opaque keyset cursors over (created_at, id), stable under concurrent inserts."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime

import sqlalchemy as sa

from callwright.services.errors import InvalidInput

MAX_LIMIT = 500


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, rid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), uuid.UUID(rid)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(["query", "cursor"], "cursor is not one this server issued") from exc


def newest_first(table: sa.Table, cursor: str | None) -> list[sa.ColumnElement[bool]]:
    """Conditions for the page after ``cursor`` when listing newest first."""
    if not cursor:
        return []
    created, rid = decode_cursor(cursor)
    return [
        sa.or_(
            table.c.created_at < created,
            sa.and_(table.c.created_at == created, table.c.id < rid),
        )
    ]
