"""One phone call, end to end: the real-time loop of the voice engine (DESIGN.md, "The voice engine").

Three kinds of task, joined by one queue of signals:
- *inbound* reads the carrier stream and runs the ``Listener`` inline on every frame (decode,
  VAD, recogniser push, endpointing, machine detection), passing marks to the playout;
- a *transcription* awaits an ended utterance's ``finish`` (a local model decodes in a worker
  thread, a service answers over the network) and hands the text to the loop as a turn, so
  neither the inbound task nor the loop ever waits on speech-to-text;
- *playout* synthesizes and paces the agent's sentences (see ``playout.py``);
- a *dialogue turn* iterates ``dialogue.start()`` or ``dialogue.respond()`` and queues sentences.

The loop in ``run`` owns every decision (barge-in, turns, timeouts, voicemail, the end), so the
state lives in one place and every way out goes through ``_finish``, which cancels and awaits
every task: no path can leave a task running or a call hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from callwright.dialogue.base import (
    Dialogue,
    DialogueEvent,
    End,
    Listen,
    PressDigits,
    ToolFinished,
    ToolStarted,
    Transfer,
    TurnEnd,
    UserInput,
)
from callwright.voice.agent_turn import AgentTurn
from callwright.voice.audio import FRAME_MS
from callwright.voice.dialogue_turn import speak_turn, split_text
from callwright.voice.dtmf import InvalidDigits, dtmf_frames
from callwright.voice.end_of_turn import TurnModel
from callwright.voice.grammar_state import words_decide
from callwright.voice.latency import LatencyTracker, TurnTimer
from callwright.voice.listener import (
    BeepEnded,
    BeepHeard,
    GreetingClassified,
    Listener,
    PartialHeard,
    Signal,
    SpeechEnded,
    SpeechPaused,
    SpeechStarted,
    SpeechSustained,
)
from callwright.voice.playout import Playout, Sentence
from callwright.voice.recorder import Recorder
from callwright.voice.session_types import (
    EventHandler,
    SessionConfig,
    SessionEvent,
    SessionResult,
    SessionStatus,
    StateEvent,
    ToolEvent,
    TranscriptEvent,
    TranscriptTurn,
)
from callwright.voice.stt.base import Transcriber, TranscriberError, Transcript, Utterance
from callwright.voice.transport import (
    AudioIn,
    DtmfIn,
    MarkPlayed,
    MediaTransport,
    StreamStopped,
    TransportError,
)
from callwright.voice.tts.base import Synthesizer
from callwright.voice.turn_judging import TurnJudged, TurnJudging
from callwright.voice.turns import BargeInPolicy, DtmfCollector
from callwright.voice.voicemail import VoicemailWait

log = logging.getLogger("callwright.session")

TICK_S = 0.05
STT_TIMEOUT_S = 10.0
"""Longest wait for an utterance's text; past it the turn goes on as heard-nothing."""
LISTEN_PREFIX = "listen:"

Mode = Literal["conversation", "voicemail", "message"]


@dataclass(frozen=True)
class _StreamEnded:
    error: str | None


@dataclass(frozen=True)
class _Dtmf:
    digit: str
    at: float


@dataclass(frozen=True)
class _DialogueDone:
    event: TurnEnd | None
    error: str | None = None


@dataclass(frozen=True)
class _Hangup:
    reason: str


@dataclass(frozen=True)
class _Transcribed:
    """An ended utterance's text has arrived: the caller's turn."""

    speech: SpeechEnded
    transcript: Transcript
    done_at: float


@dataclass(frozen=True)
class _CarrierVerdict:
    answered_by: str


_Control = Signal | _StreamEnded | _Dtmf | _DialogueDone | _Hangup | _Transcribed | TurnJudged | _CarrierVerdict

Transferrer = Callable[[str], Awaitable[None]]
"""Asks the carrier to connect the caller to a number (cold transfer); raises when it cannot."""


class CallSession:
    """Runs one call over a ``MediaTransport`` until someone hangs up; see ``run``."""

    def __init__(
        self,
        transport: MediaTransport,
        dialogue: Dialogue,
        transcriber: Transcriber,
        synthesizer: Synthesizer,
        config: SessionConfig | None = None,
        on_event: EventHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
        transfer: Transferrer | None = None,
        turn_model: TurnModel | None = None,
    ) -> None:
        self.transport = transport
        self.dialogue = dialogue
        self._transfer = transfer
        self.config = config or SessionConfig()
        self._on_event = on_event
        self._clock = clock
        cfg = self.config
        self._machine = bool(cfg.answered_by and cfg.answered_by.startswith("machine"))
        detect = cfg.detect_voicemail and not cfg.answered_by
        self.recorder = Recorder(max_duration_s=cfg.max_duration_s + 5)
        self.listener = Listener(
            transcriber,
            endpointing_ms=cfg.endpointing_ms,
            end_of_turn=cfg.end_of_turn,
            sustained_ms=cfg.interruption_min_ms,
            detect_greeting=detect,
            detect_beep=detect or self._machine,
            machine_greeting_ms=cfg.machine_greeting_ms,
            recorder=self.recorder,
            clock=clock,
        )
        self.playout = Playout(transport, synthesizer, clock=clock, on_frame=self._on_frame)
        self._policy = BargeInPolicy(cfg.allow_interruptions, cfg.interruption_min_ms, cfg.interruption_min_words)
        self._signals: asyncio.Queue[_Control] = asyncio.Queue()
        # The turn model only moves the silence rule when there is a rule to move.
        use_model = turn_model is not None and cfg.end_of_turn is not None
        self._judging = TurnJudging(turn_model, self._signals.put_nowait) if use_model and turn_model else None
        self._latency = LatencyTracker()
        self._transcript: list[TranscriptTurn] = []
        self._mode: Mode = "conversation"
        self._t0 = 0.0
        self._dialogue_task: asyncio.Task[None] | None = None
        self._inbound_task: asyncio.Task[None] | None = None
        self._stt_tasks: list[asyncio.Task[None]] = []  # transcriptions in flight, oldest first
        self._agent_turn: AgentTurn | None = None
        self._last_listen: Listen | None = None
        self._dtmf: DtmfCollector | None = None
        self._overlapped: set[int] = set()  # utterances begun while the agent was busy
        self._sustained: set[int] = set()
        self._barged: set[int] = set()
        self._idle_since = 0.0
        self._greet_at: float | None = None
        self._voicemail_wait: VoicemailWait | None = None
        self._beep_ended = False
        self._ending: tuple[SessionStatus, str] | None = None
        self._ending_deadline = 0.0
        self._outcome: str | None = None
        self._last_frame_at = 0.0
        self._result: SessionResult | None = None
        self._hangup_requested: str | None = None
        self._tool_calls: dict[str, dict[str, Any]] = {}
        self._turn_tools: set[str] = set()  # tool calls started in the current turn
        self._transfer_to: str | None = None
        self._transferring = False

    # --- public --------------------------------------------------------------------------

    def request_hangup(self, reason: str = "canceled") -> None:
        """End the call from outside (API cancel, shutdown); ``run`` returns promptly."""
        self._hangup_requested = reason
        self._signals.put_nowait(_Hangup(reason))

    def carrier_answered_by(self, answered_by: str) -> None:
        """The carrier's answering-machine verdict arriving mid-call (Twilio's asynchronous AMD):
        a machine verdict sends the call to voicemail handling, as one known at the start does."""
        self._signals.put_nowait(_CarrierVerdict(answered_by))

    async def run(self) -> SessionResult:
        """Talk until the call ends; never raises for call-level failures (see ``error``)."""
        started_at = time.time()
        try:
            info = await self.transport.start()
        except TransportError as exc:
            with contextlib.suppress(Exception):
                await self.transport.close()
            return SessionResult(
                status="failed",
                end_reason="stream_error",
                error=str(exc),
                started_at=started_at,
                ended_at=time.time(),
            )
        self._t0 = self._idle_since = self._last_frame_at = self._clock()
        self._emit(StateEvent("started"))
        self._inbound_task = asyncio.create_task(self._inbound(), name="inbound")
        self.playout.start()
        try:
            if self._hangup_requested is not None:
                await self._hang_up(self._hangup_requested)
            elif self._machine:
                await self._enter_voicemail(f"answered_by={self.config.answered_by}")
            elif self.config.greeting_delay_ms > 0:
                self._greet_at = self._t0 + self.config.greeting_delay_ms / 1000
            else:
                self._begin_turn(self.dialogue.start(), None)
            while self._result is None:
                try:
                    signal: _Control | None = await asyncio.wait_for(self._signals.get(), TICK_S)
                except TimeoutError:
                    signal = None
                if signal is not None:
                    await self._handle(signal)
                if self._result is None:
                    await self._tick()
        except asyncio.CancelledError:
            await self._finish("canceled", "canceled")
            raise
        except Exception as exc:  # a bug must still end the call cleanly and say why
            await self._finish("failed", "internal_error", f"{type(exc).__name__}: {exc}")
        assert self._result is not None
        result = self._result
        result.started_at = started_at
        result.ended_at = started_at + result.duration_ms / 1000
        result.stream_sid = info.stream_sid
        result.call_sid = info.call_sid
        return result

    # --- the tasks -----------------------------------------------------------------------

    async def _inbound(self) -> None:
        put = self._signals.put_nowait
        try:
            while True:
                event = await self.transport.receive()
                if isinstance(event, AudioIn):
                    self._last_frame_at = self._clock()
                    for signal in self.listener.audio(event.ulaw):
                        put(signal)
                elif isinstance(event, MarkPlayed):
                    self.playout.on_mark(event.name)
                elif isinstance(event, DtmfIn):
                    put(_Dtmf(event.digit, self._clock()))
                elif event is None or isinstance(event, StreamStopped):
                    put(_StreamEnded(None))
                    return
        except TransportError as exc:
            put(_StreamEnded(str(exc)))
        except Exception as exc:
            put(_StreamEnded(f"inbound failed: {type(exc).__name__}: {exc}"))

    def _begin_turn(self, events: AsyncIterator[DialogueEvent], timer: TurnTimer | None) -> None:
        self._agent_turn = AgentTurn()
        self._turn_tools = set()
        self._emit(StateEvent("speaking"))
        self._dialogue_task = asyncio.create_task(self._dialogue_turn(events, timer), name="dialogue")

    async def _dialogue_turn(self, events: AsyncIterator[DialogueEvent], timer: TurnTimer | None) -> None:
        def first_say() -> None:
            if timer is not None:
                timer.dialogue_first = self._clock()

        try:
            ended = await speak_turn(events, self._say, first_say, self._action)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._signals.put_nowait(_DialogueDone(None, f"{type(exc).__name__}: {exc}"))
            return
        if isinstance(ended, Listen):
            self._last_listen = ended
            self.listener.expect = ended.expect
            self.playout.end_turn(f"{LISTEN_PREFIX}{ended.node or ''}")
        self._signals.put_nowait(_DialogueDone(ended))

    def _say(self, text: str) -> None:
        sentence = self.playout.speak(text)
        if self._agent_turn is not None:
            self._agent_turn.add(sentence)
        self._emit(TranscriptEvent("agent", text))

    def _action(self, event: DialogueEvent) -> None:
        """Record tool calls as they start and finish; play key presses in-band, in order with
        the speech around them (a phone menu hears tones, whatever the carrier)."""
        now_ms = round(self._stream_ms(self._clock()))
        if isinstance(event, ToolStarted):
            self._tool_calls[event.call_id] = {
                "id": event.call_id, "name": event.name, "kind": event.kind, "arguments": event.arguments,
                "start_ms": now_ms, "end_ms": None, "ok": None, "result": None, "duration_ms": None,
            }
            self._turn_tools.add(event.call_id)
            self._emit(ToolEvent(event.name, event.kind, "started", arguments=event.arguments))
        elif isinstance(event, ToolFinished):
            record = self._tool_calls.setdefault(
                event.call_id,
                {"id": event.call_id, "name": event.name, "kind": "http", "arguments": {}, "start_ms": None},
            )
            record.update(end_ms=now_ms, ok=event.ok, result=event.result, duration_ms=round(event.duration_ms, 1))
            timer = self._latency.current
            if timer is not None and timer.dialogue_first is None and event.call_id in self._turn_tools:
                timer.tools += event.duration_ms / 1000  # the caller waited on it, not on the model
            self._emit(ToolEvent(event.name, record.get("kind", "http"), "finished", ok=event.ok, result=event.result))
        elif isinstance(event, PressDigits):
            try:
                frames = dtmf_frames(event.digits)
            except InvalidDigits as exc:  # the dialogue validates digits: this is its bug, not the call's
                log.warning("key press not played: %s", exc)
                return
            sentence = self.playout.play(frames)
            if self._agent_turn is not None:
                self._agent_turn.add(sentence)

    def _on_frame(self, sentence: Sentence, frame: bytes, play_at: float) -> None:
        if sentence.stream_start_ms is None:
            sentence.stream_start_ms = self._stream_ms(play_at)
        # Frames of a sentence are back to back on the carrier: place them so, without jitter.
        self.recorder.write_agent_ulaw(frame, sentence.stream_start_ms + (sentence.sent - 1) * FRAME_MS)
        timer = self._latency.current
        if timer is not None and sentence.first_sent_at is not None:
            timer.tts_start = sentence.tts_start
            timer.tts_first_byte = sentence.tts_first_byte
            self._latency.first_audio(sentence.first_sent_at)

    def _stream_ms(self, wall: float) -> float:
        return self.listener.stream_ms_at(wall, self._t0)

    # --- decisions -----------------------------------------------------------------------

    @property
    def agent_busy(self) -> bool:
        """The agent is thinking or talking (or its audio is not confirmed as played)."""
        running = self._dialogue_task is not None and not self._dialogue_task.done()
        return running or self.playout.busy

    async def _handle(self, signal: _Control) -> None:
        if isinstance(signal, _StreamEnded):
            await self._stream_ended(signal.error)
        elif isinstance(signal, _Hangup):
            await self._hang_up(signal.reason)
        elif isinstance(signal, _CarrierVerdict):
            await self._carrier_verdict(signal.answered_by)
        elif isinstance(signal, _DialogueDone):
            await self._dialogue_done(signal)
        elif isinstance(signal, _Dtmf):
            await self._digit(signal)
        elif isinstance(signal, _Transcribed):
            await self._transcribed(signal)
        elif isinstance(signal, TurnJudged):
            ended = self.listener.judge(signal.utterance, signal.pause, signal.probability)
            if ended is not None:
                await self._handle(ended)
        elif isinstance(signal, BeepHeard | BeepEnded | GreetingClassified):
            await self._machine_cue(signal)
        elif self._mode == "conversation":
            await self._speech(signal)

    async def _speech(self, signal: Signal) -> None:
        if self._ending is not None:
            return
        if isinstance(signal, SpeechStarted):
            if self.agent_busy:
                self._overlapped.add(signal.utterance)
                if not self._policy.allow:
                    self.listener.drop(signal.utterance)
        elif isinstance(signal, SpeechSustained):
            self._sustained.add(signal.utterance)
            await self._overlap(signal.utterance, signal.voiced_ms, signal.partial_text)
        elif isinstance(signal, PartialHeard):
            await self._overlap(signal.utterance, signal.voiced_ms, signal.text)
        elif isinstance(signal, SpeechPaused):
            # Where the words settle the answer (yes/no, a choice, a digit string) the model is
            # not asked: it would only queue ahead of the turns that need it.
            if self._judging is not None and not words_decide(self.listener.expect):
                self._judging.paused(signal, self.listener.turn_audio())
        elif isinstance(signal, SpeechEnded):
            self._idle_since = self._clock()
            recognition = signal.recognition
            if recognition is None:
                return
            u = signal.utterance
            # The machine verdict comes first (it arrives in the same frame); a backchannel over
            # the agent ("uh-huh") is not a turn.
            backchannel = u in self._overlapped and u not in self._barged
            log.debug("utterance %d ended: overlapped=%s barged=%s sustained=%s busy=%s", u,
                      u in self._overlapped, u in self._barged, u in self._sustained, self.agent_busy)
            if self._greeting_pending() or (backchannel and (u not in self._sustained or self.agent_busy)):
                _close(recognition)
                return
            previous = self._stt_tasks[-1] if self._stt_tasks else None
            task = asyncio.create_task(self._transcribe(signal, recognition, previous), name="transcribe")
            self._stt_tasks.append(task)
            task.add_done_callback(self._stt_tasks.remove)

    async def _overlap(self, utterance: int, voiced_ms: int, text: str | None) -> None:
        """Speech over the agent, long enough to matter: an interruption, or a backchannel?
        Judged on its words where the recogniser can give them (asked for if need be), else on
        its duration."""
        if utterance not in self._overlapped or utterance in self._barged or not self.agent_busy:
            return
        if text is None and self._policy.min_words > 0 and self.listener.want_words(utterance):
            return  # the words will come as PartialHeard
        log.debug("speech over the agent (utterance %d): %d ms voiced, words %r", utterance, voiced_ms, text)
        if self._policy.should_interrupt(voiced_ms, text):
            self._barged.add(utterance)
            self.listener.interrupted_by(utterance)
            await self._interrupt()
        elif text is not None:
            self.listener.want_words(utterance)  # only "uh-huh" so far: listen to what comes next

    async def _transcribe(
        self, signal: SpeechEnded, recognition: Utterance, previous: asyncio.Task[None] | None
    ) -> None:
        """Await the utterance's text off the loop's critical path; turns keep their order."""
        try:
            transcript = await asyncio.wait_for(recognition.finish(), STT_TIMEOUT_S)
        except asyncio.CancelledError:
            _close(recognition)
            raise
        except Exception as exc:  # TranscriberError, a timeout, or a provider bug: heard nothing
            _close(recognition)
            retryable = isinstance(exc, TimeoutError) or (isinstance(exc, TranscriberError) and exc.retryable)
            log.warning("speech-to-text failed (retryable=%s): %s: %s", retryable, type(exc).__name__, exc)
            transcript = Transcript("")
        done_at = self._clock()
        if previous is not None:
            await asyncio.wait([previous])  # its turn first; its failure is its own
        self._signals.put_nowait(_Transcribed(signal, transcript, done_at))

    async def _transcribed(self, signal: _Transcribed) -> None:
        if self._mode != "conversation" or self._ending is not None:
            return
        speech = signal.speech
        timer = self._latency.begin(speech.speech_end_at)
        timer.endpoint = speech.endpoint_at
        timer.stt_done = signal.done_at
        await self._user_turn(
            UserInput(text=signal.transcript.text, confidence=signal.transcript.confidence),
            speech.start_ms,
            speech.end_ms,
            timer,
        )

    def _greeting_pending(self) -> bool:
        return self.listener.greeting is not None and self.listener.greeting.verdict is None

    async def _user_turn(self, user: UserInput, start_ms: int, end_ms: int, timer: TurnTimer) -> None:
        if self.agent_busy:
            await self._interrupt()
        self._close_agent_turn(interrupted=False)
        text = user.text if not user.dtmf else user.dtmf
        self._transcript.append(TranscriptTurn("user", text, start_ms, end_ms))
        self._emit(TranscriptEvent("user", user.text, dtmf=user.dtmf))
        self._begin_turn(self.dialogue.respond(user), timer)

    async def _interrupt(self) -> None:
        """Barge-in: stop the dialogue and the audio, keep what was heard."""
        await self._cancel_dialogue()
        await self.playout.cancel()
        self._latency.abandon()
        turn = self._close_agent_turn(interrupted=True)
        self._emit(StateEvent("interrupted", turn.text if turn else ""))

    async def _cancel_dialogue(self) -> None:
        task = self._dialogue_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._dialogue_task = None

    def _close_agent_turn(self, interrupted: bool) -> TranscriptTurn | None:
        turn_in_progress = self._agent_turn
        self._agent_turn = None
        if turn_in_progress is None:
            return None
        turn = turn_in_progress.to_transcript(self._stream_ms, self._clock(), interrupted)
        if turn is not None:
            self._transcript.append(turn)
        if self._mode == "conversation":
            # The dialogue's history is what the caller heard, not what was generated.
            try:
                self.dialogue.heard(turn.text if turn is not None else "", interrupted)
            except Exception:  # a dialogue bug here must not take the call down
                log.exception("dialogue.heard failed")
        return turn

    async def _digit(self, signal: _Dtmf) -> None:
        if self._mode != "conversation" or self._ending is not None:
            return
        self._idle_since = signal.at
        if self.agent_busy:
            if not self._policy.allow:
                return
            await self._interrupt()
        if self._dtmf is None:
            expect = self._last_listen.expect if self._last_listen is not None else None
            length = expect.length if expect is not None and expect.kind == "digits" else None
            self._dtmf = DtmfCollector(length, self.config.dtmf_timeout_ms)
        digits = self._dtmf.push(signal.digit, round(signal.at * 1000))
        if digits is not None:
            await self._digits_done(digits, signal.at)

    async def _digits_done(self, digits: str, last_at: float) -> None:
        self._dtmf = None
        if not digits:
            return
        now_ms = round(self._stream_ms(self._clock()))
        timer = self._latency.begin(last_at)
        timer.endpoint = timer.stt_done = self._clock()
        await self._user_turn(UserInput(dtmf=digits), now_ms, now_ms, timer)

    async def _dialogue_done(self, signal: _DialogueDone) -> None:
        if signal.error is not None:
            await self._finish("failed", "dialogue_error", signal.error)
        elif isinstance(signal.event, End):
            self._outcome = signal.event.outcome
            self._end_after_playout("completed", signal.event.reason)
        elif isinstance(signal.event, Transfer):
            self._outcome = signal.event.outcome
            self._transfer_to = signal.event.to
            self._end_after_playout("completed", "transfer")
        else:
            self._emit(StateEvent("listening"))

    def _end_after_playout(self, status: SessionStatus, reason: str) -> None:
        self._ending = (status, reason)
        self._ending_deadline = self._clock() + self.config.drain_timeout_s

    # --- voicemail -----------------------------------------------------------------------

    async def _machine_cue(self, signal: BeepHeard | BeepEnded | GreetingClassified) -> None:
        in_window = self._clock() - self._t0 <= self.config.voicemail_window_s
        if isinstance(signal, BeepEnded):
            self._beep_ended = True
            if self._voicemail_wait is not None:
                self._voicemail_wait.beep_ended = True
        if self._mode == "conversation" and in_window and self._ending is None:
            if isinstance(signal, BeepHeard):
                await self._enter_voicemail(f"beep {signal.frequency_hz:.0f} Hz")
            elif isinstance(signal, GreetingClassified) and signal.verdict == "machine":
                await self._enter_voicemail("long greeting")

    async def _carrier_verdict(self, answered_by: str) -> None:
        if self._mode != "conversation" or self._ending is not None:
            return
        if answered_by == "human":  # a person: nothing left for the audio to decide
            self.listener.stop_greeting_detection()
            self.listener.stop_beep_detection()
            return
        if not answered_by.startswith("machine"):
            return
        if answered_by == "machine_end_beep":
            self._beep_ended = True  # the greeting is over: the message can start now
        await self._enter_voicemail(f"answered_by={answered_by}")

    async def _enter_voicemail(self, cue: str) -> None:
        """Stop the conversation; wait for the beep, then leave the message or hang up."""
        await self._cancel_dialogue()
        if self.playout.busy:
            await self.playout.cancel()
        self._close_agent_turn(interrupted=True)
        self._latency.abandon()
        self._mode = "voicemail"
        cfg = self.config
        self._voicemail_wait = VoicemailWait(self._clock(), cfg.voicemail_silence_ms / 1000, cfg.voicemail_max_wait_s)
        self._voicemail_wait.beep_ended = self._beep_ended
        self.listener.transcribe = False
        current = self.listener.current_utterance
        if current is not None:
            self.listener.drop(current)
        self.listener.stop_greeting_detection()
        self._emit(StateEvent("voicemail", cue))

    async def _voicemail_tick(self, now: float) -> None:
        cfg = self.config
        wait = self._voicemail_wait
        if wait is None or not wait.ready(now, self.listener.last_voiced_at, self.listener.in_speech):
            return
        self.listener.stop_beep_detection()
        message = cfg.voicemail_message.strip()
        if cfg.voicemail_action != "leave_message" or not message:
            await self._finish("voicemail", "voicemail_hangup")
            return
        self._mode = "message"
        self._agent_turn = AgentTurn()
        for sentence in split_text(message):
            self._say(sentence)
        self._end_after_playout("voicemail", "voicemail_message_left")

    # --- time ----------------------------------------------------------------------------

    async def _tick(self) -> None:
        now = self._clock()
        cfg = self.config
        task = self.playout.task
        if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
            await self._finish("failed", "stream_error", str(task.exception()))
            return
        if now - self._t0 >= cfg.max_duration_s:
            await self._finish("completed", "max_duration")
            return
        self.playout.expire(now)
        if self._ending is not None:
            if not self.playout.busy or now >= self._ending_deadline:
                await self._end_now()
            return
        if self._greet_at is not None and now >= self._greet_at:
            self._greet_at = None
            if self._mode == "conversation":
                self._begin_turn(self.dialogue.start(), None)
        if self._mode == "voicemail":
            await self._voicemail_tick(now)
            return
        if self._mode != "conversation":
            return
        if now - self._t0 > cfg.voicemail_window_s:
            self.listener.stop_beep_detection()
            self.listener.stop_greeting_detection()
        if self.listener.in_speech and now - self._last_frame_at >= cfg.endpointing_ms / 1000 + 0.5:
            ended = self.listener.end_now()  # the carrier stopped sending audio mid-utterance
            if ended is not None:
                await self._speech(ended)
        if self._dtmf is not None:
            digits = self._dtmf.poll(round(now * 1000))
            if digits is not None:
                await self._digits_done(digits, now)
        busy = self.agent_busy or self.listener.in_speech or bool(self._stt_tasks)
        if busy or self._dtmf is not None or self._greet_at is not None:
            self._idle_since = now
        elif now - self._idle_since >= cfg.end_call_after_silence_s:
            await self._finish("completed", "silence_timeout")

    # --- the end -------------------------------------------------------------------------

    async def _end_now(self) -> None:
        """The agent's last words have played: hang up, or hand the caller over first."""
        assert self._ending is not None
        if self._ending[1] == "transfer" and self._transfer_to and not self._transferring:
            self._transferring = True
            if self._transfer is not None:
                try:
                    await self._transfer(self._transfer_to)
                except Exception as exc:
                    await self._finish("completed", "transfer_failed", f"{type(exc).__name__}: {exc}")
                    return
        await self._finish(*self._ending)

    async def _stream_ended(self, error: str | None) -> None:
        if error is not None:
            await self._finish("failed", "stream_error", error)
        elif self._ending is not None:
            await self._finish(*self._ending)
        elif self._mode != "conversation":
            await self._finish("voicemail", "user_hangup")
        else:
            await self._finish("completed", "user_hangup")

    async def _hang_up(self, reason: str) -> None:
        await self._finish("canceled" if reason == "canceled" else "completed", reason)

    async def _finish(self, status: SessionStatus, reason: str, error: str | None = None) -> None:
        if self._result is not None:
            return
        now = self._clock()
        interrupted = self.agent_busy
        await self._cancel_dialogue()
        await self.playout.close()
        inbound = self._inbound_task
        if inbound is not None and not inbound.done():
            inbound.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await inbound
        if self._judging is not None:
            await self._judging.aclose()
        for stt in list(self._stt_tasks):
            stt.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await stt
        self.listener.close()
        with contextlib.suppress(Exception):
            await self.transport.close()
        self._close_agent_turn(interrupted=interrupted)
        results: dict[str, Any] = dict(getattr(self.dialogue, "results", {}) or {})
        self._latency.report.frame_lateness_ms = self.playout.lateness_ms
        self._result = SessionResult(
            status=status,
            end_reason=reason,
            transcript=sorted(self._transcript, key=lambda t: (t.start_ms, t.role != "agent")),
            results=results,
            outcome=self._outcome,
            recording=self.recorder,
            latency=self._latency.report,
            duration_ms=round((now - self._t0) * 1000),
            error=error,
            frame_lateness_ms=self.playout.lateness_ms,
            tool_calls=list(self._tool_calls.values()),
            transferred_to=self._transfer_to if reason == "transfer" else None,
        )
        self._emit(StateEvent("ended", reason))

    def _emit(self, event: SessionEvent) -> None:
        if self._on_event is None:
            return
        with contextlib.suppress(Exception):  # a broken observer must not break the call
            self._on_event(event)


def _close(recognition: Utterance) -> None:
    try:
        recognition.close()
    except Exception:  # a provider bug must not end the call
        log.exception("closing an utterance failed")
