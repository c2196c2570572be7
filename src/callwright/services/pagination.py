"""Opaque keyset cursors over (created_at, id), stable under concurrent inserts."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from callwright.services.errors import InvalidInput

MAX_LIMIT = 500

CURSOR_PATTERN = r"^[0-9]{1,17}-[0-9a-f]{32}$"
"""A cursor is the last row's creation time (microseconds since 1970, UTC) and its ID. Opaque to
clients, but every string of this shape is a position in the list, so any one is accepted."""

_CURSOR = re.compile(CURSOR_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return f"{(created_at - _EPOCH) // _MICROSECOND}-{row_id.hex}"


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    if not _CURSOR.match(cursor):
        raise InvalidInput(["query", "cursor"], "cursor is not one this server issued")
    micros, row_id = cursor.split("-")
    return _EPOCH + int(micros) * _MICROSECOND, uuid.UUID(hex=row_id)


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
