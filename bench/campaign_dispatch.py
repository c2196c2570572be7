"""Campaign dispatch at scale: a 10,000-row campaign dialed through the simulated carrier.

    .venv/bin/python bench/campaign_dispatch.py [--rows 10000] [--max-concurrency 200]
        [--backend sqlite|postgres] [--mix busy=0.4,no_answer=0.3,fail=0.3] [--no-answer-ms 300]
        [--ring-ms 50] [--max-attempts 1] [--timeout 900] [--cprofile FILE]

A real server with the voice runtime in this process (``bench/voice_common.VoiceStack``) and the
simulated carrier. The CSV (a ``simulated_callee`` column gives every row a callee that ends fast:
busy, no answer after ``--no-answer-ms``, or failed) is uploaded with ``POST /v1/campaigns/{id}/contacts``,
the campaign started with ``POST .../start``, and ``GET /v1/campaigns/{id}`` polled until ``completed``.
The calling window is always open (UTC 00:00-23:59), the per-organization limit is raised to the
campaign's concurrency, media capacity is high (no call waits for media room), retries are off
unless ``--max-attempts`` says otherwise.

Measures wall time (start -> completed), dispatch throughput (calls/s), admission CPU per placed
call (``CampaignAdmission.run_once`` wrapped: the event-loop thread's CPU of the pass's own steps,
so other tasks interleaved at its awaits are not counted), p50/p95 claim -> dialing (the claim's
commit to the call's ``started_at``), the peak of calls in flight at the carrier, and checks that no
row was lost and none dialed twice. Writes ``bench/results/campaign_dispatch.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import io
import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import phone_number
from callwright.services.admission import CampaignAdmission
from callwright.store.tables import calls, campaign_contacts
from capacity import agent_body
from common import percentile, print_table, write_result
from voice_common import VoiceStack

PG_ADMIN_DSN = os.environ.get("CALLWRIGHT_BENCH_PG", os.environ.get(
    "CALLWRIGHT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
ROW_TERMINAL = {"completed", "failed", "skipped_dnc", "canceled"}
CALL_TERMINAL = {"completed", "no_answer", "busy", "failed", "voicemail", "canceled"}
EXPECTED_OUTCOME = {"busy": "busy", "no_answer": "no_answer", "fail": "failed"}


# ---------------------------------------------------------------- admission metering


class AdmissionMeter:
    """CPU of ``CampaignAdmission.run_once``: the event-loop thread's CPU while the pass's own
    coroutine runs (each step between two awaits), summed over passes. CPU spent by other tasks
    while the pass waits is not counted; nor is work in other threads (aiosqlite's reads) or in
    asyncpg's protocol callbacks, so on PostgreSQL this is a lower bound."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.wall_s = 0.0
        self.passes = 0
        self.placed = 0
        self.deferred = 0
        self.failed = 0
        self.claimed_at: dict[str, float] = {}  # call id -> wall time (epoch s) the claim committed
        self.claimed_twice: list[str] = []

    def install(self) -> None:
        meter = self
        original_run_once = CampaignAdmission.run_once
        original_claim = CampaignAdmission._claim

        async def run_once(self: CampaignAdmission) -> Any:
            t0 = time.perf_counter()
            report = await meter.metered(original_run_once(self))
            meter.wall_s += time.perf_counter() - t0
            meter.passes += 1
            meter.placed += report.placed
            meter.deferred += report.deferred
            meter.failed += report.failed
            return report

        async def claim(self: CampaignAdmission, campaign_id: uuid.UUID, now: datetime) -> Any:
            claims, deferred = await original_claim(self, campaign_id, now)
            at = time.time()
            for c in claims:
                key = str(c.call_id)
                if key in meter.claimed_at:
                    meter.claimed_twice.append(key)
                meter.claimed_at[key] = at
            return claims, deferred

        CampaignAdmission.run_once = run_once  # type: ignore[method-assign]
        CampaignAdmission._claim = claim  # type: ignore[method-assign]

    def metered(self, coro: Any) -> Awaitable[Any]:
        meter = self

        class Metered:
            def __await__(self) -> Generator[Any, Any, Any]:
                value: Any = None
                error: BaseException | None = None
                while True:
                    t0 = time.thread_time()
                    try:
                        yielded = coro.throw(error) if error is not None else coro.send(value)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        meter.cpu_s += time.thread_time() - t0
                    try:
                        value, error = (yield yielded), None
                    except BaseException as exc:  # a cancellation goes into the pass
                        value, error = None, exc

        return Metered()


class CarrierWatch:
    """Counts carrier dials per call id (a double dial is two) and the peak of calls in flight."""

    def __init__(self) -> None:
        self.dials: Counter[str] = Counter()
        self.in_flight = 0
        self.peak = 0
        self.ended = 0

    def install(self, carrier: Any) -> None:
        place = carrier.place_call
        watch = self

        async def place_call(request: Any, on_status: Any) -> str:
            watch.dials[str(request.call_id)] += 1
            watch.in_flight += 1
            watch.peak = max(watch.peak, watch.in_flight)
            done = False

            async def status(event: Any) -> None:
                nonlocal done
                if event.status in CALL_TERMINAL and not done:
                    done = True
                    watch.in_flight -= 1
                    watch.ended += 1
                await on_status(event)

            return str(await place(request, status))

        carrier.place_call = place_call


# ---------------------------------------------------------------- the campaign


def parse_mix(text: str) -> list[tuple[str, float]]:
    mix = []
    for part in text.split(","):
        name, _, share = part.partition("=")
        if name not in EXPECTED_OUTCOME:
            raise SystemExit(f"--mix: {name!r} is not one of {sorted(EXPECTED_OUTCOME)}")
        mix.append((name, float(share)))
    total = sum(s for _, s in mix)
    return [(n, s / total) for n, s in mix]


def behaviour_for(i: int, mix: list[tuple[str, float]]) -> str:
    """Deterministic and interleaved: row i's position in a repeating 100-slot pattern."""
    slot = (i * 37) % 100 / 100  # 37 is coprime with 100: every slot once per 100 rows, spread out
    acc = 0.0
    for name, share in mix:
        acc += share
        if slot < acc:
            return name
    return mix[-1][0]


def make_csv(rows: int, mix: list[tuple[str, float]]) -> tuple[bytes, dict[str, str]]:
    """The upload and the expected behaviour per phone number."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["phone_number", "first_name", "external_id", "simulated_callee"])
    expected: dict[str, str] = {}
    for i in range(rows):
        number = phone_number(i)
        behaviour = behaviour_for(i, mix)
        expected[number] = behaviour
        w.writerow([number, f"Bench{i}", f"ROW-{i:06d}", json.dumps({"behavior": behaviour})])
    return out.getvalue().encode(), expected


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run(args: argparse.Namespace, db_url: str | None) -> dict[str, Any]:
    mix = parse_mix(args.mix)
    data, expected = make_csv(args.rows, mix)
    meter, watch = AdmissionMeter(), CarrierWatch()
    meter.install()
    stack = VoiceStack(
        callee_voice="tone", ring_ms=args.ring_ms,
        settings={
            "media_capacity": max(10_000, args.max_concurrency * 10),
            "max_live_calls_per_org": args.max_concurrency * 2,
            "admission_interval_s": args.admission_interval,
            "simulator_no_answer_after_ms": args.no_answer_ms,
        },
    )
    if db_url is not None:
        stack.settings = stack.settings.model_copy(update={"database_url": db_url})
    stack.carrier.no_answer_after_ms = args.no_answer_ms  # VoiceStack builds its own carrier
    stack.carrier.keep_finished = False
    watch.install(stack.carrier)
    load0 = os.getloadavg()
    async with stack:
        agent_id = await stack.create_agent(agent_body("tone", 1))  # never answered: the flow is not run
        r = await stack.api.post("/v1/campaigns", json={
            "name": "dispatch bench", "agent_id": agent_id, "max_concurrency": args.max_concurrency,
            "calling_window": {"start": "00:00", "end": "23:59", "timezone": "UTC"},
            "max_attempts_per_day": min(20, max(1, args.max_attempts)),
            "retry": {"max_attempts": args.max_attempts, "on": ["busy", "no_answer", "failed"],
                      "backoff_minutes": [0.0]},
        })
        if r.status_code != 201:
            raise SystemExit(f"POST /v1/campaigns: {r.status_code} {r.text}")
        campaign_id = r.json()["id"]
        t0 = time.perf_counter()
        r = await stack.api.post(f"/v1/campaigns/{campaign_id}/contacts", content=data,
                                 headers={"content-type": "text/csv"}, timeout=600)
        r.raise_for_status()
        upload = r.json()
        upload_s = time.perf_counter() - t0
        if upload["accepted"] != args.rows:
            raise SystemExit(f"upload accepted {upload['accepted']} of {args.rows}: {json.dumps(upload)[:2000]}")
        profiler = cProfile.Profile() if args.cprofile else None
        if profiler is not None:
            profiler.enable()
        cpu0 = time.process_time()
        t_start = time.perf_counter()
        r = await stack.api.post(f"/v1/campaigns/{campaign_id}/start")
        r.raise_for_status()
        deadline = t_start + args.timeout
        last_print = 0.0
        body: dict[str, Any] = r.json()
        while body["status"] != "completed" and time.perf_counter() < deadline:
            await asyncio.sleep(0.25)
            body = (await stack.api.get(f"/v1/campaigns/{campaign_id}")).json()
            if time.perf_counter() - last_print > 10:
                last_print = time.perf_counter()
                p = body["progress"]
                print(f"  {last_print - t_start:6.1f} s  {body['status']}  rows {p['by_state']}  "
                      f"live {p['live_calls']}  calls {p['attempts']}", flush=True)
        wall = time.perf_counter() - t_start
        cpu = time.process_time() - cpu0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
            print(f"cProfile of start -> completed written to {args.cprofile}")
        completed = body["status"] == "completed"
        await asyncio.sleep(0.5)  # let the last status callbacks land before the checks
        checks, lat = await check(stack, campaign_id, args, expected, meter, watch)
        progress = body["progress"]
    placed = len(watch.dials)
    load1 = os.getloadavg()
    return {
        "completed": completed,
        "campaign_status": body["status"],
        "wall_s": round(wall, 2),
        "upload_s": round(upload_s, 2),
        "calls_dialed": placed,
        "calls_per_s": round(placed / wall, 1) if wall else 0.0,
        "process_cpu_s": round(cpu, 2),
        "process_cpu_ms_per_call": round(1000 * cpu / placed, 3) if placed else None,
        "admission": {
            "passes": meter.passes,
            "placed": meter.placed,
            "deferred": meter.deferred,
            "failed": meter.failed,
            "loop_cpu_s": round(meter.cpu_s, 3),
            "cpu_ms_per_placed_call": round(1000 * meter.cpu_s / meter.placed, 3) if meter.placed else None,
            "wall_s_in_passes": round(meter.wall_s, 2),
            "placed_per_pass_mean": round(meter.placed / meter.passes, 1) if meter.passes else None,
        },
        "claim_to_dialing_ms": lat,
        "peak_calls_in_flight_at_carrier": watch.peak,
        "progress": progress,
        "checks": checks,
        "loadavg_at_start": [round(x, 2) for x in load0],
        "loadavg_at_end": [round(x, 2) for x in load1],
    }


async def check(stack: VoiceStack, campaign_id: str, args: argparse.Namespace, expected: dict[str, str],
                meter: AdmissionMeter, watch: CarrierWatch) -> tuple[dict[str, Any], dict[str, float]]:
    cid = uuid.UUID(campaign_id)
    async with stack.db.read() as conn:
        rows = (await conn.execute(
            sa.select(campaign_contacts.c.id, campaign_contacts.c.phone_number, campaign_contacts.c.state,
                      campaign_contacts.c.attempts, campaign_contacts.c.last_outcome)
            .where(campaign_contacts.c.campaign_id == cid))).all()
        call_rows = (await conn.execute(
            sa.select(calls.c.id, calls.c.campaign_contact_id, calls.c.attempt, calls.c.status, calls.c.started_at)
            .where(calls.c.campaign_id == cid))).all()
    by_state = Counter(r.state for r in rows)
    per_row = Counter(str(c.campaign_contact_id) for c in call_rows)
    pairs = Counter((str(c.campaign_contact_id), c.attempt) for c in call_rows)
    attempts_mismatch = [str(r.id) for r in rows if per_row.get(str(r.id), 0) != r.attempts]
    wrong_outcome = [r.phone_number for r in rows
                     if r.state in ROW_TERMINAL and r.last_outcome != EXPECTED_OUTCOME[expected[r.phone_number]]]
    lat: list[float] = []
    for c in call_rows:
        at = meter.claimed_at.get(str(c.id))
        if at is not None and c.started_at is not None:
            lat.append(c.started_at.replace(tzinfo=c.started_at.tzinfo or UTC).timestamp() - at)
    lat.sort()
    checks = {
        "rows": len(rows),
        "rows_expected": args.rows,
        "by_state": dict(by_state),
        "rows_not_terminal": sum(n for s, n in by_state.items() if s not in ROW_TERMINAL),
        "state_counts_add_up": sum(by_state.values()) == args.rows == len(rows),
        "calls": len(call_rows),
        "sum_row_attempts": sum(r.attempts for r in rows),
        "rows_whose_calls_differ_from_attempts": len(attempts_mismatch),
        "duplicate_contact_attempt_pairs": sum(1 for n in pairs.values() if n > 1),
        "calls_not_terminal": sum(1 for c in call_rows if c.status not in CALL_TERMINAL),
        "calls_never_dialed": sum(1 for c in call_rows if c.started_at is None),
        "carrier_dials": sum(watch.dials.values()),
        "carrier_double_dials": sum(1 for n in watch.dials.values() if n > 1),
        "claims_of_the_same_call_id_twice": len(meter.claimed_twice),
        "claims_without_a_call": len(set(meter.claimed_at) - {str(c.id) for c in call_rows}),
        "rows_with_unexpected_outcome": len(wrong_outcome),
        "peak_in_flight_within_max_concurrency": watch.peak <= args.max_concurrency,
    }
    checks["ok"] = bool(
        checks["rows_not_terminal"] == 0 and checks["state_counts_add_up"]
        and checks["rows_whose_calls_differ_from_attempts"] == 0 and checks["duplicate_contact_attempt_pairs"] == 0
        and checks["calls_not_terminal"] == 0 and checks["carrier_double_dials"] == 0
        and checks["carrier_dials"] == checks["calls"] == checks["sum_row_attempts"]
        and checks["claims_of_the_same_call_id_twice"] == 0 and checks["claims_without_a_call"] == 0
        and checks["rows_with_unexpected_outcome"] == 0 and checks["peak_in_flight_within_max_concurrency"]
    )
    summary = {
        "n": len(lat),
        "p50": round(percentile(lat, 50) * 1000, 1),
        "p95": round(percentile(lat, 95) * 1000, 1),
        "p99": round(percentile(lat, 99) * 1000, 1),
        "max": round(lat[-1] * 1000, 1) if lat else 0.0,
    }
    return checks, summary


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--max-concurrency", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--mix", default="busy=0.4,no_answer=0.3,fail=0.3",
                        help="callee behaviours and their shares (busy, no_answer, fail)")
    parser.add_argument("--no-answer-ms", type=float, default=300.0, help="ring-out of the no-answer callee")
    parser.add_argument("--ring-ms", type=float, default=50.0, help="ring before busy / fail is reported")
    parser.add_argument("--max-attempts", type=int, default=1, help="attempts per row (1: retries off)")
    parser.add_argument("--admission-interval", type=float, default=1.0, help="admission_interval_s")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for `completed`")
    parser.add_argument("--cprofile", metavar="FILE",
                        help="cProfile this process from start to completed (slows it; figures not comparable)")
    args = parser.parse_args()
    db_url: str | None = None
    name = ""
    if args.backend == "postgres":
        name = f"cw_bench_dispatch_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        try:
            await _pg_admin(f'CREATE DATABASE "{name}"')
        except Exception as exc:
            print(f"PostgreSQL at {PG_ADMIN_DSN} unreachable: {exc!r}")
            return 2
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        db_url = f"{base}/{name}"
    try:
        result = await run(args, db_url)
    finally:
        if name:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    params = {k: getattr(args, k) for k in ("rows", "max_concurrency", "backend", "mix", "no_answer_ms", "ring_ms",
                                            "max_attempts", "admission_interval")}
    path = write_result("campaign_dispatch", {"params": params, "result": result})
    c, a, lat = result["checks"], result["admission"], result["claim_to_dialing_ms"]
    print_table(f"Campaign dispatch: {args.rows:,} rows on {args.backend}", [
        ("campaign", f"{result['campaign_status']} in {result['wall_s']:.1f} s (upload {result['upload_s']:.1f} s)"),
        ("calls dialed", f"{result['calls_dialed']:,}"),
        ("dispatch throughput", f"{result['calls_per_s']:.1f} calls/s"),
        ("admission CPU / placed call", f"{a['cpu_ms_per_placed_call']} ms ({a['passes']} passes, "
                                        f"{a['placed_per_pass_mean']} placed/pass)"),
        ("process CPU / call", f"{result['process_cpu_ms_per_call']} ms (whole server + carrier)"),
        ("claim -> dialing p50 / p95 / max", f"{lat['p50']} / {lat['p95']} / {lat['max']} ms"),
        ("peak in flight", f"{result['peak_calls_in_flight_at_carrier']} (max_concurrency {args.max_concurrency})"),
        ("rows by state", json.dumps(c["by_state"])),
        ("lost / double-dialed", f"not terminal {c['rows_not_terminal']}, calls != attempts "
                                 f"{c['rows_whose_calls_differ_from_attempts']}, double dials "
                                 f"{c['carrier_double_dials']}, dup (row, attempt) "
                                 f"{c['duplicate_contact_attempt_pairs']}"),
        ("checks", "OK" if c["ok"] else "FAILED"),
        ("load average start / end", f"{result['loadavg_at_start']} / {result['loadavg_at_end']}"),
    ])
    print(f"wrote {path}")
    if not c["ok"]:
        print(json.dumps(c, indent=2))
    return 0 if c["ok"] and result["completed"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
