"""Response latency per turn: the caller's last voiced frame to the agent's first audio frame.

Every step stamps a monotonic clock; the breakdown is consecutive intervals, so the parts add
up to the total and "platform overhead" is whatever the named parts do not explain (queues,
task switches, sentence splitting, encoding). All values are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMPONENTS = ("endpointing", "stt", "dialogue", "tools", "tts", "overhead", "total")


@dataclass
class TurnTimer:
    """Timestamps (seconds, monotonic) for one caller turn and the agent's answer.

    - ``speech_end``: the caller's last voiced frame arrived (or the last digit was keyed);
    - ``endpoint``: the turn was declared over;
    - ``stt_done``: the transcriber returned its text;
    - ``dialogue_first``: the dialogue produced its first event for the answer;
    - ``tts_start`` / ``tts_first_byte``: the first sentence went to the synthesizer / came back;
    - ``first_audio``: the first agent frame of the answer was sent to the carrier.
    """

    turn: int
    speech_end: float | None = None
    endpoint: float | None = None
    stt_done: float | None = None
    dialogue_first: float | None = None
    tts_start: float | None = None
    tts_first_byte: float | None = None
    first_audio: float | None = None
    tools: float = 0.0
    """Seconds of tool calls the caller waited on before the first words (no filler spoken)."""

    @property
    def complete(self) -> bool:
        return self.speech_end is not None and self.first_audio is not None

    def breakdown(self) -> TurnLatency | None:
        """The per-component figures, or None when the answer never reached the carrier."""
        if self.speech_end is None or self.first_audio is None:
            return None
        endpoint = self.endpoint if self.endpoint is not None else self.speech_end
        stt_done = self.stt_done if self.stt_done is not None else endpoint
        dialogue_first = self.dialogue_first if self.dialogue_first is not None else stt_done
        tts = 0.0
        if self.tts_start is not None and self.tts_first_byte is not None:
            tts = _ms(self.tts_first_byte - self.tts_start)
        tools = _ms(self.tools)
        parts = {
            "endpointing": _ms(endpoint - self.speech_end),
            "stt": _ms(stt_done - endpoint),
            "dialogue": max(0.0, _ms(dialogue_first - stt_done) - tools),
            "tools": tools,
            "tts": tts,
        }
        total = _ms(self.first_audio - self.speech_end)
        overhead = max(0.0, total - sum(parts.values()))
        return TurnLatency(turn=self.turn, total=total, overhead=overhead, **parts)


@dataclass(frozen=True)
class TurnLatency:
    """One turn's response latency and where it went (milliseconds)."""

    turn: int
    endpointing: float
    stt: float
    dialogue: float
    tts: float
    tools: float
    overhead: float
    total: float

    def to_dict(self) -> dict[str, float | int]:
        return {"turn": self.turn, **{f"{name}_ms": round(getattr(self, name), 2) for name in COMPONENTS}}


@dataclass(frozen=True)
class ComponentStats:
    p50: float
    p95: float


@dataclass
class LatencyReport:
    """All turns of a call and their summary (p50/p95 per component)."""

    turns: list[TurnLatency] = field(default_factory=list)
    frame_lateness_ms: list[float] = field(default_factory=list)
    """Per agent frame sent: how late it left against its pacing deadline (``Playout``)."""

    @property
    def n(self) -> int:
        return len(self.turns)

    def summary(self) -> dict[str, ComponentStats]:
        if not self.turns:
            return {}
        return {
            name: ComponentStats(
                p50=percentile([getattr(t, name) for t in self.turns], 50),
                p95=percentile([getattr(t, name) for t in self.turns], 95),
            )
            for name in COMPONENTS
        }

    def to_dict(self) -> dict[str, Any]:
        """The conversation record's ``latency`` field: ``{"n", "turns": [{"turn", "total_ms",
        ...}], "summary": {"total_ms": {"p50", "p95"}, ...}}``, plus ``frame_lateness_ms``
        (``{"n", "p50", "p99", "max"}``) when agent audio was sent."""
        out: dict[str, Any] = {
            "n": self.n,
            "turns": [t.to_dict() for t in self.turns],
            "summary": {
                f"{name}_ms": {"p50": round(s.p50, 2), "p95": round(s.p95, 2)} for name, s in self.summary().items()
            },
        }
        if self.frame_lateness_ms:
            late = self.frame_lateness_ms
            out["frame_lateness_ms"] = {
                "n": len(late),
                "p50": round(percentile(late, 50), 2),
                "p99": round(percentile(late, 99), 2),
                "max": round(max(late), 2),
            }
        return out


class LatencyTracker:
    """Hands out a timer per caller turn and keeps the finished breakdowns."""

    def __init__(self) -> None:
        self.report = LatencyReport()
        self.current: TurnTimer | None = None
        self._turns = 0

    def begin(self, speech_end: float) -> TurnTimer:
        """A caller turn ended its speech at ``speech_end``; later stamps go on this timer."""
        self._turns += 1
        self.current = TurnTimer(turn=self._turns, speech_end=speech_end)
        return self.current

    def first_audio(self, at: float) -> None:
        """The first frame of the agent's answer was sent: close the current turn."""
        timer = self.current
        if timer is None or timer.first_audio is not None:
            return
        timer.first_audio = at
        result = timer.breakdown()
        if result is not None:
            self.report.turns.append(result)
        self.current = None

    def abandon(self) -> None:
        """The answer never came (barge-in, hang-up): drop the open timer."""
        self.current = None


def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default method) without numpy."""
    if not values:
        return 0.0
    data = sorted(values)
    rank = (len(data) - 1) * pct / 100
    lo = int(rank)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def _ms(seconds: float) -> float:
    return max(0.0, seconds * 1000)
