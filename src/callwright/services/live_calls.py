"""The calls live in one runtime, so a cancel can hang one up wherever its session runs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.domain.call import LIVE_STATUSES
from callwright.services.carriers import CarrierRegistry, carrier_hang_up
from callwright.store.db import Database
from callwright.store.tables import calls

HangUp = Callable[[str], None]


def org_live_count(org_id: uuid.UUID, *, with_queued: bool = False) -> sa.Select[int]:
    """How many of an organization's calls are live (dialing, ringing, talking): what its
    live-call limit caps. ``with_queued`` counts the calls about to be dialed too (campaign
    admission must not hand out slots those will take)."""
    statuses = sorted(LIVE_STATUSES) + (["queued"] if with_queued else [])
    return sa.select(sa.func.count()).select_from(calls).where(calls.c.org_id == org_id, calls.c.status.in_(statuses))


class LiveCalls:
    """One runtime's live sessions (owned by the runtime, never a module global, so two runtimes
    in one process cannot hang up each other's calls); ``carriers`` reaches the calls whose
    session runs in another process."""

    def __init__(self, carriers: CarrierRegistry | None = None) -> None:
        self.carriers = carriers
        self._sessions: dict[uuid.UUID, HangUp] = {}

    def register(self, call_id: uuid.UUID, hang_up: HangUp) -> None:
        self._sessions[call_id] = hang_up

    def unregister(self, call_id: uuid.UUID) -> None:
        self._sessions.pop(call_id, None)

    def is_live_here(self, call_id: uuid.UUID) -> bool:
        return call_id in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    async def request_hangup(self, db: Database, row: Row[Any]) -> bool:
        """Hang up a live call: through its session when it runs here, else through its carrier."""
        hang_up = self._sessions.get(row.id)
        if hang_up is not None:
            hang_up("canceled")
            return True
        return await carrier_hang_up(db, self.carriers, row)
