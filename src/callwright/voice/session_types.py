"""What goes into a ``CallSession`` (its options) and what comes out (result and live events)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from callwright.voice.end_of_turn import EndOfTurnOptions
from callwright.voice.latency import LatencyReport
from callwright.voice.recorder import Recorder

SessionStatus = Literal["completed", "voicemail", "failed", "canceled"]
Role = Literal["agent", "user"]
VoicemailAction = Literal["hangup", "leave_message"]


@dataclass(frozen=True)
class SessionConfig:
    """Per-call options, mostly from the agent (API.md: ``turn_taking``, ``voicemail``...)."""

    endpointing_ms: int = 500
    """Silence after speech that ends the caller's turn. Shorter answers faster but cuts
    people off mid-thought; 500 ms is the usual compromise."""

    end_of_turn: EndOfTurnOptions | None = None
    """The silences that end a turn by what is known of the utterance (turn model, grammar);
    None: ``endpointing_ms`` of silence, always."""

    allow_interruptions: bool = True
    """Whether caller speech (or a key press) while the agent talks stops the agent."""

    interruption_min_words: int = 1
    """Words needed before speech counts as an interruption, when the recogniser reports
    partial text (the embedded one does not; then the duration rule alone applies)."""

    interruption_min_ms: int = 300
    """Voiced speech needed before it counts as an interruption: shorter is a cough or an
    "uh-huh", and is ignored."""

    max_duration_s: float = 600.0
    """Hard cap on the call; reaching it ends the call with ``max_duration``."""

    end_call_after_silence_s: float = 20.0
    """How long the agent waits for an answer (nothing said, nothing keyed) before hanging
    up with ``silence_timeout``."""

    voicemail_action: VoicemailAction = "hangup"
    """On an answering machine: hang up, or leave ``voicemail_message`` after the beep."""

    voicemail_message: str = ""
    """The message to leave, already rendered from its template."""

    answered_by: str | None = None
    """The carrier's answering-machine verdict: ``human``, ``machine_*`` (Twilio's values) or
    None when unknown. ``machine_*`` skips the conversation and goes to voicemail handling."""

    detect_voicemail: bool = False
    """Listen for a machine greeting and a beep at the start of the call (outbound calls
    where the carrier gave no verdict)."""

    greeting_delay_ms: int = 0
    """Pause between the stream starting and the agent's greeting."""

    machine_greeting_ms: int = 3000
    """Speech this long at the start of the call without a pause means a machine greeting."""

    voicemail_window_s: float = 30.0
    """How long after the start a beep still means voicemail."""

    voicemail_silence_ms: int = 1500
    """In voicemail handling without a beep: silence after the greeting that means it is
    recording. Also the wait when no greeting is heard at all."""

    voicemail_max_wait_s: float = 30.0
    """Give up waiting for the beep after this long and act anyway."""

    dtmf_timeout_ms: int = 1500
    """Keyed digits end the turn after this long without another digit."""

    drain_timeout_s: float = 30.0
    """Longest wait for the carrier to confirm the last words were played before hanging up."""


@dataclass(frozen=True)
class TranscriptTurn:
    """One turn of the conversation record (API.md ``transcript``); times are stream ms."""

    role: Role
    text: str
    start_ms: int
    end_ms: int
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "text": self.text,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "interrupted": self.interrupted,
        }


@dataclass(frozen=True)
class TranscriptEvent:
    """Live: the agent started a sentence, or the caller finished a turn (or was cut)."""

    role: Role
    text: str
    interrupted: bool = False
    dtmf: str = ""


@dataclass(frozen=True)
class StateEvent:
    """Live: ``started``, ``speaking``, ``listening``, ``interrupted``, ``voicemail``,
    ``ended``; ``detail`` says more (the end reason, the voicemail cue...)."""

    state: str
    detail: str = ""


@dataclass(frozen=True)
class ToolEvent:
    """Live: a tool call ``started`` or ``finished`` (with ``ok`` and its ``result``)."""

    name: str
    kind: str
    phase: Literal["started", "finished"]
    arguments: dict[str, Any] = field(default_factory=dict)
    ok: bool | None = None
    result: Any = None


SessionEvent = TranscriptEvent | StateEvent | ToolEvent
EventHandler = Callable[[SessionEvent], None]


@dataclass
class SessionResult:
    """How the call went. Times: ``started_at``/``ended_at`` are wall-clock (epoch seconds)."""

    status: SessionStatus
    end_reason: str
    transcript: list[TranscriptTurn] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    recording: Recorder | None = None
    latency: LatencyReport = field(default_factory=LatencyReport)
    started_at: float = 0.0
    ended_at: float = 0.0
    duration_ms: int = 0
    error: str | None = None
    frame_lateness_ms: list[float] = field(default_factory=list)
    stream_sid: str = ""
    call_sid: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Every tool call of the conversation: id, name, kind, arguments, start_ms/end_ms (stream
    clock), ok, result, duration_ms."""
    transferred_to: str | None = None
