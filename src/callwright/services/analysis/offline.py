"""The offline analysis engine: rules over the call's signals, transcript and collected results.

It needs no model, so every call gets an analysis on the embedded defaults, and it is the LLM
engine's fallback. Each answer comes from evidence, never a guess:

- ``custom_analysis_data``: each declared result field's collected value, coerced to its type
  (``coerce``); fields the plan does not declare are left out.
- ``in_voicemail``: the carrier's and the session's signals (``base.in_voicemail``).
- ``user_sentiment`` (when ``plan.sentiment``): a lexicon over the caller's turns (``sentiment``).
- ``call_summary`` (when ``plan.summary``): extractive, at most four short sentences: how the
  agent opened, what the user answered (the collected results in words), how the call ended.
- ``call_completion_rating``: Complete when the agent ended the call normally (status
  ``completed``, end reason ``agent_hangup``, and the flow's outcome, if any, is not an error
  such as ``flow_error``/``no_answer``/``no_usable_answer``); Incomplete when it never connected,
  reached voicemail, or the caller never spoke (nor keyed, nor answered anything); Partial
  otherwise (the caller hung up, went silent, the call hit its maximum duration, the flow failed).
- ``agent_task_completion_rating``: with declared fields, Complete when all have a value, Partial
  when some, Incomplete when none. Without, Complete when the call ended normally (as above),
  Partial when the caller took part but it did not, Incomplete otherwise.
- ``call_successful``: ``plan.success_criteria`` evaluated by the rule language in ``criteria``
  (e.g. "confirmed is yes and verification_code is collected") against the collected results
  and ``outcome``/``status``/``end_reason``/``answered_by``/``in_voicemail``. When there are no
  criteria, or the text is not in that language, the call is successful when the task rating is
  Complete and the call completed (status ``completed``, not in voicemail).
"""

from __future__ import annotations

import re
from typing import Any

from callwright.services.analysis import criteria
from callwright.services.analysis.base import Analysis, AnalysisInput, Rating, in_voicemail
from callwright.services.analysis.coerce import custom_data, to_text
from callwright.services.analysis.sentiment import user_sentiment

# Flow outcomes that mean the flow did not reach one of its own ends.
ABNORMAL_OUTCOMES = frozenset({"flow_error", "no_answer", "no_usable_answer"})
NEVER_CONNECTED = frozenset({"no_answer", "busy", "failed", "canceled"})

_QUOTE_CHARS = 160
_VALUE_CHARS = 80


class OfflineAnalyzer:
    """Rules only; deterministic for a given input."""

    async def analyze(self, item: AnalysisInput) -> Analysis:
        return analyze(item)


def analyze(item: AnalysisInput) -> Analysis:
    """The offline analysis of one call (synchronous: it is pure computation)."""
    custom = custom_data(item.plan.results, item.results, item.started_at)
    voicemail = in_voicemail(item)
    task = task_rating(item, custom)
    return Analysis(
        call_summary=summarize(item, custom) if item.plan.summary else None,
        user_sentiment=user_sentiment(item.turns("user")) if item.plan.sentiment else None,
        call_successful=successful(item, custom, task),
        in_voicemail=voicemail,
        agent_task_completion_rating=task,
        call_completion_rating=completion_rating(item),
        custom_analysis_data=custom,
        engine="offline",
    )


def collected(item: AnalysisInput, custom: dict[str, Any]) -> dict[str, Any]:
    """What the dialogue collected (declared fields typed), without the flow's ``outcome``."""
    values = {k: v for k, v in item.results.items() if k != "outcome" and not k.startswith("_")}
    values.update(custom)
    return values


def caller_took_part(item: AnalysisInput) -> bool:
    """The caller said or keyed something, or the dialogue collected an answer."""
    if item.turns("user"):
        return True
    return any(v is not None and v != "" for k, v in item.results.items() if k != "outcome")


def ended_normally(item: AnalysisInput) -> bool:
    """The agent hung up on a completed call and the flow (if any) reached one of its ends."""
    return (
        item.status == "completed"
        and item.end_reason == "agent_hangup"
        and (item.outcome or "") not in ABNORMAL_OUTCOMES
        and not in_voicemail(item)
    )


def completion_rating(item: AnalysisInput) -> Rating:
    if in_voicemail(item) or item.status in NEVER_CONNECTED or not caller_took_part(item):
        return "Incomplete"
    return "Complete" if ended_normally(item) else "Partial"


def task_rating(item: AnalysisInput, custom: dict[str, Any]) -> Rating:
    if item.plan.results:
        filled = sum(1 for value in custom.values() if value is not None)
        if filled == len(custom):
            return "Complete"
        return "Partial" if filled else "Incomplete"
    if ended_normally(item):
        return "Complete"
    if caller_took_part(item) and not in_voicemail(item):
        return "Partial"
    return "Incomplete"


def successful(item: AnalysisInput, custom: dict[str, Any], task: Rating) -> bool:
    if item.plan.success_criteria and item.plan.success_criteria.strip():
        values: dict[str, Any] = {
            "status": item.status,
            "end_reason": item.end_reason,
            "answered_by": item.answered_by,
            "in_voicemail": in_voicemail(item),
            **item.results,
            **custom,
        }
        verdict = criteria.evaluate(item.plan.success_criteria, values)
        if verdict is not None:
            return verdict
    return task == "Complete" and item.status == "completed" and not in_voicemail(item)


# --- the extractive summary -------------------------------------------------------------------


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]


def _clip(text: str, limit: int) -> str:
    """Whole sentences up to ``limit`` characters, else words and an ellipsis."""
    taken = ""
    for sentence in _sentences(text):
        candidate = f"{taken} {sentence}".strip()
        if len(candidate) > limit:
            break
        taken = candidate
    if taken:
        return taken
    cut = text[:limit].rsplit(" ", 1)[0] if len(text) > limit else text
    return cut.rstrip(" ,;:") + ("…" if len(text) > limit else "")


def _quote(text: str) -> str:
    clipped = _clip(text, _QUOTE_CHARS)
    end = "" if clipped[-1:] in ".!?…" else "."
    return f'"{clipped}{end}"'


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = round(ms / 1000)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _after(item: AnalysisInput) -> str:
    return f" after {_duration(item.duration_ms)}" if item.duration_ms is not None else ""


def _opening(item: AnalysisInput) -> str | None:
    agent = item.turns("agent")
    if agent:
        return f"The agent opened with: {_quote(agent[0])}"
    if item.prompt.strip():
        return f"The agent's task: {_quote(item.prompt)}"
    return None


def _answers(item: AnalysisInput, custom: dict[str, Any]) -> str | None:
    parts = []
    for name, value in collected(item, custom).items():
        text = to_text(value)
        if text is not None:
            parts.append(f"{name}: {_clip(text, _VALUE_CHARS)}")
    if parts:
        return "The user's answers: " + "; ".join(parts) + "."
    user = item.turns("user")
    if user:
        quote = next((t for t in user if len(t.split()) >= 3), user[0])
        return f"The user said: {_quote(quote)}"
    return None


def _ending(item: AnalysisInput) -> str:
    after = _after(item)
    reason = item.end_reason or ""
    if item.status == "no_answer":
        return "No one answered."
    if item.status == "busy":
        return "The line was busy."
    if item.status == "canceled":
        return "The call was canceled before it connected." if not item.transcript else f"The call was canceled{after}."
    if item.status == "failed" and not item.transcript:
        return "The call could not be connected."
    if in_voicemail(item):
        if reason == "voicemail_message":
            return f"The call reached voicemail and the agent left a message{after}."
        return "The call reached voicemail."
    outcome = f', with outcome "{item.outcome}"' if item.outcome else ""
    if reason == "agent_hangup":
        return f"The call ended when the agent hung up{after}{outcome}."
    if reason == "user_hangup":
        return f"The user hung up{after}{outcome}."
    if reason == "silence_timeout":
        return f"The call ended{after} because the user stayed silent{outcome}."
    if reason == "max_duration":
        return f"The call was cut off at its maximum duration{after}{outcome}."
    if item.status == "failed":
        return f"The call failed{after}" + (f" ({reason})" if reason else "") + f"{outcome}."
    return f"The call ended{after}" + (f" ({reason})" if reason else "") + f"{outcome}."


def summarize(item: AnalysisInput, custom: dict[str, Any]) -> str:
    """Who said what and how it ended, from the record alone (deterministic)."""
    ending = _ending(item)
    connected = item.status not in NEVER_CONNECTED or bool(item.transcript)
    if not connected:
        return ending
    parts = [_opening(item), None if in_voicemail(item) else _answers(item, custom), ending]
    if not in_voicemail(item) and not caller_took_part(item):
        parts.insert(2, "The user did not speak.")
    return " ".join(p for p in parts if p)
