"""Inbound audio for one call: μ-law frames in, turn-taking signals out.

Per 20 ms frame: decode the μ-law to PCM16 at 8 kHz (a table lookup), record it, VAD, keep
~200 ms of pre-roll, judge the end of the turn and listen for an answering machine, all at the
wire's 8 kHz. Only the audio the recogniser gets (the current utterance and its pre-roll) is
converted to the rate the transcriber declares (upsampled once to 16 kHz, or passed as is at
8 kHz): most frames of a call are the caller listening, and the resampler was the largest
per-frame cost (~39 µs of ~100 µs, py-spy at 20 calls). It is synchronous and does no I/O, so
the session's inbound task runs it inline (a transcriber's ``push`` and the VAD are well under a
millisecond). It never waits for text: the end of a turn is reported at once with the
utterance, whose asynchronous ``finish`` the session awaits in a task of its own. When the
caller falls silent the utterance is told (``pause``) so a slow recogniser can start decoding
while the endpointing silence runs, and told again if speech resumes. Decisions that depend on
what the agent is doing (barge-in, ignoring backchannels) are the session's: this class reports
facts.

End of turn (DESIGN.md, "Rules of the house" 5): the silence that ends a turn is not fixed. At
the pause the listener reports ``SpeechPaused``; the session may ask the turn model and hand its
judgement back (``judge``), and the words recognised so far are checked against what the
dialogue expects (``grammar_state``). Both move the endpointer's required silence between
``EndOfTurnOptions.short_silence_ms`` and ``incomplete_silence_ms``; see ``turn_detector``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from callwright.domain.expectation import Expectation
from callwright.voice.audio import (
    CARRIER_FRAME_BYTES,
    CARRIER_RATE,
    FRAME_MS,
    CarrierDecoder,
    FrameSplitter,
    ulaw_decode,
)
from callwright.voice.end_of_turn import EndOfTurnOptions, required_silence_ms
from callwright.voice.grammar_state import GrammarState, grammar_state, words_decide
from callwright.voice.recorder import Recorder
from callwright.voice.stt.base import Transcriber, TranscriberError, Utterance
from callwright.voice.turns import Endpointer
from callwright.voice.vad import SpeechDetector
from callwright.voice.voicemail import BeepDetector, GreetingDetector, GreetingVerdict

log = logging.getLogger("callwright.listener")

# Silence before the transcriber is told the caller paused. A decode started at a gap between
# words is wasted and, Whisper decoding one utterance at a time, delays the one that counts.
# Measured (Whisper tiny.en, 5 espeak sentences, 500 ms endpointing, 2 cores): the stt share of
# the turn latency was p50 453 ms with no early decode, 286 ms from 60 ms, 119 ms from 120 ms,
# 179 ms from 200 ms.
PAUSE_AFTER_MS = 120
TURN_AUDIO_MS = 8000  # what the turn model listens to: the last 8 s of the utterance


@dataclass(frozen=True)
class SpeechStarted:
    utterance: int
    start_ms: int


@dataclass(frozen=True)
class SpeechPaused:
    """The caller has been silent ``pause_after_ms`` within an utterance: the moment to judge
    whether the turn is over. ``pause`` numbers the pauses of the utterance, so a judgement that
    arrives after the caller spoke again is recognised as stale."""

    utterance: int
    pause: int


@dataclass(frozen=True)
class PartialHeard:
    """New partial text of an utterance whose words were asked for (``want_words``)."""

    utterance: int
    voiced_ms: int
    text: str


@dataclass(frozen=True)
class SpeechSustained:
    """The utterance has reached the barge-in duration."""

    utterance: int
    voiced_ms: int
    partial_text: str | None = None  # what the recogniser has so far, where it gives partials


@dataclass(frozen=True)
class SpeechEnded:
    """End of a turn: when it was spoken (stream ms and monotonic wall times), and the
    recognition to finish for its text. ``recognition`` is None when the utterance was dropped
    or not transcribed; whoever takes the signal must ``finish`` or ``close`` it."""

    utterance: int
    recognition: Utterance | None
    start_ms: int
    end_ms: int
    speech_end_at: float
    endpoint_at: float


@dataclass(frozen=True)
class GreetingClassified:
    verdict: GreetingVerdict


@dataclass(frozen=True)
class BeepHeard:
    frequency_hz: float


@dataclass(frozen=True)
class BeepEnded:
    pass


Signal = (
    SpeechStarted
    | SpeechSustained
    | SpeechPaused
    | PartialHeard
    | SpeechEnded
    | GreetingClassified
    | BeepHeard
    | BeepEnded
)


class Listener:
    """Turns the caller's audio into signals for the session."""

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        endpointing_ms: int = 500,
        end_of_turn: EndOfTurnOptions | None = None,
        sustained_ms: int = 300,
        preroll_ms: int = 200,
        pause_after_ms: int = PAUSE_AFTER_MS,
        detect_greeting: bool = False,
        detect_beep: bool = False,
        machine_greeting_ms: int = 3000,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transcriber = transcriber
        rate = transcriber.sample_rate
        if rate not in (CARRIER_RATE, 2 * CARRIER_RATE):
            raise ValueError(f"transcriber sample rate {rate} Hz is not supported (8000 or 16000)")
        self._upsample = rate != CARRIER_RATE
        self._pause_after_ms = pause_after_ms
        self._clock = clock
        self._recorder = recorder
        self._splitter = FrameSplitter(CARRIER_FRAME_BYTES)
        self._vad = SpeechDetector(rate=CARRIER_RATE)
        # Without options the plain silence rule: every judgement leads to ``endpointing_ms``.
        self.end_of_turn = end_of_turn or EndOfTurnOptions(endpointing_ms, endpointing_ms, endpointing_ms)
        self._endpointer = Endpointer(self.end_of_turn.endpointing_ms, FRAME_MS)
        self._turn_audio: deque[bytes] = deque(maxlen=TURN_AUDIO_MS // FRAME_MS)
        self._pause_id = 0
        self._probability: float | None = None  # the turn model's judgement of the current pause
        self._grammar: GrammarState = "unknown"
        self._grammar_text: str | None = None  # the partial text the grammar state was judged on
        self._want_words = False
        self._words_coming = False  # the recogniser is decoding the pause's words
        self._interrupting = False  # this utterance stopped the agent: its speaker has more to say
        self._last_partial: str | None = None
        self._preroll: deque[bytes] = deque(maxlen=max(1, preroll_ms // FRAME_MS))
        self.sustained_ms = sustained_ms
        self.greeting = GreetingDetector(machine_greeting_ms, pause_ms=endpointing_ms) if detect_greeting else None
        self.beep = BeepDetector(sample_rate=CARRIER_RATE) if detect_beep else None
        self.expect: Expectation | None = None
        self.transcribe = True
        self.frames = 0  # frames received: the stream clock is frames * 20 ms
        self._utterances = 0
        self._utterance: Utterance | None = None
        self._upsampler: CarrierDecoder | None = None  # 8 -> 16 kHz for the current utterance
        self._paused = False  # the caller has been silent pause_after_ms in this utterance
        self._current: int | None = None
        self._dropped = False
        self._sustained_sent = False
        self._voiced_run = 0
        self.last_voiced_at: float | None = None  # wall time of the last voiced frame
        self.last_frame_at: float | None = None  # wall time the last frame arrived
        self.last_voiced_ms: int | None = None
        self._last_heard_at: float | None = None  # wall time of the current utterance's last heard frame

    @property
    def stream_ms(self) -> int:
        return self.frames * FRAME_MS

    def stream_ms_at(self, wall: float, fallback_t0: float) -> float:
        """A wall-clock time on the stream clock, anchored on the latest frame's arrival.

        Caller audio is timed by frame count and agent audio by the wall clock; this puts them
        on one timeline (recording, transcript) whatever the network delay. Before any audio
        has arrived, the stream clock is the time since ``fallback_t0``.
        """
        if self.last_frame_at is None:
            return (wall - fallback_t0) * 1000
        return self.stream_ms + (wall - self.last_frame_at) * 1000

    @property
    def in_speech(self) -> bool:
        return self._current is not None

    @property
    def current_utterance(self) -> int | None:
        return self._current

    def drop(self, utterance: int) -> None:
        """Stop transcribing ``utterance``; its end is still reported (transcript None)."""
        if self._current == utterance:
            self._dropped = True
            self._close_utterance()

    def close(self) -> None:
        """The call is over: abandon the utterance in progress, if any."""
        self._close_utterance()

    def _close_utterance(self) -> None:
        utterance, self._utterance = self._utterance, None
        self._upsampler = None
        if utterance is not None:
            try:
                utterance.close()
            except Exception:  # a provider bug must not take the inbound loop down
                log.exception("closing an utterance failed")

    def _push(self, pcm: bytes) -> None:
        if self._utterance is None:
            return
        if self._upsampler is not None:
            pcm = self._upsampler.upsample(pcm)
        try:
            self._utterance.push(pcm)
        except TranscriberError:
            log.exception("the transcriber refused audio; this utterance goes untranscribed")
            self._close_utterance()

    def partial_text(self) -> str | None:
        """The current utterance's partial text, where the recogniser gives it."""
        return self._utterance.partial() if self._utterance is not None else None

    def stop_beep_detection(self) -> None:
        self.beep = None

    def stop_greeting_detection(self) -> None:
        self.greeting = None

    def audio(self, ulaw: bytes) -> list[Signal]:
        """Take carrier audio of any length; returns the signals of the whole frames in it."""
        signals: list[Signal] = []
        for frame in self._splitter.push(ulaw):
            if self._recorder is not None:
                self._recorder.write_caller_ulaw(frame, self.stream_ms)
            signals.extend(self.frame(ulaw_decode(frame)))
        return signals

    def frame(self, pcm: bytes) -> list[Signal]:
        """One 20 ms PCM16 8 kHz frame."""
        at_ms = self.stream_ms
        self.frames += 1
        now = self.last_frame_at = self._clock()
        signals: list[Signal] = []
        speaking = self._vad.process(pcm)
        voiced = self._vad.last_voiced  # webrtcvad's raw verdict, with its 80-140 ms hangover
        self._voiced_run = self._voiced_run + 1 if voiced else 0
        self._preroll.append(pcm)
        if voiced:
            self.last_voiced_at = now
            self.last_voiced_ms = at_ms + FRAME_MS
        # Within an utterance the detector reports frames *heard* (voiced and above the
        # background): hangover frames are not, so the end of speech and the endpointing delay
        # count from the caller's real last sound, not ~130 ms after it.
        if speaking:
            self._last_heard_at = now

        if self.beep is not None:
            was_detected = self.beep.detected
            self.beep.process(pcm)
            if self.beep.detected and not was_detected:
                signals.append(BeepHeard(self.beep.frequency_hz or 0.0))
            if self.beep.ended:
                signals.append(BeepEnded())
                self.beep = None

        if self._current is None:
            if speaking:
                signals.extend(self._start(at_ms))
        else:
            self._turn_audio.append(pcm)
            if self._utterance is not None:
                self._push(pcm)

        if self.greeting is not None and (self._current is not None or self.greeting.heard_speech):
            # Judged on the same frames as the endpointer, so a pause ends both on one frame.
            verdict = self.greeting.process(at_ms, speaking if self._current is not None else voiced)
            if verdict is not None:
                signals.append(GreetingClassified(verdict))
                self.greeting = None

        if self._current is not None:
            if self._endpointer.frame(at_ms, speaking):
                signals.append(self._end())
                return signals
            signals.extend(self._track_pause(at_ms, speaking))
            if self._paused:
                self._judge_grammar()
            if not self._sustained_sent and self._endpointer.voiced_ms >= self.sustained_ms:
                self._sustained_sent = True
                signals.append(SpeechSustained(self._current, self._endpointer.voiced_ms, self.partial_text()))
            if self._want_words:
                text = self.partial_text()
                if text is not None and text != self._last_partial:
                    self._last_partial = text
                    signals.append(PartialHeard(self._current, self._endpointer.voiced_ms, text))
        return signals

    def _track_pause(self, at_ms: int, speaking: bool) -> list[Signal]:
        """Note when the caller has been silent ``pause_after_ms`` and when they speak again:
        the utterance is told (a recogniser can decode during the endpointing silence), and the
        judgement of the previous pause is forgotten."""
        if speaking:
            if self._paused:
                self._paused = False
                self._words_coming = False
                self._probability = None
                self._grammar, self._grammar_text = "unknown", None
                self._endpointer.required_ms = self.end_of_turn.endpointing_ms
                if self._utterance is not None:
                    self._utterance.resume()
        elif not self._paused and self._endpointer.silence_ms(at_ms + FRAME_MS) >= self._pause_after_ms:
            self._paused = True
            self._pause_id += 1
            if self._utterance is not None:
                self._utterance.pause()
                if words_decide(self.expect) and self.partial_text() is None:
                    self._words_coming = self._ask_words()
            assert self._current is not None
            return [SpeechPaused(self._current, self._pause_id)]
        return []

    def _judge_grammar(self) -> None:
        """Check the words so far against the expectation whenever the recogniser has new ones."""
        text = self.partial_text()
        if text is None or text == self._grammar_text:
            return
        self._grammar_text = text
        self._grammar = grammar_state(self.expect, text)
        self._update_required()

    def interrupted_by(self, utterance: int) -> None:
        """``utterance`` stopped the agent. Whoever interrupts says more than their first words
        ("Sorry, | I need to cancel"): it never ends on the short silence, only on the agent's
        plain endpointing or later."""
        if utterance == self._current:
            self._interrupting = True
            self._update_required()

    def _update_required(self) -> None:
        self._endpointer.required_ms = self._required_ms()
        if self._interrupting:
            self._endpointer.required_ms = max(self._endpointer.required_ms, self.end_of_turn.endpointing_ms)

    def _required_ms(self) -> int:
        probability = self._probability
        if self._grammar_text is None and words_decide(self.expect):
            # The words settle this answer: the model alone must not end the turn before they are
            # known, and while they are being decoded (a slow machine) the caller may still be
            # mid-number, so the turn waits for them, up to the long silence.
            if self._words_coming:
                return self.end_of_turn.incomplete_silence_ms
            probability = None
        return required_silence_ms(probability, self._grammar, self.end_of_turn)

    def judge(self, utterance: int, pause: int, probability: float) -> SpeechEnded | None:
        """The turn model's judgement of pause ``pause`` of ``utterance``. Ignored when stale (the
        caller spoke again, or the turn already ended); returns the end of the turn when the
        silence so far already suffices under the new judgement."""
        if utterance != self._current or pause != self._pause_id or not self._paused:
            return None
        self._probability = probability
        self._update_required()
        if self._endpointer.silence_ms(self.stream_ms) >= self._endpointer.required_ms:
            return self._end()
        return None

    def turn_audio(self) -> bytes:
        """The current utterance's last 8 s (PCM16 at 8 kHz, with its pre-roll), for the turn model."""
        return b"".join(self._turn_audio)

    def _ask_words(self) -> bool:
        if self._utterance is None:
            return False
        try:
            coming = self._utterance.request_partial()
        except Exception:
            log.exception("asking the recogniser for partial text failed")
            return False
        if coming:
            self._update_required()
        return coming

    def want_words(self, utterance: int) -> bool:
        """Report the partial text of ``utterance`` as it changes (``PartialHeard``): speech over
        the agent is an interruption or a backchannel by its words. Returns whether words can
        come: False when the recogniser gives no partial text even when asked."""
        if utterance != self._current or self._utterance is None:
            return False
        self._want_words = True
        try:
            return self._utterance.request_partial()
        except Exception:  # a provider bug: no words, the duration decides
            log.exception("asking the recogniser for partial text failed")
            return False

    def _start(self, at_ms: int) -> list[Signal]:
        self._utterances += 1
        self._current = self._utterances
        self._dropped = False
        self._sustained_sent = False
        run = max(1, min(self._voiced_run, len(self._preroll)))
        start_ms = at_ms - (run - 1) * FRAME_MS
        # The VAD confirmed speech after a run of voiced frames; those count as heard.
        self._endpointer.start(start_ms, voiced_ms=(run - 1) * FRAME_MS)
        self._endpointer.last_voiced_ms = at_ms  # frame() adds this frame
        self._paused = False
        self._pause_id = 0
        self._probability = None
        self._grammar, self._grammar_text = "unknown", None
        self._want_words = False
        self._words_coming = False
        self._interrupting = False
        self._last_partial = None
        self._turn_audio.clear()
        self._turn_audio.extend(self._preroll)
        if self.transcribe:
            try:
                self._utterance = self._transcriber.utterance(self.expect)
            except TranscriberError:
                log.exception("the transcriber could not start an utterance; it goes untranscribed")
                self._utterance = None
            self._upsampler = CarrierDecoder() if self._upsample else None
            for pcm in self._preroll:
                self._push(pcm)
        return [SpeechStarted(self._current, start_ms)]

    def end_now(self) -> SpeechEnded | None:
        """Close the current utterance without waiting (frames stopped arriving)."""
        return self._end() if self._current is not None else None

    def _end(self) -> SpeechEnded:
        assert self._current is not None
        endpoint_at = self._clock()
        recognition = self._utterance if not self._dropped else None
        start_ms = self._endpointer.speech_start_ms or 0
        end_ms = self._endpointer.last_voiced_ms or start_ms
        signal = SpeechEnded(
            utterance=self._current,
            recognition=recognition,
            start_ms=start_ms,
            end_ms=end_ms,
            speech_end_at=self._last_heard_at if self._last_heard_at is not None else endpoint_at,
            endpoint_at=endpoint_at,
        )
        self._current = None
        self._utterance = None  # handed over with the signal
        self._upsampler = None
        self._paused = False
        self._endpointer.reset()
        self._vad.reset()
        return signal
