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
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
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


def callee_synthesizer(voice: str) -> Synthesizer:
    """The simulated callee's voice: an espeak voice name, or "tone" (no compute at all)."""
    if voice == "tone":
        from callwright.voice.tts.tone import ToneSynthesizer

        return ToneSynthesizer()
    from callwright.voice.tts.espeak import EspeakSynthesizer

    return EspeakSynthesizer(voice=voice)


class CpuMeter:
    """This process's CPU use (all threads) and peak RSS between ``start`` and ``stop``."""

    def __init__(self) -> None:
        self._t0 = self._cpu0 = 0.0
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
        return {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_pct": round(100 * cpu / wall, 1) if wall > 0 else 0.0,  # 100 % = one core
            "peak_rss_mb": round(max(self.peak_rss_mb, self.rss_mb()), 1),
        }


class VoiceStack:
    """``async with VoiceStack(...) as stack``: server up, API key made, carrier kept."""

    def __init__(self, callee_voice: str = "en-gb", ring_ms: float = 100.0) -> None:
        self.callee_voice = callee_voice
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
        )
        self.carrier = SimulatedCarrier(lambda: callee_synthesizer(callee_voice), ring_ms=ring_ms)
        self.carrier.keep_finished = True
        self.frame_lateness: dict[str, list[float]] = {}  # call id -> the session's per-frame lateness
        self._server: uvicorn.Server | None = None
        self._serve: asyncio.Task[None] | None = None
        self.api: httpx.AsyncClient
        self.db: Database

    async def __aenter__(self) -> VoiceStack:
        registry = CarrierRegistry({"simulator": lambda: self.carrier})
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
        """Keep every session's per-frame lateness (the record has only its summary)."""
        media = app.state.runtime.media
        store = media._store

        async def keep(call_id: uuid.UUID, result: Any) -> None:
            self.frame_lateness[str(call_id)] = list(result.frame_lateness_ms)
            await store(call_id, result)

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

    def peer_for(self, call_id: str) -> CalleePeer | None:
        for peer in self.carrier.finished.values():
            if peer.request.call_id == call_id or str(peer.request.call_id) == call_id:
                return peer
        return None
