"""What post-call analysis reads and what it produces, shared by every engine.

An engine is pure: it gets everything it needs in one ``AnalysisInput`` (no database) and returns
an ``Analysis`` whose fields are exactly the ``analysis`` block of the ``call.analyzed`` webhook
(seed 003), plus three fields saying which engine produced it and why a fallback happened.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from callwright.domain.agent import AnalysisPlan

Sentiment = Literal["Positive", "Neutral", "Negative"]
Rating = Literal["Complete", "Partial", "Incomplete"]
Engine = Literal["offline", "llm"]

SENTIMENTS: tuple[Sentiment, ...] = ("Positive", "Neutral", "Negative")
RATINGS: tuple[Rating, ...] = ("Complete", "Partial", "Incomplete")

# The seed-003 fields, in the order a webhook shows them; ``engine``/``model``/``error`` are ours.
WEBHOOK_FIELDS: tuple[str, ...] = (
    "call_summary",
    "user_sentiment",
    "call_successful",
    "in_voicemail",
    "agent_task_completion_rating",
    "call_completion_rating",
    "custom_analysis_data",
)


@dataclass(frozen=True)
class AnalysisInput:
    """Everything known about one finished call.

    ``transcript`` turns are ``{"role": "agent"|"user", "text", "start_ms", "end_ms", "interrupted"}``
    (keyed digits appear as the digits). ``results`` are the values the dialogue collected, with the
    flow's end ``outcome`` under ``"outcome"`` when a flow ran. ``started_at`` anchors relative
    dates ("wednesday") when a ``date`` result is normalised; without it, now is used.
    """

    transcript: list[dict[str, Any]]
    results: dict[str, Any]
    status: str
    end_reason: str | None
    answered_by: str | None = None
    duration_ms: int | None = None
    plan: AnalysisPlan = field(default_factory=AnalysisPlan)
    prompt: str = ""
    language: str = "en-US"
    started_at: datetime | None = None

    @property
    def outcome(self) -> str | None:
        value = self.results.get("outcome")
        return str(value) if value is not None else None

    def turns(self, role: str) -> list[str]:
        """The non-empty texts spoken by ``role``, in order."""
        return [text for turn in self.transcript if turn.get("role") == role and (text := _text(turn))]

    def transcript_text(self) -> str:
        """The transcript as ``Agent: ...`` / ``User: ...`` lines, as webhooks carry it."""
        lines = []
        for turn in self.transcript:
            text = _text(turn)
            if text:
                speaker = "Agent" if turn.get("role") == "agent" else "User"
                lines.append(f"{speaker}: {text}")
        return "\n".join(lines)


def _text(turn: dict[str, Any]) -> str:
    return " ".join(str(turn.get("text") or "").split())


def in_voicemail(item: AnalysisInput) -> bool:
    """The carrier's and the session's signals, never a guess from the words: every engine uses this."""
    answered_by = (item.answered_by or "").lower()
    return (
        item.status == "voicemail"
        or (item.end_reason or "").startswith("voicemail")
        or answered_by.startswith(("machine", "fax"))
    )


@dataclass(frozen=True)
class Analysis:
    """One call's analysis. ``error`` says why the LLM engine fell back (``None`` otherwise)."""

    call_summary: str | None
    user_sentiment: Sentiment | None
    call_successful: bool | None
    in_voicemail: bool
    agent_task_completion_rating: Rating
    call_completion_rating: Rating
    custom_analysis_data: dict[str, Any]
    engine: Engine = "offline"
    model: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-safe (custom values are str, int, float, bool or None)."""
        return asdict(self)


class Analyzer(Protocol):
    """A post-call analysis engine."""

    async def analyze(self, item: AnalysisInput) -> Analysis: ...
