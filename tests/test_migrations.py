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
