"""The `callwright` command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from callwright.app import bootstrap_key
from callwright.services.orgs import KEY_PREFIX, hash_key
from callwright.store.db import Database


def test_keys_create_prints_the_key_alone_on_the_last_line(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'k.db'}"}
    out = subprocess.run(
        [sys.executable, "-m", "callwright.cli", "keys", "create", "--org", "acme"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    ).stdout
    last = out.strip().splitlines()[-1]
    assert last.startswith(KEY_PREFIX) and " " not in last


def test_keys_are_stored_only_as_a_hash(tmp_path: Path) -> None:
    async def _run() -> tuple[str | None, list[str]]:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
        await db.migrate()
        key = await bootstrap_key(db)
        async with db.read() as conn:
            from sqlalchemy import text

            rows = [" ".join(map(str, r)) for r in (await conn.execute(text("SELECT * FROM api_keys"))).all()]
        await db.dispose()
        return key, rows

    key, rows = asyncio.run(_run())
    assert key is not None
    assert key not in " ".join(rows)
    assert hash_key(key) in " ".join(rows)


def test_a_key_is_bootstrapped_only_when_none_exists(tmp_path: Path) -> None:
    async def _run() -> tuple[str | None, str | None]:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
        await db.migrate()
        first, second = await bootstrap_key(db), await bootstrap_key(db)
        await db.dispose()
        return first, second

    first, second = asyncio.run(_run())
    assert first is not None and first.startswith(KEY_PREFIX)
    assert second is None
