"""An agent's configuration: every field of API.md, validated, with defaults."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from callwright.domain.common import HttpUrl, Out, Strict, UtcDatetime, given, not_null, when
from callwright.domain.flow import Flow
from callwright.domain.phones import PHONE_NUMBER_ERROR, InternationalPhoneText, PhoneNumberError, to_e164
from callwright.templating import validate_template

DUPLICATE_NAME = "duplicate_name"
"""The 422 ``type`` of two tools with one name (JSON Schema cannot say "unique by a field")."""

TEMPLATE_SYNTAX = "template_syntax"
"""The 422 ``type`` of a template that does not compile (JSON Schema cannot check Jinja)."""


def _check_template(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    error = validate_template(value)
    if error:
        raise PydanticCustomError(
            TEMPLATE_SYNTAX, "{field} is not a valid template: {error}", {"field": field, "error": error}
        )
    return value


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"

DEFAULT_APOLOGY = (
    "I'm sorry, I'm having trouble on my end right now. Someone will get back to you shortly. Goodbye."
)


class LlmFallback(Strict):
    """What happens when the model server fails mid-call (an error, a 429, a dropped stream, or
    no first token within ``timeout_s``): try ``model`` once, then speak ``message`` and hang up."""

    model: str | None = Field(
        default=None, max_length=200,
        description="Another model to try for the same turn (on the same server unless `base_url` is given).",
    )
    base_url: HttpUrl | None = Field(default=None, description="Server of the fallback model.")
    api_key_env: str | None = Field(
        default=None, pattern=_ENV_NAME, description="Name of the setting that holds the fallback server's key."
    )
    message: str = Field(
        default=DEFAULT_APOLOGY, min_length=1, max_length=1000,
        description="Spoken before the agent hangs up when no model can answer.",
    )


class LlmDialogueConfig(Strict):
    engine: Literal["llm"]
    model: str = Field(default="gpt-4o-mini", max_length=200, description="Model name on the OpenAI-compatible server.")
    temperature: float = Field(default=0.7, ge=0, le=2)
    base_url: HttpUrl | None = Field(
        default=None, description="OpenAI-compatible endpoint; the server's OPENAI_BASE_URL when absent."
    )
    api_key_env: str | None = Field(
        default=None, pattern=_ENV_NAME,
        description="Name of the environment variable that holds the API key (never the key itself); "
        "OPENAI_API_KEY when absent.",
    )
    max_tokens: int = Field(default=300, ge=1, le=4096)
    timeout_s: float = Field(
        default=4.0, gt=0, le=30,
        description="Longest wait for the model's first token (and between tokens) before the fallback.",
    )
    fallback: LlmFallback = Field(default_factory=LlmFallback)


class _FlowDocument:
    """A flow is kept as the JSON its author wrote; its JSON schema is the ``Flow`` model's."""

    @classmethod
    def __get_pydantic_json_schema__(cls, _: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(Flow.__pydantic_core_schema__)


class FlowDialogueConfig(Strict):
    engine: Literal["flow"]
    flow: Annotated[dict[str, Any], _FlowDocument]

    @field_validator("flow")
    @classmethod
    def _valid_flow(cls, value: dict[str, Any]) -> dict[str, Any]:
        Flow.model_validate(value)
        return value


Dialogue = Annotated[LlmDialogueConfig | FlowDialogueConfig, Field(discriminator="engine")]


class Voice(Strict):
    provider: Literal["espeak", "elevenlabs", "openai", "tone"] = "espeak"
    voice_id: str = "en-us"
    speed: float = Field(default=1.0, ge=0.5, le=2.0)
    model: str | None = Field(
        default=None, max_length=200,
        description="Provider model (elevenlabs, openai); the provider's default when absent.",
    )
    api_key_env: str | None = Field(
        default=None, pattern=_ENV_NAME,
        description="Name of the setting that holds the provider's key (never the key itself); "
        "ELEVENLABS_API_KEY or OPENAI_API_KEY when absent.",
    )


class TranscriberConfig(Strict):
    provider: Literal["auto", "whisper", "pocketsphinx", "deepgram", "openai", "scripted"] = "auto"
    """``auto``: pocketsphinx under small grammars (yes/no, choices), Whisper for the rest."""
    language: str = "en-US"
    hints: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=200)
    model: str | None = Field(
        default=None, max_length=200,
        description="Provider model (deepgram: nova-2, nova-3, nova-2-phonecall; openai: whisper-1, "
        "gpt-4o-mini-transcribe); the provider's default when absent.",
    )
    api_key_env: str | None = Field(
        default=None, pattern=_ENV_NAME,
        description="Name of the setting that holds the provider's key (never the key itself); "
        "DEEPGRAM_API_KEY or OPENAI_API_KEY when absent.",
    )


class TurnTaking(Strict):
    """When the caller's turn is over, and when their speech over the agent interrupts it."""

    detector: Literal["smart_turn", "silence"] = Field(
        default="smart_turn",
        description="`smart_turn`: a short silence ends a turn the Smart Turn model judges complete, a long one "
        "a turn it judges unfinished (a caller reading a number); `silence`: `endpointing_ms` of silence, always. "
        "Both end a turn after `min_silence_ms` once the answer fits what the agent asked (\"yes\" to a yes/no "
        "question) and wait `max_silence_ms` while a digit string is short.",
    )
    endpointing_ms: int = Field(
        default=500, ge=100, le=5000,
        description="Silence that ends a turn when nothing else is known (no model judgement yet).",
    )
    min_silence_ms: int = Field(
        default=200, ge=100, le=2000,
        description="Silence that ends a turn judged complete. Never more than `endpointing_ms`.",
    )
    max_silence_ms: int = Field(
        default=1500, ge=300, le=10000,
        description="Silence that ends a turn judged unfinished. Never less than `endpointing_ms`.",
    )
    completion_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Smart Turn probability at or above which a turn counts as complete.",
    )
    allow_interruptions: bool = True
    interruption_min_words: int = Field(
        default=1, ge=0, le=20,
        description="Words, other than backchannels (\"uh-huh\", \"okay\"), that caller speech over the agent "
        "needs to interrupt it; 0: its duration alone decides.",
    )
    interruption_min_ms: int = Field(
        default=300, ge=100, le=3000,
        description="Voiced speech over the agent needed before it can interrupt (a cough is shorter).",
    )


class VoicemailConfig(Strict):
    model_config = ConfigDict(
        json_schema_extra=when(
            "action", "leave_message",
            {"required": ["message"], "properties": {"message": {"type": "string", "minLength": 1}}},
        )
    )

    action: Literal["hangup", "leave_message"] = "hangup"
    message: str | None = None

    @field_validator("message")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return _check_template(v, "voicemail.message")

    @model_validator(mode="after")
    def _message_needed(self) -> VoicemailConfig:
        if self.action == "leave_message" and not self.message:
            raise ValueError("voicemail.message is required when action is leave_message")
        return self


ResultType = Literal["string", "number", "boolean", "enum", "date"]


class ResultField(Strict):
    model_config = ConfigDict(
        json_schema_extra=when(
            "type", "enum", {"required": ["enum"], "properties": {"enum": {"type": "array", "minItems": 1}}}
        )
    )

    name: str = Field(min_length=1, max_length=64)
    type: ResultType = "string"
    description: str = ""
    enum: list[str] | None = None

    @model_validator(mode="after")
    def _enum_needed(self) -> ResultField:
        if self.type == "enum" and not self.enum:
            raise ValueError("an enum result needs a non-empty `enum` list")
        return self


class AnalysisPlan(Strict):
    summary: bool = True
    sentiment: bool = True
    success_criteria: str | None = None
    results: list[ResultField] = Field(default_factory=list)


RetryOutcome = Literal["no_answer", "busy", "voicemail", "failed"]


_DEFAULT_RETRY_ON: tuple[RetryOutcome, ...] = ("no_answer", "busy", "failed")


class RetryPolicy(Strict):
    max_attempts: int = Field(default=1, ge=1, le=10)
    on: list[RetryOutcome] = Field(default_factory=lambda: list(_DEFAULT_RETRY_ON))
    backoff_minutes: list[Annotated[float, Field(ge=0, le=7 * 24 * 60)]] = Field(
        default_factory=lambda: [30.0, 120.0]
    )


_SECRET_TEXT: dict[str, Any] = {"maxLength": 4096, "pattern": "^[^\\x00-\\x08\\x0a-\\x1f\\x7f]*$"}
"""What the agents service accepts as a secret (checked there, on the plain value)."""


_NON_EMPTY: dict[str, Any] = {"type": "string", "minLength": 1}


class DynamicContextAuth(Strict):
    """``token``, ``password`` and ``header_value`` are write-only: stored encrypted (so their
    length is checked on the plain value, by the agents service) and masked on every read."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                when("type", "bearer", {"required": ["token"], "properties": {"token": _NON_EMPTY}}),
                when("type", "basic", {"allOf": [given("username"), given("password")]}),
                when("type", "header", {"allOf": [given("header_name"), given("header_value")]}),
            ]
        }
    )

    type: Literal["bearer", "basic", "header", "none"] = "none"
    token: str | None = Field(default=None, json_schema_extra=_SECRET_TEXT)
    username: str | None = Field(default=None, max_length=256)
    password: str | None = Field(default=None, json_schema_extra=_SECRET_TEXT)
    header_name: str | None = Field(default=None, max_length=256, pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
    header_value: str | None = Field(default=None, json_schema_extra=_SECRET_TEXT)

    @model_validator(mode="after")
    def _complete(self) -> DynamicContextAuth:
        if self.type == "bearer" and not self.token:
            raise ValueError("bearer auth needs `token`")
        if self.type == "basic" and (self.username is None or self.password is None):
            raise ValueError("basic auth needs `username` and `password`")
        if self.type == "header" and not (self.header_name and self.header_value is not None):
            raise ValueError("header auth needs `header_name` and `header_value`")
        return self


SAMPLE_CONTACT_NUMBER = "+12025550123"


class DynamicContext(Strict):
    model_config = ConfigDict(json_schema_extra=when("enabled", True, given("url")))

    enabled: bool = False
    url: HttpUrl | None = None
    auth: DynamicContextAuth = Field(default_factory=DynamicContextAuth)
    timeout_s: float = Field(default=10.0, gt=0, le=30)
    cache_ttl_s: int = Field(
        default=0, ge=0, le=86400,
        description="Reuse a successful response for the same contact for this many seconds (0: never). "
        "Failures are never reused.",
    )

    @model_validator(mode="after")
    def _url_needed(self) -> DynamicContext:
        if self.enabled and self.url is None:
            raise ValueError("dynamic_context.url is required when enabled")
        return self


class DynamicContextTest(Strict):
    """Sample values for ``POST /v1/agents/{id}/dynamic-context/test``."""

    direction: Literal["inbound", "outbound"] = "outbound"
    medium: Literal["phone", "web"] = "phone"
    contact_number: str | None = Field(default=SAMPLE_CONTACT_NUMBER, max_length=100)
    agent_number: str | None = Field(
        default=None, max_length=100, description="Defaults to the agent's phone.from_number."
    )
    external_id: str | None = Field(default=None, max_length=200)


class DynamicContextTestResult(Out):
    ok: bool
    status_code: int | None
    latency_ms: float
    variables: dict[str, Any]
    error: str | None


class PhoneConfig(Strict):
    provider: Literal["simulator", "twilio"] = "simulator"
    from_number: InternationalPhoneText | None = None

    @field_validator("from_number")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        return None if v is None else _e164(v)


class WebhookTargetIn(Strict):
    url: AnyHttpUrl
    events: list[str] = Field(default_factory=lambda: ["call.started", "call.ended", "call.analyzed", "call.failed"])
    include_transcript: bool = True
    include_recording: bool = False
    secret: str | None = None


_HEADER_NAME = r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$"
_HeaderName = Annotated[str, Field(max_length=256, pattern=_HEADER_NAME)]
_HeaderValue = Annotated[str, Field(max_length=4096)]
_TOOL_NAME = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


class HttpTool(Strict):
    """A custom action: the model calls it with JSON arguments, Callwright calls the URL (through
    the SSRF-safe client) and hands the response back to the model."""

    type: Literal["http"] = "http"
    name: str = Field(pattern=_TOOL_NAME, description="Function name the model sees.")
    description: str = Field(default="", max_length=2000, description="When and why the model should call it.")
    url: HttpUrl
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments (an object). GET sends them as the query string, other "
        "methods as the JSON body.",
    )
    headers: dict[_HeaderName, _HeaderValue] = Field(
        default_factory=dict,
        max_length=32,
        # Every name must be a header token: say so for all keys, not only those that match.
        json_schema_extra={"propertyNames": {"maxLength": 256, "pattern": _HEADER_NAME}, "additionalProperties": False},
    )
    auth: DynamicContextAuth = Field(default_factory=lambda: DynamicContextAuth())
    timeout_s: float = Field(default=10.0, gt=0, le=30)
    filler: str | None = Field(
        default="One moment while I check that.", max_length=500,
        description="Said when the tool has not answered after `filler_after_s`, so the caller never hears "
        "dead air. Null: say nothing.",
    )
    filler_after_s: float = Field(default=1.0, ge=0, le=30)

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v.get("type", "object") != "object":
            raise ValueError("tool parameters must be a JSON Schema of type object")
        return v


class EndCallTool(Strict):
    """Lets the model hang up, optionally after a closing line."""

    type: Literal["end_call"]
    name: str = Field(default="end_call", pattern=_TOOL_NAME)
    description: str = Field(
        default="End the call when the conversation is over. Pass a short closing line to say goodbye.",
        max_length=2000,
    )


class TransferCallTool(Strict):
    """Cold transfer through the carrier: the caller is connected to ``to`` and the agent leaves."""

    type: Literal["transfer_call"]
    name: str = Field(default="transfer_call", pattern=_TOOL_NAME)
    description: str = Field(
        default="Transfer the caller to a human or another department when you cannot help them.",
        max_length=2000,
    )
    to: InternationalPhoneText | None = Field(
        default=None,
        description="The only number the model may transfer to. Absent: the model names the number, which "
        "must be in `allowed_numbers` when that list is given.",
    )
    allowed_numbers: list[InternationalPhoneText] = Field(default_factory=list, max_length=100)
    message: str | None = Field(
        default="Please hold while I transfer your call.", max_length=500,
        description="Said before the transfer (the model's own words come first when it gives some).",
    )

    @field_validator("to")
    @classmethod
    def _to_e164(cls, v: str | None) -> str | None:
        return None if v is None else _e164(v)

    @field_validator("allowed_numbers")
    @classmethod
    def _all_e164(cls, v: list[str]) -> list[str]:
        return [_e164(n) for n in v]


class PressDigitsTool(Strict):
    """Lets the model key DTMF digits (in-band tones) to get through a phone menu."""

    type: Literal["press_digits"]
    name: str = Field(default="press_digits", pattern=_TOOL_NAME)
    description: str = Field(
        default="Press keys on the phone keypad to navigate an automated phone menu (digits 0-9, * and #).",
        max_length=2000,
    )


def _tool_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "http"))
    return str(getattr(value, "type", "http"))


Tool = Annotated[
    Annotated[HttpTool, Tag("http")]
    | Annotated[EndCallTool, Tag("end_call")]
    | Annotated[TransferCallTool, Tag("transfer_call")]
    | Annotated[PressDigitsTool, Tag("press_digits")],
    Discriminator(_tool_type),
]


def _e164(value: str) -> str:
    try:
        return to_e164(value, None)
    except PhoneNumberError as exc:
        raise PydanticCustomError(PHONE_NUMBER_ERROR, "{error}", {"error": str(exc)}) from exc


class AgentSettings(Strict):
    """Everything but the name; this is what a version freezes."""

    language: str = Field(default="en-US", max_length=20)
    prompt: str = Field(default="", max_length=64 * 1024)
    first_message: str | None = Field(default=None, max_length=8 * 1024)
    dialogue: Dialogue | None = None
    voice: Voice = Field(default_factory=Voice)
    transcriber: TranscriberConfig = Field(default_factory=TranscriberConfig)
    tools: list[Tool] = Field(default_factory=list, max_length=64)
    turn_taking: TurnTaking = Field(default_factory=TurnTaking)
    max_duration_s: int = Field(default=600, ge=10, le=4 * 3600)
    end_call_after_silence_s: int = Field(default=20, ge=3, le=600)
    voicemail: VoicemailConfig = Field(default_factory=VoicemailConfig)
    analysis: AnalysisPlan = Field(default_factory=AnalysisPlan)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    dynamic_context: DynamicContext = Field(default_factory=DynamicContext)
    phone: PhoneConfig = Field(default_factory=PhoneConfig)
    redact_pii: bool = Field(
        default=False,
        description="Replace payment-card and social-security numbers in stored transcripts, results and "
        "webhooks: a card keeps its last four digits (`[card ending 1111]`), an SSN becomes `[ssn redacted]`. "
        "Logs are always redacted.",
    )
    do_not_call_on_request: bool = Field(
        default=True,
        description="When the caller asks not to be called again (\"stop calling me\", \"take me off your "
        "list\"), add their number to the organization's do-not-call list after the call, with the call in the "
        "reason, and set `opted_out: true` in the call's analysis. On by default, as compliance asks.",
    )

    @field_validator("prompt", "first_message")
    @classmethod
    def _templates(cls, v: str | None) -> str | None:
        return _check_template(v, "template")

    @field_validator("tools")
    @classmethod
    def _unique_tool_names(cls, v: list[Tool]) -> list[Tool]:
        seen: set[str] = set()
        for tool in v:
            if tool.name in seen:
                raise PydanticCustomError(
                    DUPLICATE_NAME, "two tools are named {name!r}; tool names must be unique", {"name": tool.name}
                )
            seen.add(tool.name)
        return v


class AgentCreate(AgentSettings):
    name: str = Field(min_length=1, max_length=200)


class AgentUpdate(Strict):
    """PATCH body: every field optional; the merge is validated as a whole."""

    # The types of AgentSettings, each field whole (a PATCH replaces a top-level field). Null is
    # refused where the setting cannot be null; `name: null` keeps the name.
    name: str | None = Field(default=None, min_length=1, max_length=200)
    language: Annotated[Annotated[str, Field(max_length=20)] | None, not_null()] = None
    prompt: Annotated[Annotated[str, Field(max_length=64 * 1024)] | None, not_null()] = None
    first_message: Annotated[str, Field(max_length=8 * 1024)] | None = None
    dialogue: Dialogue | None = None
    voice: Annotated[Voice | None, not_null()] = None
    transcriber: Annotated[TranscriberConfig | None, not_null()] = None
    tools: Annotated[Annotated[list[Tool], Field(max_length=64)] | None, not_null()] = None
    turn_taking: Annotated[TurnTaking | None, not_null()] = None
    max_duration_s: Annotated[Annotated[int, Field(ge=10, le=4 * 3600)] | None, not_null()] = None
    end_call_after_silence_s: Annotated[Annotated[int, Field(ge=3, le=600)] | None, not_null()] = None
    voicemail: Annotated[VoicemailConfig | None, not_null()] = None
    analysis: Annotated[AnalysisPlan | None, not_null()] = None
    retry: Annotated[RetryPolicy | None, not_null()] = None
    dynamic_context: Annotated[DynamicContext | None, not_null()] = None
    phone: Annotated[PhoneConfig | None, not_null()] = None
    redact_pii: Annotated[bool | None, not_null()] = None
    do_not_call_on_request: Annotated[bool | None, not_null()] = None


class AgentOut(AgentSettings):
    model_config = Out.model_config
    id: str
    version_id: str
    version: int
    name: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    archived: bool = False
    warnings: list[str] = Field(
        default_factory=list,
        description="Why this agent cannot run on this server as configured (e.g. an LLM agent without "
        "OPENAI_BASE_URL); calls and chats with it are refused with the same words until it is fixed.",
    )


class AgentVersionOut(Out):
    id: str
    agent_id: str
    version: int
    config: dict[str, Any]
    created_at: UtcDatetime
