"""The agent editor's fields: one table of every setting (where it sits in the agent, how a form
value becomes JSON, its default), so the template, the parser and the error mapping agree.

A form value that cannot be converted (``"abc"`` for a number) is passed on as typed, so the
refusal comes from the same pydantic models the API validates with, in the same words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from pydantic import BaseModel, ValidationError

from callwright.domain.agent import (
    AgentSettings,
    AnalysisPlan,
    DynamicContext,
    DynamicContextAuth,
    LlmDialogueConfig,
    LlmFallback,
    PhoneConfig,
    RetryPolicy,
    TranscriberConfig,
    TurnTaking,
    Voice,
    VoicemailConfig,
)
from callwright.services.errors import InvalidInput

Kind = Literal["text", "textarea", "int", "float", "bool", "select", "lines", "numbers", "json", "checks", "secret"]
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class FormField:
    """One input: ``path`` is where its value goes in the agent (``("voice", "speed")``)."""

    path: tuple[str, ...]
    label: str
    kind: Kind
    default: Any = None
    choices: tuple[str, ...] = ()
    hint: str = ""
    engine: str | None = None  # dialogue fields: shown for this engine only

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def shown_default(self) -> str:
        """The default as the form would show it ("" when there is nothing to say)."""
        if self.default is None or self.kind in ("json", "checks") or self.default == "":
            return ""
        return display(self, self.default)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    fields: tuple[FormField, ...]
    note: str = ""


def _default(model: type[BaseModel], name: str) -> Any:
    info = model.model_fields[name]
    return info.get_default(call_default_factory=True)


def _choices(model: type[BaseModel], name: str) -> tuple[str, ...]:
    return tuple(str(c) for c in get_args(model.model_fields[name].annotation) if c is not type(None))


def _f(model: type[BaseModel], path: tuple[str, ...], label: str, kind: Kind, hint: str = "",
       engine: str | None = None) -> FormField:
    name = path[-1]
    choices = _choices(model, name) if kind == "select" else ()
    if kind == "checks":  # list[Literal[...]]
        choices = tuple(get_args(get_args(model.model_fields[name].annotation)[0]))
    described = model.model_fields[name].description or ""
    return FormField(path, label, kind, _default(model, name), choices, hint or described, engine)


SECTIONS: tuple[Section, ...] = (
    Section("voice", "Voice", (
        _f(Voice, ("voice", "provider"), "Provider", "select",
           "espeak: offline, in process; elevenlabs and openai: remote, need a key; tone: test beeps."),
        _f(Voice, ("voice", "voice_id"), "Voice", "text", "espeak: a language voice such as en-us; "
           "elevenlabs: a voice ID; openai: alloy, echo, nova..."),
        _f(Voice, ("voice", "speed"), "Speed", "float", "0.5 to 2."),
        _f(Voice, ("voice", "model"), "Model", "text"),
        _f(Voice, ("voice", "api_key_env"), "API key setting", "text"),
    )),
    Section("transcriber", "Transcriber", (
        _f(TranscriberConfig, ("transcriber", "provider"), "Provider", "select",
           "auto: pocketsphinx under small grammars, Whisper for open speech (offline); deepgram and openai: "
           "remote, need a key; scripted: for tests."),
        _f(TranscriberConfig, ("transcriber", "language"), "Language", "text"),
        _f(TranscriberConfig, ("transcriber", "hints"), "Hints (one word or phrase per line)", "lines"),
        _f(TranscriberConfig, ("transcriber", "model"), "Model", "text"),
        _f(TranscriberConfig, ("transcriber", "api_key_env"), "API key setting", "text"),
    )),
    Section("turn_taking", "Turn-taking", tuple(
        _f(TurnTaking, ("turn_taking", name), label, cast(Kind, kind)) for name, label, kind in (
            ("detector", "End-of-turn detector", "select"),
            ("endpointing_ms", "Endpointing (ms)", "int"),
            ("min_silence_ms", "Shortest silence (ms)", "int"),
            ("max_silence_ms", "Longest silence (ms)", "int"),
            ("completion_threshold", "Completion threshold", "float"),
            ("allow_interruptions", "Callers may interrupt the agent", "bool"),
            ("interruption_min_words", "Words needed to interrupt", "int"),
            ("interruption_min_ms", "Speech needed to interrupt (ms)", "int"),
        )
    )),
    Section("call", "The call", (
        _f(AgentSettings, ("max_duration_s",), "Longest call (s)", "int", "10 s to 4 hours."),
        _f(AgentSettings, ("end_call_after_silence_s",), "Hang up after silence (s)", "int", "3 to 600 s."),
        _f(AgentSettings, ("redact_pii",), "Redact card and social-security numbers", "bool"),
        _f(AgentSettings, ("do_not_call_on_request",), "Do not call again on request", "bool"),
    )),
    Section("voicemail", "Voicemail", (
        _f(VoicemailConfig, ("voicemail", "action"), "When a voicemail answers", "select"),
        _f(VoicemailConfig, ("voicemail", "message"), "Message to leave (a template)", "textarea",
           "Required to leave a message."),
    )),
    Section("analysis", "Post-call analysis", (
        _f(AnalysisPlan, ("analysis", "summary"), "Summary", "bool"),
        _f(AnalysisPlan, ("analysis", "sentiment"), "Sentiment", "bool"),
        _f(AnalysisPlan, ("analysis", "success_criteria"), "Success criteria", "textarea",
           "What makes a call successful (call_successful in the analysis)."),
        _f(AnalysisPlan, ("analysis", "results"), "Results to extract (JSON list)", "json",
           'For example [{"name": "confirmed", "type": "boolean", "description": "Did they confirm?"}]; '
           "type is string, number, boolean, enum (with an enum list) or date."),
    )),
    Section("retry", "Retries (single calls)", (
        _f(RetryPolicy, ("retry", "max_attempts"), "Attempts at most", "int", "Counts the first call."),
        _f(RetryPolicy, ("retry", "on"), "Retry when the call ends as", "checks"),
        _f(RetryPolicy, ("retry", "backoff_minutes"), "Waits before retries (minutes, comma-separated)", "numbers",
           "The last one repeats."),
    )),
    Section("dynamic_context", "Dynamic context", (
        _f(DynamicContext, ("dynamic_context", "enabled"), "Fetch before each call", "bool"),
        _f(DynamicContext, ("dynamic_context", "url"), "URL", "text",
           "POSTed once before the greeting; each top-level key of the JSON answer becomes a variable."),
        _f(DynamicContextAuth, ("dynamic_context", "auth", "type"), "Authentication", "select"),
        _f(DynamicContextAuth, ("dynamic_context", "auth", "token"), "Bearer token", "secret"),
        _f(DynamicContextAuth, ("dynamic_context", "auth", "username"), "Basic user name", "text"),
        _f(DynamicContextAuth, ("dynamic_context", "auth", "password"), "Basic password", "secret"),
        _f(DynamicContextAuth, ("dynamic_context", "auth", "header_name"), "Header name", "text"),
        _f(DynamicContextAuth, ("dynamic_context", "auth", "header_value"), "Header value", "secret"),
        _f(DynamicContext, ("dynamic_context", "timeout_s"), "Timeout (s)", "float", "30 s at most."),
        _f(DynamicContext, ("dynamic_context", "cache_ttl_s"), "Cache a success for (s)", "int"),
    ), note="Secrets are write-only: they show masked; leave the masked value as it is to keep the stored one."),
    Section("phone", "Phone", (
        _f(PhoneConfig, ("phone", "provider"), "Carrier", "select",
           "simulator: the built-in simulated carrier; twilio: needs the server's Twilio settings."),
        _f(PhoneConfig, ("phone", "from_number"), "From number", "text", "E.164, such as +14155550100."),
    )),
)

DIALOGUE_FIELDS: tuple[FormField, ...] = (
    *(
        _f(LlmDialogueConfig, ("dialogue", name), label, cast(Kind, kind), engine="llm") for name, label, kind in (
            ("model", "Model", "text"),
            ("temperature", "Temperature", "float"),
            ("base_url", "Server (OpenAI-compatible base URL)", "text"),
            ("api_key_env", "API key setting", "text"),
            ("max_tokens", "Longest reply (tokens)", "int"),
            ("timeout_s", "First-token timeout (s)", "float"),
        )
    ),
    *(
        _f(LlmFallback, ("dialogue", "fallback", name), label, cast(Kind, kind), engine="llm")
        for name, label, kind in (
            ("model", "Fallback model", "text"),
            ("base_url", "Fallback server", "text"),
            ("api_key_env", "Fallback API key setting", "text"),
            ("message", "Said when no model answers", "textarea"),
        )
    ),
)
ENGINES: tuple[tuple[str, str], ...] = (
    ("", "Default (a short built-in flow: it takes a message)"),
    ("flow", "Flow: a deterministic script, no model needed"),
    ("llm", "LLM: an OpenAI-compatible model server"),
)
TOOLS = FormField(
    ("tools",), "Tools (JSON list)", "json", [],
    hint='For example [{"type": "end_call"}, {"type": "http", "name": "lookup", "url": "https://...", '
    '"description": "..."}]; also transfer_call (with "to") and press_digits. Used by LLM agents.',
)
FLOW = FormField(("dialogue", "flow"), "Flow (JSON)", "json", None)
BASICS: tuple[FormField, ...] = (
    FormField(("name",), "Name", "text", ""),
    FormField(("language",), "Language", "text", _default(AgentSettings, "language")),
    FormField(("first_message",), "First message (a template)", "textarea", None),
    FormField(("prompt",), "Prompt (a template)", "textarea", ""),
)
ALL_FIELDS: tuple[FormField, ...] = (
    *BASICS, *(f for s in SECTIONS for f in s.fields), *DIALOGUE_FIELDS, TOOLS, FLOW,
)
SECTION_KEYS = frozenset({s.key for s in SECTIONS} | {"dialogue", "tools"})


def display(spec: FormField, value: Any) -> str:
    """A stored (or submitted) value as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if spec.kind == "lines":
        return "\n".join(str(v) for v in value)
    if spec.kind == "numbers":
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    if spec.kind == "json":
        return json.dumps(value, indent=2)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def value_at(settings: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = settings
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _put(out: dict[str, Any], path: Sequence[str], value: Any) -> None:
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


@dataclass
class ParsedForm:
    """The agent fields a form sent (top-level fields whole, as a PATCH replaces them), and the
    problems found before validation (JSON that does not parse)."""

    changes: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


class _Form:
    """The parts of a submitted form the parser reads (a starlette ``FormData`` fits)."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def get(self, name: str) -> str | None:
        value = self.data.get(name)
        return value.replace("\r\n", "\n") if isinstance(value, str) else None

    def getlist(self, name: str) -> list[str]:
        return [v for v in self.data.getlist(name) if isinstance(v, str)]


def _convert(spec: FormField, form: _Form, parsed: ParsedForm) -> Any:
    """A form value as the agent's JSON; a value that does not convert goes on as typed."""
    if spec.kind == "bool":
        return form.get(spec.name) is not None
    if spec.kind == "checks":
        return form.getlist(spec.name)
    raw = form.get(spec.name) or ""
    if spec.kind not in ("textarea",):
        raw = raw.strip()
    if raw == "":
        return [] if spec.kind == "lines" else spec.default
    if spec.kind == "int":
        return int(raw) if re.fullmatch(r"[+-]?\d+", raw) else raw
    if spec.kind == "float":
        try:
            return float(raw)
        except ValueError:
            return raw
    if spec.kind == "lines":
        return [line.strip() for line in raw.split("\n") if line.strip()]
    if spec.kind == "numbers":
        numbers: list[Any] = []
        for part in re.split(r"[\s,;]+", raw):
            try:
                numbers.append(float(part))
            except ValueError:
                numbers.append(part)
        return numbers
    if spec.kind == "json":
        try:
            return json.loads(raw)
        except ValueError as exc:
            parsed.errors.setdefault(spec.name, []).append(f"{spec.label}: not valid JSON ({exc})")
            return raw
    return raw


def parse_agent_form(data: Any) -> ParsedForm:
    """The agent fields of an editor form. The name, prompt, first message and language are read
    when present; a section's fields only when the form says it carries that section (a checkbox
    left unticked sends nothing, which must still mean "off")."""
    form = _Form(data)
    parsed = ParsedForm()
    for spec in BASICS:
        if form.get(spec.name) is not None:
            value = _convert(spec, form, parsed)
            if spec.name == "first_message" and value == "":
                value = None
            _put(parsed.changes, spec.path, value)
    sections = set(form.getlist("sections")) & SECTION_KEYS
    for section in SECTIONS:
        if section.key in sections:
            for spec in section.fields:
                _put(parsed.changes, spec.path, _convert(spec, form, parsed))
    if "tools" in sections:
        parsed.changes["tools"] = _convert(TOOLS, form, parsed)
    if "dialogue" in sections:
        parsed.changes["dialogue"] = _dialogue(form, parsed)
    return parsed


def _dialogue(form: _Form, parsed: ParsedForm) -> dict[str, Any] | None:
    engine = form.get("dialogue.engine") or ""
    if engine == "flow":
        flow = _convert(FLOW, form, parsed)
        return {"engine": "flow", "flow": {} if flow is None else flow}
    if engine == "llm":
        out: dict[str, Any] = {"engine": "llm"}
        for spec in DIALOGUE_FIELDS:
            _put(out, spec.path[1:], _convert(spec, form, parsed))
        return out
    if engine:
        return {"engine": engine}  # refused by validation, in its words
    return None


def _clean_loc(loc: Sequence[str | int]) -> Loc:
    """A pydantic or service ``loc`` as a path in the agent: without ``body`` and without the
    discriminator tags pydantic inserts (``dialogue.flow.flow`` is ``dialogue.flow``)."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "dialogue" and parts[1] in ("flow", "llm"):
        if parts[1] == "llm" or parts[2:3] == ["flow"]:
            parts.pop(1)
    if len(parts) > 2 and parts[0] == "tools" and isinstance(parts[1], int) and parts[2] in (
        "http", "end_call", "transfer_call", "press_digits"
    ):
        parts.pop(2)
    return tuple(parts)


def _field_for(loc: Loc) -> FormField | None:
    best: FormField | None = None
    for spec in ALL_FIELDS:
        if loc[: len(spec.path)] == spec.path and (best is None or len(spec.path) > len(best.path)):
            best = spec
    return best


def _words(spec: FormField | None, loc: Loc, msg: str) -> str:
    if spec is None:
        where = ".".join(str(p) for p in loc) or "form"
        return f"{where}: {msg}"
    rest = loc[len(spec.path):]
    if spec is FLOW and len(rest) >= 2 and rest[0] == "nodes":
        tail = " → ".join(str(p) for p in rest[2:])
        return f"Flow, node '{rest[1]}'{', ' + tail if tail else ''}: {msg}"
    if spec is FLOW and rest:
        return f"Flow, {'.'.join(str(p) for p in rest)}: {msg}"
    extra = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)
    return f"{spec.label}{extra}: {msg}"


def field_errors(exc: Exception) -> dict[str, list[str]]:
    """Validation problems by the form field they belong to (``""``: the form as a whole)."""
    found: list[tuple[Sequence[str | int], str]] = []
    if isinstance(exc, ValidationError):
        found = [(e["loc"], e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
    elif isinstance(exc, InvalidInput):
        found = [(exc.loc, exc.msg)]
    else:
        return {"": [str(exc)]}
    out: dict[str, list[str]] = {}
    for raw_loc, msg in found:
        loc = _clean_loc(raw_loc)
        spec = _field_for(loc)
        out.setdefault(spec.name if spec else "", []).append(_words(spec, loc, msg))
    return out
