"""Call requests (canonical and seed forms) and the conversation record."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError

from callwright.domain.common import (
    FIELD_CONFLICT,
    AssumeUtc,
    EmailAddress,
    JsonUuid,
    Out,
    Strict,
    UtcDatetime,
    given,
)
from callwright.domain.contact import ContactIn, ExternalId
from callwright.domain.phones import CountryCode, PhoneText

CallStatus = Literal[
    "scheduled", "queued", "dialing", "ringing", "in_progress",
    "completed", "no_answer", "busy", "failed", "voicemail", "canceled",
]
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "no_answer", "busy", "failed", "voicemail", "canceled"}
)
LIVE_STATUSES: frozenset[str] = frozenset({"dialing", "ringing", "in_progress"})

Context = str | dict[str, Any]


class RetryContext(Strict):
    collected_data: dict[str, Any] = Field(default_factory=dict)
    opening_message: str | None = Field(default=None, max_length=8 * 1024)
    language: str | None = Field(default=None, max_length=20)
    stage_id: str | None = Field(default=None, max_length=200)
    previous_call_id: JsonUuid | None = None


class CallFields(Strict):
    """Per-call fields; seed 000 nests these in a ``call`` object."""

    context: Context | None = None
    first_message: str | None = Field(default=None, max_length=8 * 1024)
    call_source: str | None = Field(default=None, min_length=1, max_length=200)
    metadata: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None
    retry_context: RetryContext | None = None
    scheduled_for: AssumeUtc | None = None
    from_number: PhoneText | None = None


def _call_create_schema(schema: dict[str, Any]) -> None:
    """Say in the JSON schema what the validators below enforce: seed 000's ``lead`` / ``lead_id``
    and exactly one callee. (A per-call field given both at the top level and in ``call`` is a
    422 of type ``field_conflict``; saying that in JSON Schema costs more than it tells.)"""
    props = schema["properties"]
    props["lead"] = {**props["contact"], "description": "Seed 000's name for `contact`."}
    props["lead_id"] = {**props["contact_id"], "description": "Seed 000's name for `contact_id`."}
    schema["oneOf"] = [given(name) for name in ("to", "contact", "contact_id", "lead", "lead_id")]
    schema["not"] = {"anyOf": [{"required": ["lead", "contact"]}, {"required": ["lead_id", "contact_id"]}]}


class CallCreate(CallFields):
    """``POST /v1/calls``. Exactly one of ``to``, ``contact``, ``contact_id`` names the callee;
    ``lead`` / ``lead_id`` (seed 000) stand for ``contact`` / ``contact_id``."""

    model_config = ConfigDict(json_schema_extra=_call_create_schema)

    agent_id: JsonUuid | None = None
    to: PhoneText | None = None
    contact: ContactIn | None = None
    contact_id: JsonUuid | ExternalId | None = Field(default=None, description="A contact's UUID or external_id.")
    country_code: CountryCode | None = None
    update_existing: bool = False
    medium: Literal["phone", "web"] = "phone"
    simulated_callee: dict[str, Any] | None = None
    call: CallFields | None = None

    @model_validator(mode="before")
    @classmethod
    def _seed_aliases(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for alias, name in (("lead", "contact"), ("lead_id", "contact_id")):
            if alias in data:
                if name in data:
                    raise ValueError(f"give either {alias!r} or {name!r}, not both")
                data[name] = data.pop(alias)
        cid = data.get("contact_id")
        if isinstance(cid, int) and not isinstance(cid, bool):
            data["contact_id"] = str(cid)
        return data

    @model_validator(mode="after")
    def _one_callee(self) -> CallCreate:
        given = [n for n in ("to", "contact", "contact_id") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "name the callee with exactly one of `to`, `contact` (or `lead`), `contact_id` "
                f"(or `lead_id`); got {', '.join(given) or 'none'}"
            )
        if self.call is not None:
            for name in CallFields.model_fields:
                nested = getattr(self.call, name)
                if nested is None:
                    continue
                if getattr(self, name) is not None:
                    raise PydanticCustomError(
                        FIELD_CONFLICT, "`{name}` is given both at the top level and in `call`", {"name": name}
                    )
                setattr(self, name, nested)
            self.call = None
        return self


class TranscriptTurn(Out):
    role: Literal["agent", "user"]
    text: str
    start_ms: int
    end_ms: int
    interrupted: bool = False


class DynamicContextOutcome(Out):
    """How the call's dynamic-context fetch went (its variables are in ``variables``)."""

    ok: bool | None = Field(default=None, description="Null while the fetch is under way.")
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    cached: bool = False
    pending: bool = Field(default=False, description="The fetch is under way (it starts when the call is dialed).")


class RenderError(Out):
    """A template that failed when rendered for this call; its text was rendered without the broken parts."""

    template: str = Field(description="`first_message`, `prompt` or `voicemail.message`.")
    error: str


class Conversation(Out):
    id: str
    trace_id: str
    agent_id: str
    agent_version_id: str
    contact_id: str | None
    campaign_id: str | None
    direction: Literal["outbound", "inbound"]
    medium: Literal["phone", "web"]
    from_: str | None = Field(alias="from", serialization_alias="from")
    to: str | None
    status: CallStatus
    end_reason: str | None
    call_source: str
    metadata: dict[str, Any]
    variables: dict[str, Any]
    context: Context | None
    first_message: str | None
    prompt: str | None
    retry_context: dict[str, Any] | None
    transcript: list[TranscriptTurn]
    results: dict[str, Any]
    analysis: dict[str, Any] | None
    recording_url: str | None
    error: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    scheduled_for: UtcDatetime | None
    started_at: UtcDatetime | None
    answered_at: UtcDatetime | None
    ended_at: UtcDatetime | None
    duration_ms: int | None
    attempt: int
    retry_of: str | None
    latency: dict[str, Any] | None
    dynamic_context: DynamicContextOutcome | None = None
    render_errors: list[RenderError] | None = None
    tool_calls: list[ToolCallRecord] = Field(
        default_factory=list,
        description="Every tool the agent called (custom HTTP tools, end_call, transfer_call, press_digits), in order.",
    )
    transferred_to: str | None = Field(default=None, description="The number the call was transferred to.")


class ToolCallRecord(Out):
    """One tool call: what the model asked for and what it was told. Times are stream ms, like
    the transcript's."""

    id: str
    name: str
    kind: Literal["http", "end_call", "transfer_call", "press_digits"]
    arguments: dict[str, Any]
    ok: bool | None
    result: Any = None
    start_ms: int | None = None
    end_ms: int | None = None
    duration_ms: float | None = None


class ConversationPage(Out):
    data: list[Conversation]
    next_cursor: str | None


class CompatSeed004Call(Strict):
    """Seed 004: ``POST /ai/phone-calls/action/call``."""

    numberToCall: PhoneText
    updateExisting: bool = False
    firstName: str | None = Field(default=None, max_length=200)
    lastName: str | None = Field(default=None, max_length=200)
    email: EmailAddress | None = Field(default=None, max_length=320)
    metadata: dict[str, Any] | None = None
    promptTags: dict[str, Any] | None = None
    contactUuid: JsonUuid | None = None
    aiSettingsTemplateId: JsonUuid | None = None
    countryCode: CountryCode | None = None


class CallParameter(Strict):
    name: str = Field(min_length=1, max_length=200)
    value: Any = None


def _customer_phone_once(schema: dict[str, Any]) -> None:
    """The list holds ``customer_phone`` exactly once, and its value is a phone number."""
    schema["contains"] = {
        "type": "object",
        "required": ["name", "value"],
        "properties": {"name": {"const": "customer_phone"}, "value": TypeAdapter(PhoneText).json_schema()},
    }
    schema["minContains"] = schema["maxContains"] = 1


class CompatSeed002Call(Strict):
    """Seed 002: ``POST /v1/call`` with a ``parameters`` list."""

    agent_id: JsonUuid
    parameters: list[CallParameter] = Field(json_schema_extra=_customer_phone_once)
    retry_context: RetryContext | None = None
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    scheduled_for: AssumeUtc | None = None


class CompatSeed002Response(Out):
    status: Literal["initiated", "scheduled"]
    conversation_id: str
    trace_id: str
