"""The ``runners`` table: every process's heartbeat, its roles, and where a media process takes
streams. The dialer reads it to send each call's stream to a media process with room."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from callwright.domain.roles import ROLES
from callwright.store.db import Database
from callwright.store.tables import runners
from callwright.store.types import utcnow

log = logging.getLogger("callwright.runners")

RUNNER_STALE_S = 15.0
"""A runner whose heartbeat is older than this is gone: its live calls are orphans, and no stream
is sent to it."""


class Heartbeat:
    """This process's row in ``runners``: written at start, refreshed by the runtime, removed at stop."""

    def __init__(
        self,
        db: Database,
        runner_id: str,
        roles: frozenset[str],
        media_url: str | None = None,
        media_capacity: int | None = None,
    ) -> None:
        self.db = db
        self.runner_id = runner_id
        self.roles = [role for role in ROLES if role in roles]
        self.media_url = media_url if "media" in roles else None
        self.media_capacity = media_capacity if "media" in roles else None

    async def register(self) -> None:
        now = utcnow()
        async with self.db.tx() as conn:
            await conn.execute(
                runners.insert().values(
                    id=self.runner_id,
                    started_at=now,
                    heartbeat_at=now,
                    roles=self.roles,
                    media_url=self.media_url,
                    media_capacity=self.media_capacity,
                    media_live=0 if self.media_url else None,
                )
            )

    async def beat(self, media_live: int = 0) -> None:
        """Refresh the heartbeat; a media process also states its live sessions (this resets the
        reservations dialers made since the last beat to what actually connected)."""
        values: dict[str, object] = {"heartbeat_at": utcnow()}
        if self.media_url:
            values["media_live"] = media_live
        async with self.db.tx() as conn:
            await conn.execute(runners.update().where(runners.c.id == self.runner_id).values(**values))

    async def unregister(self) -> None:
        async with self.db.tx() as conn:
            await conn.execute(runners.delete().where(runners.c.id == self.runner_id))


@dataclass(frozen=True)
class MediaSlot:
    """A place reserved for one call's stream on a media process."""

    runner_id: str
    url: str


class MediaDirectory:
    """Picks the media process for a call's stream: this process's own when it has the role and
    room (no hop), else the least loaded live one with room. Reserving counts the call against
    the runner at once, so a burst of dials spreads out before the next heartbeat."""

    def __init__(self, db: Database, own_runner_id: str | None = None, stale_s: float = RUNNER_STALE_S) -> None:
        self.db = db
        self.own_runner_id = own_runner_id
        self.stale_s = stale_s

    async def reserve(self) -> MediaSlot | None:
        """A slot, or None when no live media process has room (the caller keeps the call queued)."""
        cutoff = utcnow() - timedelta(seconds=self.stale_s)
        live = sa.func.coalesce(runners.c.media_live, 0)
        fresh_with_room = sa.and_(
            runners.c.heartbeat_at >= cutoff,
            runners.c.media_url.is_not(None),
            runners.c.media_capacity.is_not(None),
            live < runners.c.media_capacity,
        )
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(runners.c.id, runners.c.media_url, live.label("live"), runners.c.media_capacity)
                    .where(fresh_with_room)
                )
            ).all()
        candidates = sorted(rows, key=lambda r: (r.id != self.own_runner_id, r.live / r.media_capacity, r.live))
        for row in candidates:
            async with self.db.tx() as conn:
                taken = await conn.execute(
                    runners.update().where(runners.c.id == row.id, fresh_with_room).values(media_live=live + 1)
                )
            if taken.rowcount == 1:
                return MediaSlot(row.id, row.media_url)
        return None

    async def release(self, slot: MediaSlot) -> None:
        """Give back a slot whose call was never placed."""
        async with self.db.tx() as conn:
            await conn.execute(
                runners.update()
                .where(runners.c.id == slot.runner_id, runners.c.media_live > 0)
                .values(media_live=runners.c.media_live - 1)
            )
