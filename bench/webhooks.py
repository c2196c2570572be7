"""Webhook delivery: deliveries per second and event -> delivery latency, against a local receiver.

    python bench/webhooks.py [--backend sqlite|postgres|both] [--mode rate|burst|both] [--calls 2000]
                             [--rate 250] [--analyzed] [--profile FILE]

The sender side is the server's own machinery in this process: a real database (a fresh SQLite file,
or a fresh PostgreSQL database created and dropped here), ``BackgroundJobs`` started as ``serve``
starts them (fan-out -> delivery rows -> signed sends, ``allow_private_urls``), and calls ended by
the one status writer (``call_state.transition`` / ``finish``), so every event is written exactly as
a real call writes it. Each call gives ``call.started`` and ``call.ended`` (and ``call.analyzed``
with ``--analyzed``, written by the analysis job), one delivery each.

The receiver runs in a separate process so its CPU is not the sender's: a minimal asyncio HTTP/1.1
server (keep-alive, ``200`` with an empty body) that records (webhook-id, wall time of arrival).

Modes:
* ``rate``: calls end at a steady ``--rate`` calls/s while the jobs run; latency is the steady-state
  figure (event row ``created_at``, set in the status-change transaction -> request received).
* ``burst``: every event is committed first, then the jobs start: throughput of draining a backlog
  (its latency is mostly time spent waiting in the backlog).

Checks every delivery row ``succeeded``, every webhook-id received (duplicates counted), and verifies
a sample of signatures with ``standardwebhooks``. Prints a table; writes
``bench/results/webhooks-<timestamp>.json``. Target: >= 1,000 deliveries/s, p50 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import multiprocessing as mp
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import database
from callwright.net import SafeHttpClient
from callwright.services import call_state
from callwright.services.background_jobs import BackgroundJobs
from callwright.services.secrets import SecretBox
from callwright.services.webhooks.targets import new_secret
from callwright.settings import Settings
from callwright.store.db import Database
from callwright.store.tables import (
    agent_versions,
    agents,
    calls,
    events,
    organizations,
    webhook_deliveries,
    webhook_targets,
)
from callwright.store.types import utcnow
from common import latency_summary_ms, percentile, write_result

TARGET_DPS = 1000.0
TARGET_P50_MS = 50.0
SIGNATURE_SAMPLES = 50
TRANSCRIPT = [
    {"role": "agent", "text": "Hello, this is a reminder.", "start_ms": 0, "end_ms": 900, "interrupted": False},
    {"role": "user", "text": "Thanks, great.", "start_ms": 1000, "end_ms": 1600, "interrupted": False},
]


# ---------------------------------------------------------------- receiver (its own process)


def _receiver_main(conn: Connection) -> None:
    """Serve until the parent says stop, then send back what arrived and the CPU it cost."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    records: list[tuple[str, float]] = []
    samples: list[tuple[dict[str, str], bytes]] = []
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, webhook_id = 0, ""
                lines = head[:-4].split(b"\r\n")[1:]
                for line in lines:
                    name, _, value = line.partition(b":")
                    low = name.lower()
                    if low == b"content-length":
                        length = int(value)
                    elif low == b"webhook-id":
                        webhook_id = value.strip().decode()
                body = await reader.readexactly(length) if length else b""
                records.append((webhook_id, time.time()))
                if len(samples) < SIGNATURE_SAMPLES:
                    headers = {}
                    for line in lines:
                        name, _, value = line.partition(b":")
                        headers[name.strip().lower().decode()] = value.strip().decode()
                    samples.append((headers, body))
                writer.write(ok)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=2048)
        conn.send(server.sockets[0].getsockname()[1])
        stop = asyncio.Event()
        asyncio.get_running_loop().add_reader(conn.fileno(), stop.set)
        await stop.wait()
        conn.recv()
        server.close()

    asyncio.run(serve())
    os.set_blocking(conn.fileno(), True)  # the loop's reader made it non-blocking; a large send needs it back
    usage = os.times()
    conn.send({"records": records, "samples": samples, "cpu_s": usage.user + usage.system})
    conn.close()


class ReceiverProcess:
    def __init__(self) -> None:
        self.parent, child = mp.get_context("fork").Pipe()
        self.proc = mp.get_context("fork").Process(target=_receiver_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        if not self.parent.poll(30):
            raise RuntimeError("receiver did not start")
        self.port: int = self.parent.recv()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def finish(self) -> dict[str, Any]:
        self.parent.send("stop")
        result: dict[str, Any] = self.parent.recv()
        self.proc.join(timeout=10)
        return result


# ---------------------------------------------------------------- sender side (this process)


class Scene:
    """One org, agent, version and webhook target, and ``n`` calls ringing, ready to be ended."""

    def __init__(self, db: Database, url: str, event_types: list[str]) -> None:
        self.db = db
        self.url = url
        self.event_types = event_types
        self.box = SecretBox(b"bench key")
        self.secret = new_secret()
        self.org, self.agent, self.version, self.target = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.call_ids: list[uuid.UUID] = []

    async def setup(self, n: int) -> None:
        now = utcnow()
        async with self.db.tx() as conn:
            await conn.execute(organizations.insert().values(id=self.org, name=str(self.org), created_at=now))
            await conn.execute(agents.insert().values(
                id=self.agent, org_id=self.org, name="bench", version_id=self.version, version=1, config={},
                created_at=now, updated_at=now,
            ))
            await conn.execute(agent_versions.insert().values(
                id=self.version, agent_id=self.agent, org_id=self.org, version=1, config={"name": "bench"},
                created_at=now,
            ))
            await conn.execute(webhook_targets.insert().values(
                id=self.target, org_id=self.org, agent_id=self.agent, url=self.url, events=self.event_types,
                include_transcript=True, include_recording=False, secret=self.box.encrypt(self.secret), enabled=True,
                created_at=now, updated_at=now,
            ))
        self.call_ids = [uuid.uuid4() for _ in range(n)]
        rows = [
            {"id": cid, "org_id": self.org, "trace_id": uuid.uuid4().hex, "agent_id": self.agent,
             "agent_version_id": self.version, "direction": "outbound", "medium": "phone",
             "to_number": f"+1555{i:07d}", "from_number": "+15550100000", "status": "ringing", "call_source": "api",
             "metadata": {"crm": i}, "variables": {}, "transcript": [], "results": {}, "attempt": 1,
             "created_at": now, "updated_at": now}
            for i, cid in enumerate(self.call_ids)
        ]
        async with self.db.tx() as conn:
            for start in range(0, len(rows), 500):
                await conn.execute(calls.insert(), rows[start:start + 500])

    async def end_call(self, call_id: uuid.UUID) -> None:
        """Answered, then completed: ``call.started`` and ``call.ended`` by the real status writer."""
        await call_state.transition(self.db, call_id, ["ringing"], "in_progress", answered_at=utcnow())
        await call_state.finish(self.db, call_id, "completed", "agent_hangup", transcript=TRANSCRIPT)

    async def produce_rate(self, rate: float) -> float:
        """End the calls at ``rate`` per second (never in catch-up bursts beyond the schedule); returns the
        rate achieved."""
        t0 = time.monotonic()
        for i, cid in enumerate(self.call_ids):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.end_call(cid)
        return len(self.call_ids) / max(time.monotonic() - t0, 1e-9)

    async def produce_all(self, concurrency: int = 16) -> None:
        queue = list(self.call_ids)

        async def worker() -> None:
            while queue:
                await self.end_call(queue.pop())

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def count(self) -> Counter[str]:
        async with self.db.read() as conn:
            rows = (await conn.execute(
                sa.select(webhook_deliveries.c.status, sa.func.count()).group_by(webhook_deliveries.c.status)
            )).all()
        return Counter({r[0]: int(r[1]) for r in rows})


async def _sender(backend: str, mode: str, db_url: str, tmp: Path, receiver_url: str,
                  args: argparse.Namespace) -> dict[str, Any]:
    types = ["call.started", "call.ended", *(["call.analyzed"] if args.analyzed else [])]
    expected = args.calls * len(types)
    db = Database(db_url)
    await db.migrate()
    scene = Scene(db, receiver_url, types)
    await scene.setup(args.calls)
    settings = Settings(database_url=db_url, data_dir=tmp, allow_private_urls=True)
    http = SafeHttpClient(allow_private=settings.allow_private_urls)
    jobs = BackgroundJobs(settings, db, http, scene.box)
    produced_rate: float | None = None
    if mode == "burst":
        t0 = time.monotonic()
        await scene.produce_all()
        produced_rate = args.calls / max(time.monotonic() - t0, 1e-9)  # with no jobs running
    cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
    jobs.start()
    producer = asyncio.create_task(scene.produce_rate(args.rate)) if mode == "rate" else None
    deadline = time.monotonic() + args.timeout
    counts: Counter[str] = Counter()
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            counts = await scene.count()
            if counts["succeeded"] >= expected:
                break
        if producer is not None:
            produced_rate = await producer
    finally:
        if producer is not None and not producer.done():
            producer.cancel()
        await jobs.stop()
        await http.aclose()
    wall1 = time.time()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    async with db.read() as conn:
        rows = (await conn.execute(
            sa.select(webhook_deliveries.c.event_id, webhook_deliveries.c.status, webhook_deliveries.c.attempts,
                      events.c.created_at, events.c.type)
            .join(events, events.c.id == webhook_deliveries.c.event_id)
        )).all()
    await db.dispose()
    return {
        "expected": expected,
        "statuses": dict(await _counts(rows)),
        "attempts_total": sum(int(r.attempts) for r in rows),
        "events": {str(r.event_id): (_epoch(r.created_at), r.type) for r in rows},
        "secret": scene.secret,
        "jobs_started_at": wall0,
        "wall_s": wall1 - wall0,
        "sender_cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "produced_rate": produced_rate,
        "timed_out": counts["succeeded"] < expected,
    }


async def _counts(rows: list[Any]) -> Counter[str]:
    return Counter(r.status for r in rows)


def _epoch(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _run(coro: Coroutine[Any, Any, dict[str, Any]], profile: cProfile.Profile | None) -> dict[str, Any]:
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    if profile is None:
        return runner(coro)  # type: ignore[no-any-return]
    profile.enable()
    try:
        return runner(coro)  # type: ignore[no-any-return]
    finally:
        profile.disable()


def bench_one(backend: str, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"cw-bench-webhooks-{backend}-"))
    profile = cProfile.Profile() if args.profile else None
    receiver = ReceiverProcess()
    try:
        with database(backend, tmp) as db_url:
            sent = _run(_sender(backend, mode, db_url, tmp, receiver.url, args), profile)
    finally:
        got = receiver.finish()
        shutil.rmtree(tmp, ignore_errors=True)
    if profile is not None:
        path = Path(args.profile).with_suffix(f".{backend}.{mode}.prof")
        profile.dump_stats(path)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print(f"\ncProfile of the sender ({backend}, {mode}), top 25 by own time; full profile: {path}")
        print(out.getvalue())

    events_by_id: dict[str, tuple[float, str]] = sent["events"]
    received = Counter(wid for wid, _ in got["records"])
    first_seen: dict[str, float] = {}
    for wid, at in got["records"]:
        first_seen.setdefault(wid, at)
    missing = [wid for wid in events_by_id if wid not in received]
    unexpected = [wid for wid in received if wid not in events_by_id]
    duplicates = sum(c - 1 for c in received.values() if c > 1)
    latencies = sorted(first_seen[w] - created for w, (created, _) in events_by_id.items() if w in first_seen)
    by_type: dict[str, list[float]] = {}
    for w, (created, typ) in events_by_id.items():
        if w in first_seen:
            by_type.setdefault(typ, []).append(first_seen[w] - created)
    bad_signatures = 0
    for headers, body in got["samples"]:
        try:
            Webhook(sent["secret"]).verify(body, headers)
        except Exception:
            bad_signatures += 1
    times = sorted(at for _, at in got["records"])
    delivered = len(first_seen)
    if mode == "burst":
        start = sent["jobs_started_at"]
    else:
        start = min((created for created, _ in events_by_id.values()), default=sent["jobs_started_at"])
    span = max((times[-1] if times else start) - start, 1e-9)
    dps = delivered / span
    lat = latency_summary_ms(latencies)
    lat["p95"] = round(percentile(latencies, 95) * 1000, 2)
    ok = (not sent["timed_out"] and sent["statuses"] == {"succeeded": sent["expected"]} and not missing
          and not unexpected and bad_signatures == 0)
    return {
        "backend": backend,
        "mode": mode,
        "params": {"calls": args.calls, "rate_calls_per_s": args.rate if mode == "rate" else None,
                   "events": ["call.started", "call.ended", *(["call.analyzed"] if args.analyzed else [])]},
        "expected": sent["expected"],
        "delivered": delivered,
        "requests": len(got["records"]),
        "duplicates": duplicates,
        "missing": len(missing),
        "unexpected": len(unexpected),
        "delivery_statuses": sent["statuses"],
        "attempts_total": sent["attempts_total"],
        "signatures_checked": len(got["samples"]),
        "signatures_bad": bad_signatures,
        "produced_calls_per_s": round(sent["produced_rate"], 1) if sent["produced_rate"] else None,
        "measured_s": round(span, 3),
        "deliveries_per_s": round(dps, 1),
        "latency_ms": lat,
        "latency_ms_by_event": {t: latency_summary_ms(sorted(v)) for t, v in sorted(by_type.items())},
        "cpu": {"wall_s": round(sent["wall_s"], 2), "sender_cpu_s": round(sent["sender_cpu_s"], 2),
                "receiver_cpu_s": round(got["cpu_s"], 2),
                "sender_cpu_ms_per_delivery": round(sent["sender_cpu_s"] * 1000 / max(delivered, 1), 3)},
        "correct": ok,
        "target": {"deliveries_per_s": TARGET_DPS, "p50_ms": TARGET_P50_MS,
                   "met": ok and dps >= TARGET_DPS and lat["p50"] < TARGET_P50_MS},
    }


COLUMNS = ("back end", "mode", "deliveries", "seconds", "deliveries/s", "p50 ms", "p95 ms", "p99 ms", "dupes",
           "sender CPU/delivery", "correct")


def _row(r: dict[str, Any]) -> tuple[str, ...]:
    lat = r["latency_ms"]
    mode = r["mode"] if r["mode"] == "burst" else f"rate {r['params']['rate_calls_per_s']:g}/s"
    return (r["backend"], mode, f"{r['delivered']}/{r['expected']}", f"{r['measured_s']:.2f}",
            f"{r['deliveries_per_s']:.0f}", f"{lat['p50']:.1f}", f"{lat['p95']:.1f}", f"{lat['p99']:.1f}",
            str(r["duplicates"]), f"{r['cpu']['sender_cpu_ms_per_delivery']:.2f} ms", "yes" if r["correct"] else "NO")


def print_results(results: list[dict[str, Any]]) -> None:
    title = (f"Webhook delivery (target >= {TARGET_DPS:.0f} deliveries/s, p50 < {TARGET_P50_MS:.0f} ms; "
             "latency: event created_at -> received)")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(f"\n{title}\n" + " | ".join(COLUMNS))
        for r in results:
            print(" | ".join(_row(r)))
        return
    table = Table(title=title)
    for c in COLUMNS:
        table.add_column(c, justify="left" if c in ("back end", "mode") else "right")
    for r in results:
        table.add_row(*_row(r))
    Console(width=160).print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description="Webhook delivery throughput and latency.")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--mode", choices=["rate", "burst", "both"], default="both")
    parser.add_argument("--calls", type=int, default=2000, help="calls ended per run (2 or 3 deliveries each)")
    parser.add_argument("--rate", type=float, default=250.0, help="calls ended per second in rate mode")
    parser.add_argument("--analyzed", action="store_true", help="also subscribe to call.analyzed (3 per call)")
    parser.add_argument("--timeout", type=float, default=180.0, help="give up waiting after this many seconds")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the sender; stats to FILE.<backend>.<mode>.prof")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    modes = ["rate", "burst"] if args.mode == "both" else [args.mode]
    results = []
    for backend in backends:
        for mode in modes:
            results.append(bench_one(backend, mode, args))
    print_results(results)
    for r in results:
        if not r["correct"]:
            print(f"  {r['backend']} {r['mode']}: statuses {r['delivery_statuses']}, missing {r['missing']}, "
                  f"unexpected {r['unexpected']}, bad signatures {r['signatures_bad']}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = write_result(f"webhooks-{stamp}", {"argv": sys.argv[1:], "results": results})
    print(f"  wrote {path}")
    return 0 if all(r["correct"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
