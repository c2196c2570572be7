"""Database.run_tx on a SQLite file: inline on the loop, and waiting in a thread when another
process (here: another sqlite3 connection) holds the write lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from callwright.store.db import Database
from callwright.store.tables import organizations
from callwright.store.types import utcnow


def _insert_org(conn: Connection) -> uuid.UUID:
    org_id = uuid.uuid4()
    conn.execute(organizations.insert(), {"id": org_id, "name": f"org-{org_id}", "created_at": utcnow()})
    return org_id


async def test_run_tx_commits_and_waits_out_a_foreign_writer(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.migrate()
        first = await db.run_tx(_insert_org)

        other = sqlite3.connect(path, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        release = threading.Timer(0.3, other.commit)
        release.start()
        loop_ticks = 0

        async def ticker() -> None:
            nonlocal loop_ticks
            while True:
                await asyncio.sleep(0.01)
                loop_ticks += 1

        tick = asyncio.create_task(ticker())
        second = await db.run_tx(_insert_org)
        tick.cancel()
        release.join()
        other.close()
        assert loop_ticks >= 10  # the loop kept running while the write waited for the lock

        async with db.read() as conn:
            ids = set((await conn.execute(sa.select(organizations.c.id))).scalars())
        assert {first, second} <= ids
    finally:
        await db.dispose()
