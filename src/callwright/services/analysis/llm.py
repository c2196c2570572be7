"""The LLM analysis engine: any OpenAI-compatible server, answering in a JSON schema built from
the agent's analysis plan.

A model reads free text that rules cannot (a summary in words, success criteria in prose), but it
can fail, time out or answer nonsense, and an analysis must never be lost. So the reply is
validated field by field, and on any failure the fallback engine (offline by default) answers,
with ``error`` saying why. Some answers are never the model's:

- ``in_voicemail`` comes from the carrier's and the session's signals;
- a custom field the dialogue collected keeps the collected value (it was parsed from the
  caller's answer to that very question); the model fills only the ones left empty;
- a call with an empty transcript (never answered, busy) is not sent: there is nothing to read,
  so the fallback engine answers, with no ``error``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import Any

from openai import APIConnectionError, APIStatusError, APITimeoutError, AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema

from callwright.domain.agent import AnalysisPlan, ResultField
from callwright.services.analysis.base import (
    RATINGS,
    SENTIMENTS,
    Analysis,
    AnalysisInput,
    Analyzer,
    in_voicemail,
)
from callwright.services.analysis.coerce import custom_data
from callwright.services.analysis.offline import OfflineAnalyzer

logger = logging.getLogger(__name__)

SCHEMA_NAME = "call_analysis"
MAX_PROMPT_CHARS = 4_000
MAX_TRANSCRIPT_CHARS = 48_000

SYSTEM_PROMPT = """You analyse a finished phone call between an AI agent and a person.
Answer only with JSON that matches the schema. Base every answer on the call record you are given.
- call_summary: two or three sentences: why the agent called, what the person said or decided, how the call ended.
- user_sentiment: the person's attitude during the call: Positive, Neutral or Negative.
- call_successful: whether the call met the success criteria; without criteria, whether the agent achieved its task.
- in_voicemail: whether the call reached a voicemail or answering machine.
- agent_task_completion_rating: Complete if the agent did everything its instructions asked, Partial if some of it,
  Incomplete if none of it.
- call_completion_rating: Complete if the conversation reached a natural end, Partial if it was cut short
  (the person hung up, went silent, time ran out), Incomplete if there was no real conversation.
- custom_analysis_data: each field as stated or clearly implied in the call, in its type; null when not known."""

_JSON_TYPES = {"string": "string", "number": "number", "boolean": "boolean", "enum": "string", "date": "string"}


class ReplyError(ValueError):
    """The model's reply does not fit the schema."""


class LlmAnalysisError(RuntimeError):
    """The model failed and there is no fallback engine."""


def _custom_property(field: ResultField) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": [_JSON_TYPES[field.type], "null"]}
    description = field.description.strip()
    if field.type == "date":
        description = f"{description} (an ISO date, YYYY-MM-DD)".strip()
    if field.type == "enum":
        prop["enum"] = [*dict.fromkeys(field.enum or []), None]
    if description:
        prop["description"] = description
    return prop


def analysis_schema(plan: AnalysisPlan) -> dict[str, Any]:
    """The strict JSON schema of a reply: seed 003's fields (summary and sentiment only when the
    plan asks) and one typed, nullable property per declared result field."""
    props: dict[str, Any] = {}
    if plan.summary:
        props["call_summary"] = {"type": "string"}
    if plan.sentiment:
        props["user_sentiment"] = {"type": "string", "enum": list(SENTIMENTS)}
    props["call_successful"] = {"type": "boolean"}
    props["in_voicemail"] = {"type": "boolean"}
    props["agent_task_completion_rating"] = {"type": "string", "enum": list(RATINGS)}
    props["call_completion_rating"] = {"type": "string", "enum": list(RATINGS)}
    fields = {f.name: _custom_property(f) for f in plan.results}
    props["custom_analysis_data"] = {
        "type": "object",
        "properties": fields,
        "required": list(fields),
        "additionalProperties": False,
    }
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _middle_cut(text: str, limit: int) -> str:
    """Keep the start and the end (how the call began and how it ended) of a long text."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters left out ...]\n{text[-half:]}"


def build_messages(item: AnalysisInput) -> list[ChatCompletionMessageParam]:
    """The system instructions and one user message holding the whole call record."""
    duration = f"{item.duration_ms / 1000:.0f} s" if item.duration_ms is not None else "unknown"
    facts = (
        f"status={item.status}; end_reason={item.end_reason or 'unknown'}; "
        f"answered_by={item.answered_by or 'unknown'}; duration={duration}; language={item.language}"
    )
    collected = {k: v for k, v in item.results.items() if not k.startswith("_")}
    sections = [f"Call facts: {facts}"]
    if item.prompt.strip():
        sections.append(f"Agent instructions:\n{_middle_cut(item.prompt.strip(), MAX_PROMPT_CHARS)}")
    sections.append(
        "Values the agent collected during the call (JSON):\n"
        + json.dumps(collected, ensure_ascii=False, default=str)
    )
    criteria = (item.plan.success_criteria or "").strip()
    sections.append(f"Success criteria: {criteria or 'none given'}")
    if item.plan.results:
        lines = []
        for field in item.plan.results:
            line = f"- {field.name} ({field.type})"
            if field.description:
                line += f": {field.description}"
            if field.enum:
                line += f" [one of: {', '.join(field.enum)}]"
            lines.append(line)
        sections.append("Custom fields to extract:\n" + "\n".join(lines))
    sections.append("Transcript:\n" + _middle_cut(item.transcript_text(), MAX_TRANSCRIPT_CHARS))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(sections)},
    ]


def _choice(data: dict[str, Any], key: str, options: tuple[str, ...]) -> Any:
    value = data.get(key)
    if isinstance(value, str):
        for option in options:
            if value.strip().lower() == option.lower():
                return option
    raise ReplyError(f"{key} is not one of {', '.join(options)}")


def _json_object(content: str | None) -> dict[str, Any]:
    text = (content or "").strip()
    if text.startswith("```"):  # servers without structured output often fence their JSON
        text = text.strip("`").removeprefix("json").strip()
    if not text:
        raise ReplyError("empty reply")
    try:
        data = json.loads(text)
    except ValueError:
        raise ReplyError("reply is not JSON") from None
    if not isinstance(data, dict):
        raise ReplyError("reply is not a JSON object")
    return data


def parse_reply(content: str | None, item: AnalysisInput, model: str) -> Analysis:
    """Validate the model's JSON against the plan; raise ``ReplyError`` on any mismatch."""
    data = _json_object(content)
    plan = item.plan
    summary: str | None = None
    if plan.summary:
        raw = data.get("call_summary")
        if not isinstance(raw, str) or not raw.strip():
            raise ReplyError("call_summary is not a non-empty string")
        summary = " ".join(raw.split())
    sentiment = _choice(data, "user_sentiment", SENTIMENTS) if plan.sentiment else None
    successful = data.get("call_successful")
    if not isinstance(successful, bool):
        raise ReplyError("call_successful is not a boolean")
    task = _choice(data, "agent_task_completion_rating", RATINGS)
    completion = _choice(data, "call_completion_rating", RATINGS)
    extracted = data.get("custom_analysis_data", {})
    if not isinstance(extracted, dict):
        raise ReplyError("custom_analysis_data is not an object")
    from_flow = custom_data(plan.results, item.results, item.started_at)
    from_model = custom_data(plan.results, extracted, item.started_at)
    custom = {name: value if value is not None else from_model[name] for name, value in from_flow.items()}
    return Analysis(
        call_summary=summary,
        user_sentiment=sentiment,
        call_successful=successful,
        in_voicemail=in_voicemail(item),
        agent_task_completion_rating=task,
        call_completion_rating=completion,
        custom_analysis_data=custom,
        engine="llm",
        model=model,
    )


def _reason(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, APITimeoutError | TimeoutError):
        return f"timeout after {timeout_s:g} s"
    if isinstance(exc, APIConnectionError):
        return "cannot connect to the model server"
    if isinstance(exc, APIStatusError):
        return f"model server answered HTTP {exc.status_code}"
    if isinstance(exc, json.JSONDecodeError):
        return "invalid reply: the response body is not JSON"
    if isinstance(exc, ReplyError):
        return f"invalid reply: {exc}"
    return f"{type(exc).__name__}: {exc}"[:200]


class LlmAnalyzer:
    """Post-call analysis by a model on an OpenAI-compatible server, with a fallback engine.

    ``fallback=None`` makes a failure raise ``LlmAnalysisError`` instead (for a caller that
    prefers to retry later). A client is opened per analysis, so the analyzer is safe to share
    across event loops.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        timeout_s: float = 30,
        fallback: Analyzer | None = OfflineAnalyzer(),
        max_retries: int = 1,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.model = model
        self.timeout_s = timeout_s
        self.fallback = fallback
        self.max_retries = max_retries

    async def analyze(self, item: AnalysisInput) -> Analysis:
        if not item.turns("user") and not item.turns("agent"):
            return await (self.fallback or OfflineAnalyzer()).analyze(item)
        try:
            return await self._ask(item)
        except Exception as exc:
            reason = _reason(exc, self.timeout_s)
            logger.warning("LLM analysis failed (%s); %s", reason, "falling back" if self.fallback else "no fallback")
            if self.fallback is None:
                raise LlmAnalysisError(reason) from exc
            return replace(await self.fallback.analyze(item), error=reason)

    async def _ask(self, item: AnalysisInput) -> Analysis:
        response_format: ResponseFormatJSONSchema = {
            "type": "json_schema",
            "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": analysis_schema(item.plan)},
        }
        # The client's timeout bounds each wait for bytes; this bounds the whole exchange.
        deadline = self.timeout_s * (self.max_retries + 1) + 5
        async with (
            AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key or "unused",
                timeout=self.timeout_s,
                max_retries=self.max_retries,
            ) as client,
            asyncio.timeout(deadline),
        ):
            completion = await client.chat.completions.create(
                model=self.model,
                messages=build_messages(item),
                temperature=0,
                response_format=response_format,
            )
        if not completion.choices:
            raise ReplyError("no choices in the reply")
        message = completion.choices[0].message
        if getattr(message, "refusal", None):
            raise ReplyError("the model refused")
        return parse_reply(message.content, item, self.model)
