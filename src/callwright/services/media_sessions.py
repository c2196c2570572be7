"""Run one call's media session: authenticate the stream, build the engines the agent asks
for, talk, and store the record. Everything the session produced ends up on the call row."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.dialogue.base import Dialogue
from callwright.dialogue.factory import DialogueUnavailable, build_dialogue
from callwright.dialogue.inputs import DialogueDeps, DialogueInputs
from callwright.dialogue.llm_clients import ModelClients
from callwright.dialogue.llm_endpoint import ModelEndpoint, ModelServers
from callwright.domain.agent import AgentSettings, LlmDialogueConfig, TranscriberConfig, Voice
from callwright.domain.call import LIVE_STATUSES
from callwright.domain.pii import redact, redact_obj
from callwright.net import SafeHttpClient
from callwright.observability import LIVE_CALLS, TURN_LATENCY, call_id_var, trace_id_var
from callwright.services import call_state
from callwright.services.agents import version_by_id
from callwright.services.call_start import PreparedCall, prepare_call
from callwright.services.carriers import CarrierRegistry, carrier_hang_up, carrier_transfer
from callwright.services.dialer import hash_token
from callwright.services.http_tools import HttpToolRunner
from callwright.services.live_calls import LiveCalls
from callwright.services.secrets import SecretBox
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow
from callwright.templating import render_safe
from callwright.voice.end_of_turn import EndOfTurnOptions
from callwright.voice.engines import REMOTE_TRANSCRIBERS, ProviderUnavailable, build_synthesizer, build_transcriber
from callwright.voice.session import CallSession
from callwright.voice.session_types import SessionConfig, SessionEvent, SessionResult, TranscriptEvent
from callwright.voice.stt.base import Transcriber
from callwright.voice.stt.fallback import FallbackTranscriber
from callwright.voice.transport import MediaTransport, TransportError
from callwright.voice.tts.base import Synthesizer
from callwright.voice.tts.fallback import FallbackSynthesizer
from callwright.voice.turn_detector import SmartTurnDetector

log = logging.getLogger("callwright.media")

DEFAULT_MODEL_TIMEOUT_S = LlmDialogueConfig.model_fields["timeout_s"].default
"""The client of the default server is warmed up with the default timeout (clients are per timeout)."""

REMOTE_VOICES = frozenset({"elevenlabs", "openai"})

_STATUS = {"completed": "completed", "voicemail": "voicemail", "failed": "failed", "canceled": "canceled"}


def session_config(settings: AgentSettings, row: Row[Any], voicemail_message: str | None = None) -> SessionConfig:
    """``voicemail_message``: the message as rendered at call start; rendered here when not given."""
    if voicemail_message is None:
        voicemail_message = ""
        if settings.voicemail.action == "leave_message" and settings.voicemail.message:
            voicemail_message = render_safe(settings.voicemail.message, row.variables or {})
    turns = settings.turn_taking
    return SessionConfig(
        endpointing_ms=turns.endpointing_ms,
        end_of_turn=EndOfTurnOptions(
            short_silence_ms=min(turns.min_silence_ms, turns.endpointing_ms),
            endpointing_ms=turns.endpointing_ms,
            incomplete_silence_ms=max(turns.max_silence_ms, turns.endpointing_ms),
            threshold=turns.completion_threshold,
        ),
        allow_interruptions=turns.allow_interruptions,
        interruption_min_words=turns.interruption_min_words,
        interruption_min_ms=turns.interruption_min_ms,
        max_duration_s=float(settings.max_duration_s),
        end_call_after_silence_s=float(settings.end_call_after_silence_s),
        voicemail_action=settings.voicemail.action,
        voicemail_message=voicemail_message,
        answered_by=row.answered_by,
        detect_voicemail=row.direction == "outbound",
    )


def dialogue_inputs(settings: AgentSettings, row: Row[Any], prepared: PreparedCall) -> DialogueInputs:
    """The rendered texts a call's dialogue runs with; a follow-up call's language wins."""
    retry = row.retry_context or None
    language = (retry or {}).get("language") or settings.language
    return DialogueInputs(
        variables=prepared.variables,
        first_message=prepared.first_message,
        instructions=prepared.prompt,
        retry_context=retry,
        language=str(language),
    )


async def _close_quietly(provider: object) -> None:
    """A remote provider (or the one a fallback wraps) may hold an HTTP client for the call."""
    for part in (provider, getattr(provider, "primary", None), getattr(provider, "fallback", None)):
        aclose = getattr(part, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


async def _close_dialogue(dialogue: Dialogue) -> None:
    """An LLM dialogue holds HTTP connections (and maybe a protected tool call): release them."""
    aclose = getattr(dialogue, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        log.exception("closing the dialogue failed")


class MediaSessions:
    """Accepts carrier media streams for this process's calls (the ``media`` role)."""

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        runner_id: str,
        http: SafeHttpClient,
        secrets: SecretBox,
        servers: ModelServers | None = None,
        *,
        live: LiveCalls,
        carriers: CarrierRegistry | None = None,
    ) -> None:
        """``live`` and ``carriers`` are the runtime's: sessions register there so a cancel finds
        them, and the carrier is asked to hang up or transfer."""
        self.db = db
        self.live = live
        self.carriers = carriers
        self.http = http
        self.secrets = secrets
        self.deps = DialogueDeps(
            servers=servers or ModelServers(), tools=HttpToolRunner(http, secrets), clients=ModelClients()
        )
        self.recordings = data_dir / "recordings"
        self.runner_id = runner_id
        self.active: dict[uuid.UUID, CallSession] = {}
        self.turn_model: SmartTurnDetector | None = None  # loaded by the runtime at start
        self._watcher: asyncio.Task[None] | None = None

    async def handle(self, transport: MediaTransport) -> None:
        try:
            info = await transport.start()
        except TransportError as exc:
            log.warning("media stream rejected before start: %s", exc)
            await transport.close()
            return
        row = await self._authenticate(info.custom_parameters)
        if row is None:
            log.warning("media stream with an unknown call or a bad token was refused")
            await transport.close()
            return
        call_id: uuid.UUID = row.id
        trace_id_var.set(row.trace_id)
        call_id_var.set(str(call_id))
        await call_state.transition(self.db, call_id, ["dialing", "ringing"], "in_progress", answered_at=utcnow())
        async with self.db.tx() as conn:
            await conn.execute(calls.update().where(calls.c.id == call_id).values(runner_id=self.runner_id))
        fallbacks: list[dict[str, Any]] = []  # providers that failed mid-call and what took over
        try:
            version = await version_by_id(self.db, row.org_id, row.agent_version_id)
            settings = version.settings
            # The dynamic context is fetched and the texts rendered for real now, as the call starts.
            prepared = await prepare_call(self.db, self.http, self.secrets, row, settings)
            dialogue = build_dialogue(settings, dialogue_inputs(settings, row, prepared), self.deps)
            transcriber = self._transcriber(settings, fallbacks)
            synthesizer = self._voice(settings, fallbacks)
        except (ProviderUnavailable, DialogueUnavailable) as exc:
            await call_state.finish(self.db, call_id, "failed", "engine_unavailable", error=str(exc))
            await transport.close()
            return
        live: list[dict[str, Any]] = []
        wake = asyncio.Event()
        t0 = time.monotonic()

        def on_event(event: SessionEvent) -> None:
            if isinstance(event, TranscriptEvent):
                text = event.dtmf or event.text  # keyed digits are stored as the digits, as in the final record
                if settings.redact_pii:
                    text = redact(text)
                at = int((time.monotonic() - t0) * 1000)
                live.append(
                    {"role": event.role, "text": text, "start_ms": at, "end_ms": at, "interrupted": event.interrupted}
                )
                wake.set()

        async def transfer(to: str) -> None:
            await carrier_transfer(self.db, self.carriers, call_id, to)

        config = session_config(settings, row, prepared.voicemail_message)
        turn_model = self.turn_model if settings.turn_taking.detector == "smart_turn" else None
        session = CallSession(
            transport, dialogue, transcriber, synthesizer, config, on_event, transfer=transfer, turn_model=turn_model
        )
        self.active[call_id] = session
        self.live.register(call_id, session.request_hangup)
        LIVE_CALLS.inc()
        writer = asyncio.create_task(self._write_live_transcript(call_id, live, wake))
        self._ensure_watcher()
        try:
            result = await session.run()
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            LIVE_CALLS.dec()
            self.live.unregister(call_id)
            self.active.pop(call_id, None)
            await _close_dialogue(dialogue)
            await _close_quietly(transcriber)
        try:
            requests = getattr(dialogue, "requests", None)
            if fallbacks:
                result.results.setdefault("provider_fallbacks", fallbacks)
            await self._store(call_id, result, prepared, settings.redact_pii, model_requests=requests)
        finally:
            await transport.close()
            # Closing the stream does not end a carrier's call (Twilio keeps the line open).
            with contextlib.suppress(Exception):
                async with self.db.read() as conn:
                    fresh = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).one()
                await carrier_hang_up(self.db, self.carriers, fresh)

    def _environ(self) -> dict[str, str]:
        """The process environment, with the OpenAI key given as a setting (.env) in it."""
        servers = self.deps.servers
        environ = dict(servers.environ)
        environ.setdefault("OPENAI_API_KEY", servers.default_api_key)
        return {k: v for k, v in environ.items() if v}

    def _transcriber(self, settings: AgentSettings, fallbacks: list[dict[str, Any]]) -> Transcriber:
        """The agent's recogniser; a remote one has the embedded one behind it: on a failure the
        utterance's audio is replayed to it, and it hears the rest of the call (recorded)."""
        config = settings.transcriber
        primary = build_transcriber(config, self._environ())
        if config.provider not in REMOTE_TRANSCRIBERS:
            return primary
        provider = config.provider

        def record(reason: str) -> None:
            log.warning("transcriber %s failed, the embedded one hears the rest of the call: %s", provider, reason)
            fallbacks.append({"kind": "transcriber", "provider": provider, "fallback": "embedded", "reason": reason})

        embedded = build_transcriber(TranscriberConfig(language=config.language, hints=list(config.hints)))
        return FallbackTranscriber(primary, embedded, on_fallback=record)

    def _voice(self, settings: AgentSettings, fallbacks: list[dict[str, Any]]) -> Synthesizer:
        """The agent's voice; a remote one has espeak behind it, so an outage mid-call changes the
        voice (once, recorded on the conversation) instead of silencing the agent."""
        environ = self._environ()
        # The voice goes to the default model server unless OPENAI_BASE_URL says otherwise.
        environ.setdefault("OPENAI_BASE_URL", self.deps.servers.default_base_url)
        primary = build_synthesizer(settings.voice, {k: v for k, v in environ.items() if v})
        if settings.voice.provider not in REMOTE_VOICES:
            return primary

        provider = settings.voice.provider

        def record(reason: str) -> None:
            log.warning("voice %s failed, espeak speaks for the rest of the call: %s", provider, reason)
            fallbacks.append({"kind": "voice", "provider": provider, "fallback": "espeak", "reason": reason})

        return FallbackSynthesizer(primary, build_synthesizer(Voice()), on_fallback=record)

    async def _authenticate(self, params: dict[str, str]) -> Row[Any] | None:
        try:
            call_id = uuid.UUID(params.get("call_id", ""))
        except ValueError:
            return None
        token = params.get("token", "")
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).first()
        if row is None or not row.stream_token_hash or row.status not in LIVE_STATUSES:
            return None
        if not hmac.compare_digest(row.stream_token_hash, hash_token(token)):
            return None
        # One use: the token is spent as the stream starts, so a replayed ``start`` is refused.
        async with self.db.tx() as conn:
            spent = await conn.execute(
                calls.update()
                .where(calls.c.id == call_id, calls.c.stream_token_hash == row.stream_token_hash)
                .values(stream_token_hash=None)
            )
        return row if spent.rowcount == 1 else None

    async def _write_live_transcript(self, call_id: uuid.UUID, live: list[dict[str, Any]], wake: asyncio.Event) -> None:
        """Keep the row's transcript current during the call, so it can be watched (and survives a crash)."""
        written = 0
        while True:
            await wake.wait()
            wake.clear()
            if len(live) == written:
                continue
            snapshot = list(live)
            async with self.db.tx() as conn:
                await conn.execute(
                    calls.update()
                    .where(calls.c.id == call_id, calls.c.status == "in_progress")
                    .values(transcript=snapshot, updated_at=utcnow())
                )
            written = len(snapshot)
            await asyncio.sleep(0.1)

    def _ensure_watcher(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch_for_cancel(), name="cancel-watch")

    async def _watch_for_cancel(self) -> None:
        """A cancel handled by another process closes the row; its session here then hangs up.
        One query a second covers every live session of this process."""
        while self.active:
            await asyncio.sleep(1.0)
            ids = list(self.active)
            if not ids:
                continue
            async with self.db.read() as conn:
                rows = (await conn.execute(sa.select(calls.c.id, calls.c.status).where(calls.c.id.in_(ids)))).all()
            for row in rows:
                session = self.active.get(row.id)
                if session is not None and row.status not in LIVE_STATUSES:
                    session.request_hangup("canceled")

    async def _store(
        self,
        call_id: uuid.UUID,
        result: SessionResult,
        prepared: PreparedCall | None = None,
        redact_pii: bool = False,
        model_requests: list[dict[str, Any]] | None = None,
    ) -> None:
        """Everything the session produced onto the call row; card and SSN numbers redacted first
        when the agent asks for it (the record, and so every webhook and file, never holds them)."""
        recording_path: str | None = None
        if result.recording is not None and result.recording.duration_ms > 0:
            self.recordings.mkdir(parents=True, exist_ok=True)
            path = self.recordings / f"{call_id}.wav"
            await asyncio.to_thread(result.recording.write, path)
            recording_path = str(path.resolve())
        results = dict(result.results)
        if result.outcome and "outcome" not in results:
            results["outcome"] = result.outcome
        transcript = [t.to_dict() for t in result.transcript]
        tool_calls = list(result.tool_calls)
        if redact_pii:
            transcript, results, tool_calls = redact_obj(transcript), redact_obj(results), redact_obj(tool_calls)
        latency = result.latency.to_dict()
        if prepared is not None and prepared.dynamic_context_ms is not None:
            # The fetch itself, and how long the answered caller waited for it (0 when it
            # finished while the phone rang).
            latency["dynamic_context_ms"] = prepared.dynamic_context_ms
            latency["dynamic_context_wait_ms"] = round(prepared.waited_ms, 1)
        if model_requests:
            # An LLM agent's requests: model, turn, time to first token, total time, and errors.
            latency["model_requests"] = [
                {k: v for k, v in r.items() if k in ("model", "turn", "ttft_ms", "total_ms", "ok", "error")}
                for r in model_requests
            ]
        for turn in latency.get("turns", []):
            total = turn.get("total_ms")
            if isinstance(total, int | float):
                TURN_LATENCY.observe(total / 1000)
        ended_at = datetime.fromtimestamp(result.ended_at, UTC) if result.ended_at else utcnow()
        stored = await call_state.finish(
            self.db,
            call_id,
            _STATUS.get(result.status, "failed"),
            result.end_reason,
            error=result.error,
            ended_at=ended_at,
            transcript=transcript,
            results=results,
            latency=latency,
            recording_path=recording_path,
            tool_calls=tool_calls,
            transferred_to=result.transferred_to,
        )
        if not stored:
            # Already closed (e.g. canceled through the API): keep what the session heard anyway.
            async with self.db.tx() as conn:
                await conn.execute(
                    calls.update()
                    .where(calls.c.id == call_id)
                    .values(
                        transcript=transcript,
                        results=results,
                        latency=latency,
                        recording_path=recording_path,
                        tool_calls=tool_calls,
                        updated_at=utcnow(),
                    )
                )
        log.info("call ended: %s (%s)", result.status, result.end_reason)

    async def warm_up(self) -> None:
        """Build the default model server's client before the first call needs it (the openai
        package's first use costs ~100 ms, which a caller would otherwise wait through)."""
        servers, clients = self.deps.servers, self.deps.clients
        if clients is None or not servers.default_base_url:
            return
        endpoint = ModelEndpoint(servers.default_base_url, servers.default_api_key or "not-needed", "")
        with contextlib.suppress(Exception):
            await clients.get(endpoint, DEFAULT_MODEL_TIMEOUT_S)

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self.deps.clients is not None:
            await self.deps.clients.aclose()

    def hang_up_all(self, reason: str = "shutdown") -> None:
        for session in list(self.active.values()):
            session.request_hangup(reason)
