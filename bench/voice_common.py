"""Shared by bench/latency.py and bench/capacity.py: a real Callwright server with the voice
runtime, in this process, whose simulated carrier the benchmark keeps a handle on.

Calls go through the public API (POST /v1/calls), the dialer, the simulated carrier and the
server's own Media Streams WebSocket, exactly as in production with the simulator. The
benchmark keeps the carrier's finished ``CalleePeer`` objects, so it can read the callee's own
stopwatch (``turn_timings``, ``ticks_skipped``, ``playout_underruns``) next to the server's
stored record (``latency``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callwright.app import create_app
from callwright.services.carriers import CarrierRegistry
from callwright.services.orgs import create_key
from callwright.settings import Settings
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.telephony.base import DialRequest, StatusEvent, StatusHandler
from callwright.telephony.simulator.call_log import TurnTiming
from callwright.telephony.simulator.callee import CalleePeer
from callwright.telephony.simulator.carrier import SimulatedCarrier
from callwright.voice.tts.base import Synthesizer
from common import percentile

TERMINAL = {"completed", "no_answer", "busy", "failed", "voicemail", "canceled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    return round(percentile(sorted(values), q), 2) if values else float("nan")


_PIPER: list[Synthesizer] = []


def callee_synthesizer(voice: str) -> Synthesizer:
    """The simulated callee's voice: an espeak voice name, "piper" (the Piper voice of the
    ``piper`` extra, loaded once per process and shared), or "tone" (no compute at all)."""
    if voice == "piper":
        if not _PIPER:
            from callwright.telephony.simulator.callee_voice import callee_synthesizer_factory

            _PIPER.append(callee_synthesizer_factory("piper", prewarm=False)())
        return _PIPER[0]
    if voice == "tone":
        from callwright.voice.tts.tone import ToneSynthesizer

        return ToneSynthesizer()
    from callwright.voice.tts.espeak import EspeakSynthesizer

    return EspeakSynthesizer(voice=voice)


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """This process's CPU use (all threads) and peak RSS between ``start`` and ``stop``, and
    the CPU of a helper process (the callees) when ``other_pid`` is given."""

    def __init__(self, other_pid: int | None = None) -> None:
        self._t0 = self._cpu0 = self._other0 = 0.0
        self.other_pid = other_pid
        self.peak_rss_mb = 0.0
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        t = os.times()
        self._cpu0 = t.user + t.system
        self._other0 = _proc_cpu_s(self.other_pid) if self.other_pid else 0.0
        self.peak_rss_mb = self.rss_mb()
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())

    def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
        t = os.times()
        wall = time.monotonic() - self._t0
        cpu = t.user + t.system - self._cpu0
        out = {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_pct": round(100 * cpu / wall, 1) if wall > 0 else 0.0,  # 100 % = one core
            "peak_rss_mb": round(max(self.peak_rss_mb, self.rss_mb()), 1),
        }
        if self.other_pid:
            other = _proc_cpu_s(self.other_pid) - self._other0
            out["callee_process_cpu_pct"] = round(100 * other / wall, 1) if wall > 0 else 0.0
        return out


class VoiceStack:
    """``async with VoiceStack(...) as stack``: server up, API key made, carrier kept."""

    def __init__(
        self,
        callee_voice: str = "en-gb",
        ring_ms: float = 100.0,
        callee_process: bool = False,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.callee_voice = callee_voice
        self.callee_process = callee_process
        self.ring_ms = ring_ms
        self.tmp = Path(tempfile.mkdtemp(prefix="cw-voice-bench-"))
        self.port = free_port()
        self.settings = Settings(
            database_url=f"sqlite+aiosqlite:///{self.tmp / 'bench.db'}",
            data_dir=self.tmp,
            port=self.port,
            bootstrap_key=False,
            log_json=False,
            log_level="WARNING",
            simulator_ring_ms=ring_ms,
            reconcile_interval_s=5.0,
            **(settings or {}),
        )
        self.carrier = SimulatedCarrier(lambda: callee_synthesizer(callee_voice), ring_ms=ring_ms)
        self.carrier.keep_finished = True
        self.remote = RemoteSimulatedCarrier(callee_voice, ring_ms) if callee_process else None
        self.frame_lateness: dict[str, list[float]] = {}  # call id -> the session's per-frame lateness
        self.probes: dict[str, Any] = {}  # call id -> a session result's ``bench_probe``, when one was attached
        self._server: uvicorn.Server | None = None
        self._serve: asyncio.Task[None] | None = None
        self.api: httpx.AsyncClient
        self.db: Database

    async def __aenter__(self) -> VoiceStack:
        if self.remote is not None:
            await self.remote.start()
        carrier: Any = self.remote if self.remote is not None else self.carrier
        registry = CarrierRegistry({"simulator": lambda: carrier})
        app = create_app(self.settings, carriers=registry)
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                ws_ping_interval=None,
                log_config=None,
                backlog=4096,
            )
        )
        self._serve = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serve.done():
                self._serve.result()
                raise RuntimeError("the server stopped during start-up")
            await asyncio.sleep(0.05)
        logging.getLogger().setLevel(logging.WARNING)
        self._hook_store(app)
        self.db = Database(self.settings.database_url)
        key = (await create_key(self.db, "bench", "voice benchmark")).key
        self.api = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=httpx.Limits(max_connections=20),
        )
        # Let the recogniser warm-up (a thread at start-up) finish before timing anything.
        warm = getattr(app.state.runtime, "_warm_task", None)
        if warm is not None:
            with contextlib.suppress(Exception):
                await warm
        return self

    def _hook_store(self, app: Any) -> None:
        """Keep every session's per-frame lateness (the record has only its summary), and any probe
        a benchmark attached to the session's result (``bench/latency_llm.py``)."""
        media = app.state.runtime.media
        store = media._store

        async def keep(call_id: uuid.UUID, result: Any, *args: Any, **kwargs: Any) -> None:
            self.frame_lateness[str(call_id)] = list(result.frame_lateness_ms)
            probe = getattr(result, "bench_probe", None)
            if probe is not None:
                self.probes[str(call_id)] = probe
            await store(call_id, result, *args, **kwargs)  # (prepared call, redaction) as the server passes them

        media._store = keep

    async def __aexit__(self, *exc: object) -> None:
        await self.api.aclose()
        await self.db.dispose()
        if self._server is not None:
            self._server.should_exit = True
        if self._serve is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._serve, 60)
        shutil.rmtree(self.tmp, ignore_errors=True)

    async def create_agent(self, body: dict[str, Any]) -> str:
        r = await self.api.post("/v1/agents", json=body)
        r.raise_for_status()
        return str(r.json()["id"])

    async def place_call(self, agent_id: str, to: str, callee: dict[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"agent_id": agent_id, "to": to}
        if callee is not None:
            body["simulated_callee"] = callee
        r = await self.api.post("/v1/calls", json=body)
        r.raise_for_status()
        return str(r.json()["id"])

    async def wait_all(self, call_ids: list[str], timeout_s: float) -> dict[str, str]:
        """Poll the database (one query a second, cheap) until every call is terminal."""
        ids = [uuid.UUID(c) for c in call_ids]
        deadline = time.monotonic() + timeout_s
        status: dict[str, str] = {}
        while time.monotonic() < deadline:
            async with self.db.read() as conn:
                rows = (
                    await conn.execute(
                        sa.select(calls.c.id, calls.c.status, calls.c.ended_at).where(calls.c.id.in_(ids))
                    )
                ).all()
            status = {str(r.id): r.status for r in rows}
            if all(r.status in TERMINAL and r.ended_at is not None for r in rows) and len(rows) == len(ids):
                return status
            await asyncio.sleep(1.0)
        return status

    async def record(self, call_id: str) -> dict[str, Any]:
        r = await self.api.get(f"/v1/conversations/{call_id}")
        r.raise_for_status()
        return dict(r.json())

    @property
    def callee_pid(self) -> int | None:
        return self.remote.process.pid if self.remote is not None and self.remote.process is not None else None

    def forget_peers(self) -> None:
        self.carrier.finished.clear()
        if self.remote is not None:
            self.remote.logs.clear()

    def peer_for(self, call_id: str) -> CalleePeer | CalleeLog | None:
        if self.remote is not None:
            return self.remote.logs.get(call_id)
        for peer in self.carrier.finished.values():
            if peer.request.call_id == call_id or str(peer.request.call_id) == call_id:
                return peer
        return None


# --- callees in a separate process ---------------------------------------------------------
#
# In production the far end (Twilio and the phones) runs elsewhere. On one machine, a
# simulated callee costs about as much CPU per frame as the server's own side of the call, so
# with everything in one process the benchmark measures "server + load generator" on one
# core (one event loop, one GIL). ``RemoteSimulatedCarrier`` keeps the real SimulatedCarrier
# and its CalleePeers in a child process; the server sees an ordinary ``Carrier``. The media
# still goes over a real loopback WebSocket to the server's Media Streams endpoint.


@dataclass
class CalleeLog:
    """What the benchmarks read from a callee, shipped back from the callee process."""

    call_id: str
    ticks_skipped: int
    playout_underruns: int
    frames_sent: int
    turn_timings: list[TurnTiming]


def callee_log(peer: CalleePeer) -> dict[str, Any]:
    return {
        "call_id": str(peer.request.call_id),
        "ticks_skipped": peer.ticks_skipped,
        "playout_underruns": peer.playout_underruns,
        "frames_sent": peer.frames_sent,
        "turn_timings": [asdict(t) for t in peer.turn_timings],
    }


async def _callee_main(port: int, voice: str, ring_ms: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    carrier = SimulatedCarrier(lambda: callee_synthesizer(voice), ring_ms=ring_ms)
    carrier.keep_finished = True
    ours: dict[str, str] = {}  # the server's provider call id -> this carrier's

    def send(msg: dict[str, Any]) -> None:
        writer.write(json.dumps(msg).encode() + b"\n")

    async def place(parent_pid: str, request: DialRequest) -> None:
        async def on_status(event: StatusEvent) -> None:
            msg: dict[str, Any] = {"op": "status", "pid": parent_pid, "event": asdict(event)}
            if event.status in ("completed", "failed"):
                peer = carrier.peer(event.provider_call_id)
                if peer is not None:
                    msg["log"] = callee_log(peer)
                carrier.finished.pop(event.provider_call_id, None)
            send(msg)

        ours[parent_pid] = await carrier.place_call(request, on_status)

    tasks: set[asyncio.Task[None]] = set()
    while line := await reader.readline():
        msg = json.loads(line)
        if msg["op"] == "place":
            task = asyncio.create_task(place(msg["pid"], DialRequest(**msg["request"])))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elif msg["op"] == "hangup" and msg["pid"] in ours:
            task = asyncio.create_task(carrier.hang_up(ours[msg["pid"]]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elif msg["op"] == "close":
            break
    await carrier.aclose()
    writer.close()


def _callee_process(port: int, voice: str, ring_ms: float) -> None:
    asyncio.run(_callee_main(port, voice, ring_ms))


class RemoteSimulatedCarrier:
    """A ``Carrier`` whose simulated calls run in a child process (see the note above)."""

    name = "simulator"

    def __init__(self, voice: str, ring_ms: float) -> None:
        self.voice = voice
        self.ring_ms = ring_ms
        self.logs: dict[str, CalleeLog] = {}
        self._handlers: dict[str, StatusHandler] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self.process: mp.process.BaseProcess | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.process = mp.get_context("spawn").Process(
            target=_callee_process, args=(port, self.voice, self.ring_ms), daemon=True
        )
        self.process.start()
        await asyncio.wait_for(self._connected.wait(), 30)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._connected.set()
        while line := await reader.readline():
            msg = json.loads(line)
            if msg["op"] != "status":
                continue
            if "log" in msg:
                log = msg["log"]
                log["turn_timings"] = [TurnTiming(**t) for t in log["turn_timings"]]
                self.logs[log["call_id"]] = CalleeLog(**log)
            event = msg["event"]
            event["provider_call_id"] = msg["pid"]
            handler = self._handlers.get(msg["pid"])
            if handler is not None:
                if event["status"] in ("completed", "failed", "busy", "no_answer", "canceled"):
                    self._handlers.pop(msg["pid"], None)
                asyncio.create_task(handler(StatusEvent(**event)))  # noqa: RUF006 - like the real carrier's

    def _send(self, msg: dict[str, Any]) -> None:
        assert self._writer is not None
        self._writer.write(json.dumps(msg).encode() + b"\n")

    async def place_call(self, request: DialRequest, on_status: StatusHandler) -> str:
        pid = "SIM" + uuid.uuid4().hex
        self._handlers[pid] = on_status
        self._send({"op": "place", "pid": pid, "request": asdict(request)})
        return pid

    async def hang_up(self, provider_call_id: str) -> None:
        self._send({"op": "hangup", "pid": provider_call_id})

    async def aclose(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._send({"op": "close"})
                await self._writer.drain()
        if self.process is not None:
            await asyncio.to_thread(self.process.join, 10)
            if self.process.is_alive():
                self.process.terminate()
        if self._server is not None:
            self._server.close()
