"""The webhook body: seed 003's envelope field for field, plus ``trace_id``, ``call_source``,
``results`` and the retry state (API.md, "Webhooks"); campaign events keep its top level and
carry the campaign as ``data``.

It is built once, when the event is fanned out, and stored with the delivery, so every retry
sends the same bytes under the same ``webhook-id``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from callwright.domain.agent import AgentSettings
from callwright.domain.campaign import ROW_STATES
from callwright.domain.pii import redact, redact_obj
from callwright.services.events import CALL_STARTED, CAMPAIGN_COMPLETED
from callwright.services.placeholders import placeholders_data

API_VERSION = "v1"


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def delivery_status(status: str, end_reason: str | None) -> str:
    """``call_in_progress``, ``call_completed.agent_hangup``, ``call_no_answer.no_answer``, ..."""
    if status in ("dialing", "ringing", "in_progress", "queued", "scheduled"):
        return "call_in_progress" if status == "in_progress" else f"call_{status}"
    return f"call_{status}.{end_reason}" if end_reason else f"call_{status}"


def transcript_body(transcript: list[dict[str, Any]]) -> str:
    lines = []
    for turn in transcript:
        text = str(turn.get("text") or "").strip()
        if text:
            lines.append(f"{'Agent' if turn.get('role') == 'agent' else 'User'}: {text}\n")
    return "".join(lines)


@dataclass(frozen=True)
class Attachments:
    """Signed, expiring links to a call's files; ``sign(call_id, name)`` returns an absolute URL."""

    recording: str | None
    transcript: str
    analysis: str | None


@dataclass(frozen=True)
class RetryState:
    attempt_number: int
    max_attempts: int
    will_retry: bool
    next_retry_at: datetime | None


def build(
    *,
    event_type: str,
    event_id: uuid.UUID,
    event_at: datetime,
    call: Any,
    settings: AgentSettings,
    include_transcript: bool,
    include_recording: bool,
    attachments: Attachments,
    retry: RetryState,
) -> str:
    """The JSON text of one delivery."""
    started = event_type == CALL_STARTED
    transcript = list(call.transcript or [])
    body: str | None = transcript_body(transcript) if include_transcript and not started else None
    analysis = call.analysis
    results = dict(call.results or {})
    placeholders = placeholders_data(settings, dict(call.variables or {}), call.first_message)
    # Tool calls are part of the conversation record: sent with the transcript, not without it.
    tool_calls = list(getattr(call, "tool_calls", None) or []) if include_transcript and not started else []
    if settings.redact_pii:
        body = redact(body) if body is not None else None
        results = redact_obj(results)
        placeholders = redact_obj(placeholders)
        tool_calls = redact_obj(tool_calls)
    files: list[dict[str, Any]] = []
    if not started:
        if include_recording and attachments.recording:
            files.append({"agent_id": str(call.agent_id), "content_type": "audio/x-wav", "url": attachments.recording})
        if include_transcript:
            files.append(
                {"agent_id": str(call.agent_id), "content_type": "application/json", "url": attachments.transcript}
            )
        if analysis is not None and attachments.analysis:
            files.append(
                {"agent_id": str(call.agent_id), "content_type": "application/json", "url": attachments.analysis}
            )
    request_metadata = dict(call.metadata or {})
    data: dict[str, Any] = {
        "id": str(call.id),
        "conversation_id": str(call.id),
        "trace_id": call.trace_id,
        "delivery_status": "call_in_progress" if started else delivery_status(call.status, call.end_reason),
        "status": call.status,
        "end_reason": None if started else call.end_reason,
        "direction": str(call.direction).upper(),
        "type": "call",
        "mode": "ai",
        "body": body,
        "translated_body": None,
        "language": settings.language,
        "translation_language": None,
        "from": call.from_number if call.direction == "outbound" else call.to_number,
        "to": call.to_number if call.direction == "outbound" else call.from_number,
        "created_at": iso(call.created_at),
        "updated_at": iso(call.updated_at),
        "contact_id": None if call.contact_id is None else str(call.contact_id),
        "channel_id": None,
        "campaign_id": None if call.campaign_id is None else str(call.campaign_id),
        "campaign_contact_id": None,
        "sequence_id": None,
        "step_contact_id": None,
        "step_id": None,
        "user_id": None,
        "call_source": call.call_source,
        "results": results,
        "tool_calls": tool_calls,
        "transferred_to": getattr(call, "transferred_to", None),
        "retry": {
            "attempt_number": retry.attempt_number,
            "max_attempts": retry.max_attempts,
            "will_retry": retry.will_retry,
            "next_retry_at": iso(retry.next_retry_at),
        },
        "metadata": {
            "type": call.medium,
            "duration": None if started else call.duration_ms,
            "placeholders_data": placeholders,
            "analysis": analysis,
            "agent_id": str(call.agent_id),
            "agent_version_id": str(call.agent_version_id),
            "llm_id": None,
            "llm_version_id": None,
            "request_metadata": request_metadata,
            "requestMetadata": request_metadata,
        },
        "attachments": files,
    }
    envelope = {
        "event": event_type,
        "api_version": API_VERSION,
        "created_at": iso(event_at),
        "request_id": str(event_id),
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), default=str)


def build_campaign(
    *, event_type: str, event_id: uuid.UUID, event_at: datetime, event_data: dict[str, Any], campaign: Any
) -> str:
    """The JSON text of a campaign event: the call envelope's top level and style, with the
    campaign as ``data`` (no call, so no trace, transcript or attachments).

    ``status`` and ``progress`` are the campaign's as the event recorded them, not as they are
    when the body is built, so a late fan-out still tells what happened at that moment."""
    rows: dict[str, int] | None = event_data.get("rows")
    progress: dict[str, Any] | None = None
    if rows is not None:
        by_state: dict[str, int] = {**dict.fromkeys(ROW_STATES, 0), **rows}
        progress = {"total": sum(by_state.values()), "by_state": by_state}
    request_metadata = dict(campaign.metadata or {})
    data: dict[str, Any] = {
        "id": str(campaign.id),
        "campaign_id": str(campaign.id),
        "type": "campaign",
        "name": event_data.get("name", campaign.name),
        "status": event_data.get("status", campaign.status),
        "agent_id": str(campaign.agent_id),
        "call_source": campaign.call_source,
        "created_at": iso(campaign.created_at),
        "started_at": iso(campaign.started_at),
        "completed_at": iso(event_at) if event_type == CAMPAIGN_COMPLETED else None,
        "progress": progress,
        "metadata": {
            "agent_id": str(campaign.agent_id),
            "request_metadata": request_metadata,
            "requestMetadata": request_metadata,
        },
    }
    envelope = {
        "event": event_type,
        "api_version": API_VERSION,
        "created_at": iso(event_at),
        "request_id": str(event_id),
        "data": data,
    }
    return json.dumps(envelope, separators=(",", ":"), default=str)
