"""Render a call's first message and instructions from its composed variables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callwright.domain.agent import AgentSettings
from callwright.services.contacts import ContactRow
from callwright.services.variables import builtin_variables, compose_instructions, compose_variables
from callwright.templating import render_checked


@dataclass(frozen=True)
class CallTexts:
    variables: dict[str, Any]
    first_message: str | None
    prompt: str
    voicemail_message: str | None = None
    render_errors: list[dict[str, str]] = field(default_factory=list)


def contact_mapping(contact: ContactRow | None) -> dict[str, Any] | None:
    if contact is None:
        return None
    return {
        "id": str(contact.id), "phone_number": contact.phone_number, "first_name": contact.first_name,
        "last_name": contact.last_name, "email": contact.email, "external_id": contact.external_id,
        "timezone": contact.timezone, "attributes": contact.attributes or {},
    }


GUARDRAIL_TAGS = ("guardrail", "guardrails")


def _unplaced_guardrail(prompt: str, call_variables: dict[str, Any]) -> str:
    """Seed 004 injects instructions per call as a ``guardrail`` prompt tag. A prompt that places
    it (``{{ guardrail }}``) gets it there; otherwise it is appended as its own section, so the
    instruction is never silently dropped."""
    texts = [
        str(call_variables[tag]).strip()
        for tag in GUARDRAIL_TAGS
        if tag in call_variables and tag not in prompt and str(call_variables[tag] or "").strip()
    ]
    return "\n".join(texts)


def render_call_texts(
    *,
    settings: AgentSettings,
    agent_id: uuid.UUID,
    contact: ContactRow | None,
    to_number: str | None,
    from_number: str | None,
    direction: str,
    medium: str,
    call_variables: dict[str, Any],
    call_context: str | dict[str, Any] | None,
    first_message: str | None,
    retry_context: dict[str, Any] | None,
    now: datetime,
    campaign: dict[str, Any] | None = None,
    campaign_row: dict[str, Any] | None = None,
    dynamic: dict[str, Any] | None = None,
) -> CallTexts:
    """Variables by precedence (API.md), then the greeting and the instructions rendered with them.

    A retry's ``opening_message`` wins over the agent's greeting but not over an explicit one.
    A template that fails renders without its broken parts and is listed in ``render_errors``
    (``[{"template", "error"}]``), for the conversation record."""
    tz = contact.timezone if contact is not None else None
    variables = compose_variables(
        builtins=builtin_variables(
            agent_id=str(agent_id), direction=direction, medium=medium, agent_number=from_number,
            contact_number=to_number, timezone=tz, now=now,
        ),
        contact=contact_mapping(contact),
        campaign=campaign,
        campaign_row=campaign_row,
        dynamic=dynamic,
        call_variables=call_variables,
        call_context=call_context,
    )
    if retry_context and retry_context.get("collected_data"):
        variables.setdefault("collected_data", retry_context["collected_data"])
    template = first_message
    if template is None and retry_context and retry_context.get("opening_message"):
        template = retry_context["opening_message"]
    if template is None:
        template = settings.first_message
    errors: list[dict[str, str]] = []

    def checked(name: str, source: str) -> str:
        text, error = render_checked(source, variables)
        if error is not None:
            errors.append({"template": name, "error": error})
        return text

    rendered_first = checked("first_message", template) if template else None
    prompt = compose_instructions(
        checked("prompt", settings.prompt) if settings.prompt else "",
        (campaign or {}).get("context"),
        call_context,
    )
    guardrail = _unplaced_guardrail(settings.prompt, call_variables)
    if guardrail:
        prompt = f"{prompt}\n\n## Guardrails\n{guardrail}" if prompt else f"## Guardrails\n{guardrail}"
    voicemail = settings.voicemail
    voicemail_message = (
        checked("voicemail.message", voicemail.message)
        if voicemail.action == "leave_message" and voicemail.message
        else None
    )
    return CallTexts(
        variables=variables, first_message=rendered_first, prompt=prompt, voicemail_message=voicemail_message,
        render_errors=errors,
    )
