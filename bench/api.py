"""API throughput: `POST /v1/calls` against a real server on SQLite and/or PostgreSQL.

    python bench/api.py [--backend sqlite|postgres|both] [--duration 10] [--concurrency 32] [--workers 1]
                        [--clients 1] [--warmup 2] [--profile DIR] [--cprofile DIR]

Starts its own server (``callwright serve --workers N`` with ``CALLWRIGHT_RUN_VOICE=false``: the API
with the voice runtime off, so calls are stored ``queued`` and never dialed) on a fresh SQLite file
or a fresh PostgreSQL database (created and dropped here), creates a key with `callwright keys create`
and an agent, warms up, then drives ``POST /v1/calls`` from ``--concurrency`` keep-alive connections
split over ``--clients`` client processes (a minimal asyncio HTTP/1.1 client on uvloop), each request
to a distinct number.
Prints a table and writes ``bench/results/api_<backend>.json``. Target (docs DESIGN.md): >= 500 calls/s, p99 < 50 ms.

The load generator runs on the same machine as the server and competes for the same cores; the
result records the CPU time each side used so you can see who the bottleneck was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_summary_ms, print_table, write_result

PG_ADMIN_DSN = os.environ.get("CALLWRIGHT_BENCH_PG", os.environ.get(
    "CALLWRIGHT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"))
TARGET_RPS = 500.0
TARGET_P99_MS = 50.0
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---------------------------------------------------------------- phone numbers

_US_AREAS = ("415", "212", "646", "303", "617", "206", "312", "512")


def phone_number(n: int) -> str:
    """The n-th distinct, well-formed E.164 number: mostly US (+1 NPA NXX XXXX), every 5th UK (+44 20 7xxx xxxx)."""
    if n % 5 == 4:
        k = n // 5
        return f"+44207{k % 10_000_000:07d}"
    k = n - n // 5
    line = k % 10_000
    exchange = 200 + (k // 10_000) % 800
    if exchange % 100 == 11:  # N11 exchanges are service codes
        exchange += 1
    area = _US_AREAS[(k // 8_000_000) % len(_US_AREAS)]
    return f"+1{area}{exchange:03d}{line:04d}"


# ---------------------------------------------------------------- process CPU accounting


def _proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def tree_cpu_s(root: int) -> float:
    """CPU seconds used so far by a process and its live descendants (uvicorn workers)."""
    return sum(_proc_cpu_s(p) for p in _tree_pids(root))


# ---------------------------------------------------------------- load generator (client processes)


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    first_start: float = float("inf")
    last_end: float = 0.0
    sample: list[tuple[str, str]] = field(default_factory=list)  # (call id, to)
    error_bodies: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    warmup_requests: int = 0


class _RawConnection:
    """A minimal HTTP/1.1 keep-alive client for one connection: builds the request bytes itself and
    reads just the status line, Content-Length and body. httpx costs ~8 ms of client CPU per request,
    which on a 2-core box takes the CPU the server needs; this costs a small fraction of that."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.head = (f"POST /v1/calls HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
                     "Content-Type: application/json\r\nContent-Length: ").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            self.writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await self.reader.readexactly(length) if length else b""
            if b"connection: close" in head.lower():
                self.close()
            return status, payload
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _drive(base_url: str, key: str, agent_id: str, conns: int, proc_index: int, n_procs: int,
                 warmup_until: float, stop_at: float) -> ClientResult:
    result = ClientResult()
    rng = random.Random(proc_index)
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80

    async def worker(w: int) -> None:
        # Number index space: interleave processes and workers so every request gets its own number.
        conn = _RawConnection(host, port, key)
        i = 0
        stride = n_procs * conns
        slot = proc_index * conns + w
        while True:
            t0 = time.time()
            if t0 >= stop_at:
                conn.close()
                return
            to = phone_number(slot + i * stride)
            i += 1
            body = json.dumps({"agent_id": agent_id, "to": to, "variables": {"amount": "$42.00"}}).encode()
            p0 = time.perf_counter()
            payload = b""
            try:
                code, payload = await conn.post(body)
                status = str(code)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                code, status = 0, type(exc).__name__
            elapsed = time.perf_counter() - p0
            if t0 < warmup_until:
                result.warmup_requests += 1
                continue
            result.first_start = min(result.first_start, t0)
            result.last_end = max(result.last_end, t0 + elapsed)
            result.latencies.append(elapsed)
            result.statuses[status] += 1
            if code == 201:
                if len(result.sample) < 200 or rng.random() < 0.01:
                    result.sample.append((json.loads(payload)["id"], to))
            elif len(result.error_bodies) < 5:
                result.error_bodies.append(f"{status}: {payload[:300].decode(errors='replace')}")

    await asyncio.gather(*(worker(w) for w in range(conns)))
    return result


def _client_main(args: tuple[str, str, str, int, int, int, float, float], out: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_drive(*args))
    usage = os.times()
    result.cpu_s = usage.user + usage.system
    result.sample = result.sample[-200:]
    out.send(result)
    out.close()


def run_load(base_url: str, key: str, agent_id: str, concurrency: int, clients: int,
             warmup_s: float, duration_s: float) -> ClientResult:
    """Fork ``clients`` processes sharing ``concurrency`` connections; merge what they measured."""
    ctx = mp.get_context("fork")
    start = time.time() + 0.5
    warmup_until = start + warmup_s
    stop_at = warmup_until + duration_s
    per = [concurrency // clients + (1 if i < concurrency % clients else 0) for i in range(clients)]
    procs, pipes = [], []
    for i, conns in enumerate(per):
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_client_main,
                        args=((base_url, key, agent_id, conns, i, clients, warmup_until, stop_at), child))
        p.start()
        child.close()
        procs.append(p)
        pipes.append(parent)
    merged = ClientResult()
    for pipe in pipes:
        part: ClientResult = pipe.recv()
        merged.latencies.extend(part.latencies)
        merged.statuses.update(part.statuses)
        merged.first_start = min(merged.first_start, part.first_start)
        merged.last_end = max(merged.last_end, part.last_end)
        merged.sample.extend(part.sample)
        merged.error_bodies.extend(part.error_bodies)
        merged.cpu_s += part.cpu_s
        merged.warmup_requests += part.warmup_requests
    for p in procs:
        p.join(timeout=30)
    merged.first_start = min(merged.first_start, warmup_until)
    return merged


# ---------------------------------------------------------------- server lifecycle


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    async def _run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(_run())


@contextmanager
def database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        return
    name = f"cw_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{base}/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _callwright_cmd() -> list[str]:
    exe = shutil.which("callwright", path=str(Path(sys.executable).parent)) or shutil.which("callwright")
    return [exe] if exe else [sys.executable, "-c", "from callwright.cli import app; app()"]


@contextmanager
def server(db_url: str, tmp: Path, workers: int, profile: Path | None = None,
           cprofile: Path | None = None) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """Make a key, start the server; yield (base URL, key, process)."""
    env = dict(os.environ, DATABASE_URL=db_url, CALLWRIGHT_DATA_DIR=str(tmp), CALLWRIGHT_BOOTSTRAP_KEY="false",
               CALLWRIGHT_RUN_VOICE="false",
               CALLWRIGHT_LOG_LEVEL="WARNING", CALLWRIGHT_LOG_JSON="false", PYTHONUNBUFFERED="1")
    made = subprocess.run([*_callwright_cmd(), "keys", "create", "--org", "bench"], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        raise RuntimeError(f"callwright keys create failed:\n{made.stdout}\n{made.stderr}")
    key = made.stdout.strip().splitlines()[-1].strip()
    port = free_port()
    log = (tmp / "server.log").open("wb")
    cmd = [*_callwright_cmd(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if profile is not None:
        # Sampling profile of the server (and its workers); the CPU figures then include py-spy itself.
        cmd = [shutil.which("py-spy") or "py-spy", "record", "--format", "raw", "--rate", "250", "--subprocesses",
               "--nonblocking", "-o", str(profile), "--", *cmd]
    elif cprofile is not None:
        # Deterministic profile of the one server process (cProfile, written when the server exits on SIGINT);
        # it slows the server down about twofold, so its throughput is not a figure to quote.
        cmd = [sys.executable, "-m", "cProfile", "-o", str(cprofile), *cmd]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{(tmp / 'server.log').read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy in 60 s")
            time.sleep(0.1)
        yield base, key, proc
    finally:
        if profile is not None or cprofile is not None:
            # py-spy writes its output on SIGINT; uvicorn re-raises the signal it stopped on, and a
            # SIGINT (KeyboardInterrupt) still lets cProfile write its file where a SIGTERM would not.
            proc.send_signal(signal.SIGINT)
        else:
            proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# ---------------------------------------------------------------- one backend


def bench_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix=f"cw-bench-api-{backend}-"))
    profile = Path(args.profile).resolve() / f"api_{backend}.txt" if args.profile else None
    cprofile = Path(args.cprofile).resolve() / f"api_{backend}.pstats" if args.cprofile else None
    for out_file in (profile, cprofile):
        if out_file is not None:
            out_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        with database(backend, tmp) as db_url, server(db_url, tmp, args.workers, profile, cprofile) as (
            base, key, proc,
        ):
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
                r = api.post("/v1/agents", json={
                    "name": "Bench reminder", "first_message": "Hi {{ first_name||there }}, about {{ amount }}.",
                    "prompt": "You remind {{ first_name }} about a payment of {{ amount }}."})
                r.raise_for_status()
                agent_id = r.json()["id"]
            cpu0_server, wall0 = tree_cpu_s(proc.pid), time.monotonic()
            res = run_load(base, key, agent_id, args.concurrency, args.clients, args.warmup, args.duration)
            wall = time.monotonic() - wall0
            server_cpu = tree_cpu_s(proc.pid) - cpu0_server
            # Verify a sample of the created calls really exists, with the number we sent.
            checked, missing = 0, []
            with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
                for call_id, to in random.Random(7).sample(res.sample, min(100, len(res.sample))):
                    got = api.get(f"/v1/calls/{call_id}")
                    checked += 1
                    if got.status_code != 200 or got.json().get("to") != to or got.json().get("status") != "queued":
                        missing.append(f"{call_id}: {got.status_code} {got.text[:200]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    measured_s = max(res.last_end - res.first_start, 1e-9)
    ok = res.statuses.get("201", 0)
    lat = latency_summary_ms(res.latencies)
    total = sum(res.statuses.values())
    rps = ok / measured_s
    return {
        "backend": backend,
        "params": {"duration_s": args.duration, "warmup_s": args.warmup, "concurrency": args.concurrency,
                   "server_workers": args.workers, "client_processes": args.clients},
        "requests": total,
        "warmup_requests": res.warmup_requests,
        "created": ok,
        "statuses": dict(sorted(res.statuses.items())),
        "error_samples": res.error_bodies[:5],
        "measured_s": round(measured_s, 3),
        "throughput_rps": round(rps, 1),
        "latency_ms": lat,
        "cpu": {
            "wall_s": round(wall, 2),
            "server_cpu_s": round(server_cpu, 2),
            "client_cpu_s": round(res.cpu_s, 2),
            "server_cores_used": round(server_cpu / wall, 2),
            "client_cores_used": round(res.cpu_s / wall, 2),
            # CPU was sampled over warm-up and measurement, so divide by every request sent.
            "server_cpu_ms_per_request": round(server_cpu * 1000 / max(total + res.warmup_requests, 1), 3),
        },
        "verified": {"checked": checked, "missing_or_wrong": len(missing), "examples": missing[:5]},
        "target": {"throughput_rps": TARGET_RPS, "p99_ms": TARGET_P99_MS,
                   "met": rps >= TARGET_RPS and lat["p99"] < TARGET_P99_MS and ok == total},
    }


def report(out: dict[str, Any]) -> None:
    lat = out["latency_ms"]
    cpu = out["cpu"]
    p = out["params"]
    rows = [
        ("backend", out["backend"]),
        ("setup", f"{p['concurrency']} conns, {p['client_processes']} client proc(s), "
                  f"{p['server_workers']} server worker(s), {p['duration_s']}s (+{p['warmup_s']}s warm-up)"),
        ("requests", str(out["requests"])),
        ("statuses", ", ".join(f"{k}: {v}" for k, v in out["statuses"].items())),
        ("throughput", f"{out['throughput_rps']:.1f} calls/s  (target >= {TARGET_RPS:.0f})"),
        ("latency p50 / p90", f"{lat['p50']:.1f} / {lat['p90']:.1f} ms"),
        ("latency p99 / max", f"{lat['p99']:.1f} / {lat['max']:.1f} ms  (target p99 < {TARGET_P99_MS:.0f})"),
        ("CPU cores used", f"server {cpu['server_cores_used']:.2f}, client {cpu['client_cores_used']:.2f} "
                           f"(of {os.cpu_count()})"),
        ("server CPU / request", f"{cpu['server_cpu_ms_per_request']:.2f} ms"),
        ("verified by GET", f"{out['verified']['checked'] - out['verified']['missing_or_wrong']}"
                            f"/{out['verified']['checked']}"),
        ("target met", "yes" if out["target"]["met"] else "NO"),
    ]
    print_table(f"POST /v1/calls on {out['backend']}", rows)
    for sample in out["error_samples"]:
        print(f"  error sample: {sample}")


def main() -> int:
    parser = argparse.ArgumentParser(description="POST /v1/calls throughput benchmark.")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per backend")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (not measured)")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent keep-alive connections in total")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes for the server")
    parser.add_argument("--clients", type=int, default=1, help="load-generator processes sharing the connections")
    parser.add_argument("--profile", metavar="DIR", help="run the server under py-spy; collapsed stacks to DIR")
    parser.add_argument("--cprofile", metavar="DIR",
                        help="run the server under cProfile (--workers 1); api_<backend>.pstats to DIR")
    args = parser.parse_args()
    if args.cprofile and args.workers != 1:
        parser.error("--cprofile profiles one server process: use --workers 1")
    if args.clients < 1 or args.concurrency < args.clients:
        parser.error("need 1 <= --clients <= --concurrency")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        out = bench_backend(backend, args)
        path = write_result(f"api_{backend}", out)
        report(out)
        print(f"  wrote {path}")
        failed = failed or out["verified"]["missing_or_wrong"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
