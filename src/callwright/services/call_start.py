"""What a call needs the moment it starts: its dynamic context, then its texts rendered for real.

DESIGN.md: texts are rendered when the call starts, after the dynamic context arrives; the
rendering at creation is a preview. ``prepare_call`` fetches the context (or takes it from the
cache), renders the greeting, the instructions and the voicemail message with the context's
variables at their precedence, and stores all of it on the call row in one update.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row

from callwright.domain.agent import AgentSettings
from callwright.net import SafeHttpClient
from callwright.services import contacts as contact_service
from callwright.services.dynamic_context import ContextResult, load_context
from callwright.services.render import contact_mapping, render_call_texts
from callwright.services.secrets import SecretBox
from callwright.services.variables import builtin_variables, compose_variables
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow
from callwright.templating import render_checked, render_safe


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """The texts and variables the dialogue runs with, and how the context fetch went."""

    variables: dict[str, Any]
    first_message: str | None
    prompt: str
    voicemail_message: str
    context: ContextResult | None  # None: the agent's dynamic context is off

    @property
    def dynamic_context_ms(self) -> float | None:
        return None if self.context is None else round(self.context.latency_ms, 1)


def _numbers(row: Row[Any]) -> tuple[str | None, str | None]:
    """(agent number, contact number): the caller is the contact on an inbound call."""
    if row.direction == "inbound":
        return row.to_number, row.from_number
    return row.from_number, row.to_number


def _call_layer(row: Row[Any], contact: contact_service.ContactRow | None) -> dict[str, Any]:
    """The call's own variables, which must keep winning over the dynamic context.

    The row keeps only the variables composed at creation, so the call's layer is recovered as
    the entries the layers below it (built-ins and the contact, as they were at creation) do not
    explain. Where a call variable equals the contact's value for the same name, the context may
    override it; where the contact changed since creation, its old value keeps winning."""
    agent_number, contact_number = _numbers(row)
    below = compose_variables(
        builtins=builtin_variables(
            agent_id=str(row.agent_id), direction=row.direction, medium=row.medium, agent_number=agent_number,
            contact_number=contact_number, timezone=contact.timezone if contact is not None else None,
            now=row.created_at,
        ),
        contact=contact_mapping(contact),
    )
    missing = object()
    return {
        key: value for key, value in (row.variables or {}).items()
        if key != "context" and below.get(key, missing) != value  # ``context`` comes from its own column
    }


def _explicit_greeting(row: Row[Any], settings: AgentSettings) -> bool:
    """Whether the call was created with its own ``first_message`` (kept as rendered then: its
    template is not stored). Decided by re-rendering the template the agent would have used."""
    template = (row.retry_context or {}).get("opening_message") or settings.first_message
    if template is None:
        return row.first_message is not None
    preview, _ = render_checked(template, row.variables or {})
    return preview != (row.first_message or "")


async def prepare_call(
    db: Database, client: SafeHttpClient, box: SecretBox, row: Row[Any], settings: AgentSettings
) -> PreparedCall:
    """Fetch the dynamic context when the agent has it on, render the call's texts with it, and
    record variables, texts, the fetch's outcome and any template failure on the call row.
    With dynamic context off, the texts rendered at creation stand. Never fails the call for
    anything the customer's endpoint does."""
    variables = dict(row.variables or {})
    config = settings.dynamic_context
    if not config.enabled or config.url is None:
        voicemail = settings.voicemail
        message = voicemail.message if voicemail.action == "leave_message" and voicemail.message else ""
        return PreparedCall(
            variables=variables, first_message=row.first_message, prompt=row.prompt or "",
            voicemail_message=render_safe(message, variables) if message else "", context=None,
        )
    contact = None
    if row.contact_id is not None:
        async with db.read() as conn:
            contact = await contact_service.by_id(conn, row.org_id, row.contact_id)
    agent_number, contact_number = _numbers(row)
    result = await load_context(
        db, client, box, config, org_id=row.org_id, agent_id=row.agent_id, direction=row.direction,
        medium=row.medium, agent_number=agent_number, contact_number=contact_number,
        external_id=contact.external_id if contact is not None and row.medium == "web" else None,
        room_sid=row.id,
    )
    explicit = _explicit_greeting(row, settings)
    texts = render_call_texts(
        settings=settings, agent_id=row.agent_id, contact=contact, to_number=contact_number,
        from_number=agent_number, direction=row.direction, medium=row.medium,
        call_variables=_call_layer(row, contact), call_context=row.context,
        # An explicit greeting cannot be rendered again; "" renders none, and the stored one is kept.
        first_message="" if explicit else None, retry_context=row.retry_context, now=utcnow(),
        dynamic=result.variables,
    )
    first_message = row.first_message if explicit else texts.first_message
    errors = list(texts.render_errors)
    if explicit:
        errors[:0] = [e for e in row.render_errors or [] if e.get("template") == "first_message"]
    await _store(db, row.id, texts.variables, first_message, texts.prompt, result, errors)
    return PreparedCall(
        variables=texts.variables, first_message=first_message, prompt=texts.prompt,
        voicemail_message=texts.voicemail_message or "", context=result,
    )


async def _store(
    db: Database,
    call_id: uuid.UUID,
    variables: dict[str, Any],
    first_message: str | None,
    prompt: str,
    result: ContextResult,
    errors: list[dict[str, str]],
) -> None:
    async with db.tx() as conn:
        await conn.execute(
            calls.update()
            .where(calls.c.id == call_id)
            .values(
                variables=variables, first_message=first_message, prompt=prompt, dynamic_context=result.outcome(),
                render_errors=errors or None, updated_at=utcnow(),
            )
        )
