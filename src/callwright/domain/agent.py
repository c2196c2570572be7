"""An agent's configuration: every field of API.md, validated, with defaults."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, ConfigDict, Field, GetJsonSchemaHandler, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from callwright.domain.common import HttpUrl, Out, Strict, UtcDatetime, given, not_null, when
from callwright.domain.flow import Flow
from callwright.domain.phones import PHONE_NUMBER_ERROR, InternationalPhoneText, PhoneNumberError, to_e164
from callwright.templating import validate_template

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


class LlmDialogue(Strict):
    engine: Literal["llm"]
    model: str = Field(default="gpt-4o-mini", description="Model name on the OpenAI-compatible server.")
    temperature: float = Field(default=0.7, ge=0, le=2)
    base_url: HttpUrl | None = Field(default=None, description="OpenAI-compatible endpoint.")
    max_tokens: int = Field(default=300, ge=1, le=4096)


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


Dialogue = Annotated[LlmDialogue | FlowDialogueConfig, Field(discriminator="engine")]


class Voice(Strict):
    provider: Literal["espeak", "elevenlabs", "openai", "tone"] = "espeak"
    voice_id: str = "en-us"
    speed: float = Field(default=1.0, ge=0.5, le=2.0)


class TranscriberConfig(Strict):
    provider: Literal["pocketsphinx", "deepgram", "openai", "scripted"] = "pocketsphinx"
    language: str = "en-US"
    hints: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=200)


class Tool(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    description: str = ""
    type: Literal["webhook", "end_call", "transfer"] = "webhook"
    url: HttpUrl | None = None
    method: Literal["GET", "POST"] = "POST"
    parameters: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=10, gt=0, le=30)
    transfer_to: str | None = None


class TurnTaking(Strict):
    endpointing_ms: int = Field(default=500, ge=100, le=5000)
    allow_interruptions: bool = True
    interruption_min_words: int = Field(default=1, ge=0, le=20)


class VoicemailConfig(Strict):
    model_config = ConfigDict(
        json_schema_extra=when(
            "action", "leave_message", {"required": ["message"], "properties": {"message": {"minLength": 1}}}
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
        json_schema_extra=when("type", "enum", {"required": ["enum"], "properties": {"enum": {"minItems": 1}}})
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


class DynamicContextAuth(Strict):
    """``token``, ``password`` and ``header_value`` are write-only: stored encrypted (so their
    length is checked on the plain value, by the agents service) and masked on every read."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                when("type", "bearer", {"required": ["token"], "properties": {"token": {"minLength": 1}}}),
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
        if v is None:
            return None
        try:
            return to_e164(v, None)
        except PhoneNumberError as exc:
            raise PydanticCustomError(PHONE_NUMBER_ERROR, "{error}", {"error": str(exc)}) from exc


class WebhookTargetIn(Strict):
    url: AnyHttpUrl
    events: list[str] = Field(default_factory=lambda: ["call.started", "call.ended", "call.analyzed", "call.failed"])
    include_transcript: bool = True
    include_recording: bool = False
    secret: str | None = None


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

    @field_validator("prompt", "first_message")
    @classmethod
    def _templates(cls, v: str | None) -> str | None:
        return _check_template(v, "template")


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


class AgentOut(AgentSettings):
    model_config = Out.model_config
    id: str
    version_id: str
    version: int
    name: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    archived: bool = False


class AgentVersionOut(Out):
    id: str
    agent_id: str
    version: int
    config: dict[str, Any]
    created_at: UtcDatetime
