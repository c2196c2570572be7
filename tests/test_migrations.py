"""The Alembic migrations build exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from callwright.store.db import Database
from callwright.store.tables import metadata


async def test_migrated_schema_matches_the_tables(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/m.db")
    await db.migrate()
    await db.dispose()
    engine = sa.create_engine(f"sqlite:///{tmp_path}/m.db")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_two_processes_migrating_a_fresh_postgresql_database_at_once_both_succeed() -> None:
    """``serve`` and a ``worker`` started together on an empty database: without the advisory lock
    one of them died on ``duplicate key ... pg_type_typname_nsp_index``."""
    import subprocess
    import sys

    from tests.support import drop_postgres, postgres_url_or_skip

    url = postgres_url_or_skip()
    script = (
        "import asyncio, sys\n"
        "from callwright.store.db import Database\n"
        "async def main():\n"
        "    db = Database(sys.argv[1])\n"
        "    try:\n"
        "        await db.migrate()\n"
        "    finally:\n"
        "        await db.dispose()\n"
        "asyncio.run(main())\n"
    )
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE, text=True) for _ in range(3)
        ]
        results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    finally:
        drop_postgres(url)
    assert [code for code, _ in results] == [0, 0, 0], [err[-800:] for _, err in results]
