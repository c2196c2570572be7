"""Live calls in this process, so a cancel can hang one up wherever its session runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Row

from callwright.services.carriers import carrier_hang_up
from callwright.store.db import Database

HangUp = Callable[[str], None]

_sessions: dict[uuid.UUID, HangUp] = {}


def register(call_id: uuid.UUID, hang_up: HangUp) -> None:
    _sessions[call_id] = hang_up


def unregister(call_id: uuid.UUID) -> None:
    _sessions.pop(call_id, None)


def is_live_here(call_id: uuid.UUID) -> bool:
    return call_id in _sessions


async def request_hangup(db: Database, row: Row[Any]) -> bool:
    """Hang up a live call: through its session when it runs here, else through its carrier."""
    hang_up = _sessions.get(row.id)
    if hang_up is not None:
        hang_up("canceled")
        return True
    return await carrier_hang_up(db, row)
