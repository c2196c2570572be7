"""Webhook targets and the delivery log, as the API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from callwright.domain.common import HTTP_URL_PATTERN, Out, Strict, UtcDatetime

WebhookEvent = Literal[
    "call.started", "call.ended", "call.failed", "call.analyzed", "campaign.started", "campaign.completed"
]
SECRET_PATTERN = r"^whsec_[A-Za-z0-9+/=]{16,200}$"


def _default_events() -> list[WebhookEvent]:
    return ["call.started", "call.ended", "call.failed", "call.analyzed"]


DeliveryStatus = Literal["pending", "sending", "succeeded", "failed", "canceled"]


class WebhookTargetIn(Strict):
    url: str = Field(
        min_length=1, max_length=2048, json_schema_extra={"pattern": HTTP_URL_PATTERN},
        description="Where events are POSTed; must be a public http(s) URL.",
    )
    events: list[WebhookEvent] = Field(
        default_factory=_default_events,
        min_length=1,
        description="Events this target receives.",
    )
    include_transcript: bool = Field(default=True, description="Send the transcript as `body` and attach its JSON.")
    include_recording: bool = Field(default=False, description="Attach a signed, expiring link to the recording.")
    secret: str | None = Field(
        default=None, pattern=SECRET_PATTERN,
        description="Signing secret (`whsec_` + base64); generated when absent and shown only in this response.",
    )


class WebhookTargetUpdate(Strict):
    url: str | None = Field(
        default=None, min_length=1, max_length=2048, json_schema_extra={"pattern": HTTP_URL_PATTERN}
    )
    events: list[WebhookEvent] | None = Field(default=None, min_length=1)
    include_transcript: bool | None = None
    include_recording: bool | None = None
    enabled: bool | None = Field(default=None, description="Re-enable a target that a 410 disabled, or pause one.")
    secret: str | None = Field(default=None, pattern=SECRET_PATTERN, description="Rotate the signing secret.")


class WebhookTargetOut(Out):
    id: str
    agent_id: str
    url: str
    events: list[str]
    include_transcript: bool
    include_recording: bool
    secret: str = Field(description="The full secret in the creation response only; masked (`****` + last 4) after.")
    enabled: bool
    disabled_reason: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class WebhookTargetList(Out):
    data: list[WebhookTargetOut]


class DeliveryAttempt(Out):
    at: str
    status_code: int | None
    error: str | None
    duration_ms: float


class WebhookDeliveryOut(Out):
    id: str
    webhook_id: str = Field(description="The `webhook-id` header: the event's `request_id`, the same on every retry.")
    target_id: str
    event: str
    call_id: str | None
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: UtcDatetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[DeliveryAttempt]
    created_at: UtcDatetime
    updated_at: UtcDatetime
    delivered_at: UtcDatetime | None


class WebhookDeliveryPage(Out):
    data: list[WebhookDeliveryOut]
    next_cursor: str | None
