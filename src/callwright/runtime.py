"""The background side of a process, by role: dial (broker listener, dialer, reconciler), media
(call sessions) and jobs (webhooks, analysis, context)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import Any

from taskiq import InMemoryBroker

from callwright.domain.roles import ALL_ROLES, roles_text
from callwright.jobs.broker import BrokerCallQueue, BrokerListener, make_broker
from callwright.net import SafeHttpClient
from callwright.services.admission import CampaignAdmission
from callwright.services.background_jobs import BackgroundJobs
from callwright.services.call_start import prefetch
from callwright.services.calls import CallService
from callwright.services.carriers import CarrierRegistry
from callwright.services.dialer import Dialer
from callwright.services.dispatch import CallQueue, LocalDial, NoDialer
from callwright.services.live_calls import LiveCalls
from callwright.services.media_sessions import MediaSessions
from callwright.services.model_servers import model_servers
from callwright.services.reconciler import Reconciler
from callwright.services.runners import Heartbeat, MediaDirectory
from callwright.services.secrets import SecretBox, load_root_key
from callwright.settings import Settings
from callwright.store.db import Database
from callwright.telephony.base import Carrier
from callwright.voice.stt import whisper
from callwright.voice.turn_detector import SmartTurnDetector, TurnModelError

log = logging.getLogger("callwright.runtime")


def default_carriers(settings: Settings) -> CarrierRegistry:
    def simulator() -> Carrier:
        from callwright.telephony.simulator.callee_voice import callee_synthesizer_factory
        from callwright.telephony.simulator.carrier import SimulatedCarrier

        return SimulatedCarrier(
            callee_synthesizer_factory(
                settings.callee_voice, espeak_voice=settings.simulator_voice, piper_model=settings.callee_piper_model
            ),
            ring_ms=settings.simulator_ring_ms,
            no_answer_after_ms=settings.simulator_no_answer_after_ms,
        )

    def twilio() -> Carrier:
        from callwright.telephony.twilio.carrier import TwilioCarrier
        from callwright.telephony.twilio.rest import TwilioRest

        rest = TwilioRest(
            settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_api_base, settings.twilio_timeout_s
        )
        return TwilioCarrier(rest, settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}")

    return CarrierRegistry({"simulator": simulator, "twilio": twilio})


def stream_url(settings: Settings) -> str:
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    return base.replace("https://", "wss://").replace("http://", "ws://") + "/carrier/media-stream"


def worker_stream_url(settings: Settings) -> str:
    """A worker's stream address: ``public_stream_url``, else its own host and port (never the
    API's ``public_url``, which the worker's jobs still use for links)."""
    if settings.public_stream_url:
        return settings.public_stream_url
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else socket.getfqdn()
    return f"ws://{host}:{settings.port}/carrier/media-stream"


def _prewarm_speech() -> None:
    """Load the recogniser's dictionary and a few decoders before the first call needs them
    (the first open-vocabulary decoder alone takes most of a second)."""
    try:
        from callwright.voice.stt.pocketsphinx import default_pool

        # A grammar decoder made mid-call holds the GIL for ~40 ms, which every live call hears
        # as late frames; eight of each kind cover the utterances in flight at 20+ calls.
        default_pool().prewarm(grammar=8, open_vocabulary=1)
    except Exception:
        log.exception("speech recogniser warm-up failed; the first call will be slower")


def _load_turn_model() -> SmartTurnDetector | None:
    """The Smart Turn model, or None (turns then end on silence and grammar alone) with a loud
    warning saying why: it is an installed file, not something a call may fetch."""
    try:
        return SmartTurnDetector.load()
    except TurnModelError as exc:
        log.warning("END OF TURN FALLS BACK TO SILENCE ALONE (no Smart Turn model): %s", exc)
        return None


class VoiceRuntime:
    """Everything that makes calls happen in this process, by role (DESIGN.md, "Process roles"):
    ``dial`` claims and dials calls, ``media`` runs the sessions of the streams it accepts,
    ``jobs`` runs background jobs. The embedded default runs all three; with none, the runtime
    still owns the carriers (a cancel reaches a call running elsewhere) and sends dial wake-ups.
    Registries live here, never in module globals, so two runtimes in one process stay apart."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        carrier_registry: CarrierRegistry | None = None,
        *,
        http: SafeHttpClient | None = None,
        secrets: SecretBox | None = None,
        roles: frozenset[str] = ALL_ROLES,
        media_url: str | None = None,
    ) -> None:
        """``http`` and ``secrets`` are the process's own when the app made them; else made here.
        ``media_url``: where carriers reach this process's stream endpoint (default: the
        ``public_stream_url`` setting, else derived from ``public_url`` or host and port)."""
        self.settings = settings
        self.db = db
        self.roles = roles
        self.runner_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.carriers = carrier_registry or default_carriers(settings)
        self.live = LiveCalls(self.carriers)
        self.broker = make_broker(settings.broker)
        self.queue: CallQueue = BrokerCallQueue(self.broker)
        if "dial" not in roles and isinstance(self.broker, InMemoryBroker):
            # An in-memory broker runs a task where it is sent: with no dialer here, no one would.
            self.queue = NoDialer()
        self._own_http = http is None
        self.http = http or SafeHttpClient(allow_private=settings.allow_private_urls)
        self.secrets = secrets or SecretBox(load_root_key(settings.secret_key, settings.data_dir))
        self.media_url = media_url or settings.public_stream_url or stream_url(settings)
        self.heartbeat = Heartbeat(db, self.runner_id, roles, self.media_url, settings.media_capacity)
        self.dialer = Dialer(
            db, self.carriers, MediaDirectory(db, self.runner_id), self.runner_id, self.live,
            on_dialed=lambda call_id: prefetch(db, self.http, self.secrets, call_id),
            max_live_per_org=settings.max_live_calls_per_org,
        )
        self.media = MediaSessions(
            db, settings.data_dir, self.runner_id, self.http, self.secrets, model_servers(settings),
            live=self.live, carriers=self.carriers,
        )
        self.reconciler = Reconciler(db, self.queue, self.runner_id, settings.idempotency_ttl_s)
        self._local_dial = LocalDial(self.dialer.dial)
        self.admission = CampaignAdmission(
            db, CallService(db, self._local_dial, settings.default_country, model_servers(settings), live=self.live),
            max_live_per_org=settings.max_live_calls_per_org, carrier_timeout_s=settings.carrier_timeout_s,
        )
        self._admission_task: asyncio.Task[None] | None = None
        self.jobs = BackgroundJobs(settings, db, self.http, self.secrets)
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._warm_task: asyncio.Task[None] | None = None
        self._warm_model_task: asyncio.Task[None] | None = None
        self._listener: BrokerListener | None = None

    async def start(self, app: Any = None) -> None:
        log.info("process roles: %s (runner %s)", roles_text(self.roles), self.runner_id)
        if "media" in self.roles:
            await self._start_media_role()
        await self.broker.startup()
        await self.heartbeat.register()
        self._heartbeat_task = asyncio.create_task(self._beat_forever(), name="heartbeat")
        if "dial" in self.roles:
            await self._start_dial_role()
        if "jobs" in self.roles:
            self.jobs.start()

    async def _start_media_role(self) -> None:
        """Load what a call session needs before any stream is accepted."""
        # The open-speech model is checked (sha256) and loaded before anything runs: a missing or
        # corrupt model is a start-up error (TranscriberError), never a failure in a call.
        whisper.configure_default(self.settings.whisper_model_dir, self.settings.whisper_model_sha256)
        await asyncio.to_thread(whisper.default_engine().load)
        self.media.turn_model = await asyncio.to_thread(_load_turn_model)
        self._warm_task = asyncio.create_task(asyncio.to_thread(_prewarm_speech), name="prewarm")
        self._warm_model_task = asyncio.create_task(self.media.warm_up(), name="prewarm-model")

    async def _start_dial_role(self) -> None:
        """The one place the ``dial`` role starts: the broker listener feeding the dialer, and
        the reconciler. Anything else that decides which calls to dial starts here too."""
        self.broker.state.dialer = self.dialer
        self._listener = BrokerListener(self.broker)
        await self.reconciler.run_once()
        self._loop_task = asyncio.create_task(self._reconcile_forever(), name="reconciler")
        self._admission_task = asyncio.create_task(self._admit_forever(), name="campaign-admission")

    async def _stop_dial_role(self) -> None:
        """The counterpart of ``_start_dial_role``: stop deciding, then stop dialing."""
        if self._admission_task is not None:
            self._admission_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._admission_task
            self._admission_task = None
        await self._local_dial.aclose()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._listener is not None:
            await self._listener.aclose()
            self._listener = None
        await self.dialer.aclose()

    async def _beat_forever(self) -> None:
        """Every process heartbeats, whatever its roles: a media process's calls are orphans to
        the reconciler when it stops, and its live count is what the dialers read."""
        while True:
            await asyncio.sleep(self.settings.reconcile_interval_s)
            try:
                await self.heartbeat.beat(len(self.media.active))
            except Exception:
                log.exception("heartbeat failed; will retry")

    async def _admit_forever(self) -> None:
        """Campaign admission passes: at every nudge (a slot freed, rows due) and every interval."""
        while True:
            try:
                report = await self.admission.run_once()
                if report.placed or report.deferred or report.failed:
                    log.info("campaign admission: %s", report)
            except Exception:
                log.exception("campaign admission pass failed; will retry")
            await self.db.dial_wakeups.wait(self.settings.admission_interval_s)

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.reconcile_interval_s)
            try:
                await self.reconciler.run_once()
            except Exception:
                log.exception("reconciler pass failed; will retry")

    async def stop(self) -> None:
        for warming in (self._warm_task, self._warm_model_task):
            if warming is not None:
                with contextlib.suppress(Exception):
                    await warming
        await self._stop_dial_role()
        self.media.hang_up_all("shutdown")
        for _ in range(50):
            if not self.media.active:
                break
            await asyncio.sleep(0.1)
        await self.media.aclose()
        if self.media.turn_model is not None:
            self.media.turn_model.close()
            self.media.turn_model = None
        for carrier in self.carriers.started():
            closer = getattr(carrier, "aclose", None)
            if closer is not None:
                await closer()
        await self.jobs.stop()
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
        if self._own_http:
            await self.http.aclose()
        await self.broker.shutdown()
        with contextlib.suppress(Exception):
            await self.heartbeat.unregister()
