"""Campaign CSV ingest: a generated 100,000-row CSV streamed into ``campaign_contacts``.

Times ``ingest_csv`` end to end (decode, parse, validate, DNC lookup, multi-row inserts) on a
SQLite file and, when reachable, on PostgreSQL. Target: 10 s or less for 100,000 rows on each.

    .venv/bin/python bench/campaign_ingest.py [--rows 100000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callwright.services.campaign_ingest import ingest_csv
from callwright.store.db import Database
from callwright.store.tables import agents, campaigns, dnc_numbers, organizations
from callwright.store.types import utcnow
from common import print_table, write_result

PG_ADMIN_DSN = os.environ.get("CALLWRIGHT_BENCH_PG", os.environ.get(
    "CALLWRIGHT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
CHUNK = 64 * 1024
FIRST = ["Ann", "Rahul", "José", "Mei", "Olu", "Sven", "Aisha", "Liam", "Zoë", "Kenji"]
LAST = ["Lee", "Sharma", "García", "Chen", "Adeyemi", "Berg", "Khan", "Murphy", "Dubois", "Sato"]
PLANS = ["basic", "plus", "premium"]
AREAS = [212, 415, 312, 617, 305, 206, 713, 404, 702, 303]


def make_csv(rows: int, seed: int = 7) -> tuple[bytes, list[str]]:
    """A realistic upload: mixed number formats, contact columns, three variables, about 1% bad
    rows and 0.5% repeated numbers. Returns the bytes and 100 of its numbers to put on the DNC list."""
    rnd = random.Random(seed)
    out = ["customer_phone,first_name,last_name,email,external_id,timezone,loan_id,amount_due,plan"]
    dnc: list[str] = []
    prev = ""
    for i in range(rows):
        rest = i // len(AREAS)
        number = f"+1{AREAS[i % len(AREAS)]}{234 + rest // 10_000 % 600}{rest % 10_000:04d}"
        kind = i % 4
        shown = number if kind == 0 else (
            f"({number[2:5]}) {number[5:8]}-{number[8:]}" if kind == 1 else f"{number[2:5]}.{number[5:8]}.{number[8:]}"
            if kind == 2 else f"1 {number[2:5]} {number[5:8]} {number[8:]}")
        if rnd.random() < 0.01:
            shown = "12345"
        elif rnd.random() < 0.005 and i:
            shown = prev
        prev = number
        if i % 1000 == 500:
            dnc.append(number)
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        tz = "America/New_York" if i % 5 == 0 else ""
        out.append(f"{shown},{first},{last},{first.lower()}.{i}@example.com,CUST-{i:06d},{tz},"
                   f"LN-{rnd.randrange(10**6):06d},{rnd.randrange(10, 5000)}.{rnd.randrange(100):02d},"
                   f"{rnd.choice(PLANS)}")
    return ("\n".join(out) + "\n").encode(), dnc


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]
        await asyncio.sleep(0)


async def _setup(db: Database, dnc: list[str]) -> tuple[uuid.UUID, uuid.UUID]:
    await db.migrate()
    org, agent, camp = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = utcnow()
    async with db.tx() as conn:
        await conn.execute(organizations.insert().values(id=org, name=str(org), created_at=now))
        await conn.execute(agents.insert().values(
            id=agent, org_id=org, name="a", version_id=uuid.uuid4(), version=1, config={}, created_at=now,
            updated_at=now))
        await conn.execute(campaigns.insert().values(
            id=camp, org_id=org, agent_id=agent, name="bench", status="draft", context={},
            call_source="api_campaign", calling_window={}, retry={}, max_concurrency=10, max_attempts_per_day=1,
            default_region="US", metadata={}, created_at=now, updated_at=now))
        await conn.execute(dnc_numbers.insert(), [
            {"org_id": org, "phone_number": p, "reason": None, "created_at": now} for p in dnc])
    return org, camp


async def run_one(url: str, data: bytes, dnc: list[str]) -> dict[str, Any]:
    db = Database(url)
    try:
        org, camp = await _setup(db, dnc)
        t0 = time.perf_counter()
        report = await ingest_csv(db, org, camp, chunks(data), default_region="US")
        elapsed = time.perf_counter() - t0
    finally:
        await db.dispose()
    return {
        "seconds": round(elapsed, 3),
        "rows_per_s": round(report.rows / elapsed),
        "rows": report.rows, "accepted": report.accepted, "skipped_dnc": report.skipped_dnc,
        "duplicates": report.duplicates, "rejected": report.rejected_count,
        "target_s": 10.0, "within_target": elapsed <= 10.0,
    }


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_postgres(data: bytes, dnc: list[str]) -> dict[str, Any]:
    name = f"cw_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        await _pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        return {"skipped": f"PostgreSQL at {PG_ADMIN_DSN} unreachable: {exc!r}"}
    try:
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        return await run_one(f"{base}/{name}", data, dnc)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    data, dnc = make_csv(args.rows)
    results: dict[str, Any] = {}
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results["sqlite"] = await run_one(f"sqlite+aiosqlite:///{tmp}/bench.db", data, dnc)
        elif backend == "postgres":
            results["postgres"] = await run_postgres(data, dnc)
    path = write_result("campaign_ingest", {
        "params": {"rows": args.rows, "bytes": len(data), "chunk_bytes": CHUNK, "dnc_numbers": len(dnc)},
        "results": results,
    })
    table: list[tuple[str, str]] = [("rows", f"{args.rows:,}"), ("file", f"{len(data) / 1e6:.1f} MB")]
    for backend, r in results.items():
        if "skipped" in r:
            table.append((backend, r["skipped"]))
            continue
        table += [(f"{backend} seconds", f"{r['seconds']:.2f}"), (f"{backend} rows/s", f"{r['rows_per_s']:,}"),
                  (f"{backend} accepted/dnc/dup/rejected",
                   f"{r['accepted']}/{r['skipped_dnc']}/{r['duplicates']}/{r['rejected']}")]
    print_table("Campaign CSV ingest", table)
    print(f"wrote {path}")


if __name__ == "__main__":
    asyncio.run(main())
