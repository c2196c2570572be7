"""What a call needs the moment it starts: its dynamic context, then its texts rendered for real.

DESIGN.md: texts are rendered when the call starts, after the dynamic context arrives; the
rendering at creation is a preview. ``prepare_call`` fetches the context (or takes it from the
cache), renders the greeting, the instructions and the voicemail message with the context's
variables at their precedence, and stores all of it on the call row in one update.

The fetch starts when the call is dialed (``prefetch``), so it runs while the phone rings and
the greeting does not wait for it. Whoever starts first claims the fetch on the row (a pending
marker in ``dynamic_context``), so the customer's endpoint is asked once per call even when the
dialer and the media session run in different processes; the other one waits for the result.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.domain.agent import AgentSettings
from callwright.net import SafeHttpClient
from callwright.services import contacts as contact_service
from callwright.services.agents import version_by_id
from callwright.services.dynamic_context import ContextQuery, ContextResult, load_context
from callwright.services.render import render_call_texts
from callwright.services.secrets import SecretBox
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow
from callwright.templating import render_safe

log = logging.getLogger("callwright.call_start")

PENDING = {"pending": True}
"""``dynamic_context`` while a fetch is under way."""
POLL_S = 0.02
TAKEOVER_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """The texts and variables the dialogue runs with, and how the context fetch went."""

    variables: dict[str, Any]
    first_message: str | None
    prompt: str
    voicemail_message: str
    context: ContextResult | None  # None: the agent's dynamic context is off
    waited_ms: float = 0.0  # how long the caller waited for the context (0 when it was ready)

    @property
    def dynamic_context_ms(self) -> float | None:
        return None if self.context is None else round(self.context.latency_ms, 1)


def _numbers(row: Row[Any]) -> tuple[str | None, str | None]:
    """(agent number, contact number): the caller is the contact on an inbound call."""
    if row.direction == "inbound":
        return row.to_number, row.from_number
    return row.from_number, row.to_number


@dataclass(frozen=True, slots=True)
class RenderInputs:
    """What the call request itself gave the templates (stored at creation as ``render_inputs``),
    so the call's layer keeps winning over the dynamic context when the texts are rendered again."""

    variables: dict[str, Any]
    first_message: str | None
    campaign: dict[str, Any] | None = None
    campaign_row: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: Row[Any]) -> RenderInputs:
        stored = row.render_inputs
        if stored is None:
            # A row written before render inputs were kept: every composed value stays on top,
            # and the context can only add names; the greeting rendered then is kept.
            return cls(variables={k: v for k, v in (row.variables or {}).items() if k != "context"},
                       first_message=row.first_message)
        return cls(
            variables=dict(stored.get("variables") or {}), first_message=stored.get("first_message"),
            campaign=stored.get("campaign"), campaign_row=stored.get("campaign_row"),
        )


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
    started = time.monotonic()
    if not await _claim(db, row.id):
        done = await _result_of_other(db, row.id, config.timeout_s + TAKEOVER_GRACE_S)
        if done is not None:
            return _from_row(done, settings, waited_ms=(time.monotonic() - started) * 1000)
        log.warning("the dynamic-context fetch started elsewhere never finished; fetching it here")
    prepared = await _fetch_and_render(db, client, box, row, settings)
    return PreparedCall(
        variables=prepared.variables, first_message=prepared.first_message, prompt=prepared.prompt,
        voicemail_message=prepared.voicemail_message, context=prepared.context,
        waited_ms=(time.monotonic() - started) * 1000,
    )


async def prefetch(db: Database, client: SafeHttpClient, box: SecretBox, call_id: uuid.UUID) -> None:
    """Start the call's dynamic-context fetch as it is dialed; never raises (the media session
    fetches itself if this one fails)."""
    try:
        async with db.read() as conn:
            row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).first()
        if row is None:
            return
        settings = (await version_by_id(db, row.org_id, row.agent_version_id)).settings
        if settings.dynamic_context.enabled and settings.dynamic_context.url is not None:
            await prepare_call(db, client, box, row, settings)
    except Exception:
        log.exception("dynamic-context prefetch failed; the call will fetch it when answered")
        await _release(db, call_id)


async def _claim(db: Database, call_id: uuid.UUID) -> bool:
    async with db.tx() as conn:
        result = await conn.execute(
            calls.update()
            .where(calls.c.id == call_id, calls.c.dynamic_context.is_(None))
            .values(dynamic_context=PENDING)
        )
    return result.rowcount == 1


async def _release(db: Database, call_id: uuid.UUID) -> None:
    """Give the claim back after a failure, so the media session fetches without waiting."""
    async with db.read() as conn:
        current = (await conn.execute(sa.select(calls.c.dynamic_context).where(calls.c.id == call_id))).scalar()
    if current == PENDING:
        async with db.tx() as conn:
            await conn.execute(calls.update().where(calls.c.id == call_id).values(dynamic_context=None))


async def _result_of_other(db: Database, call_id: uuid.UUID, timeout_s: float) -> Row[Any] | None:
    """The row once another fetch of this call's context has finished, or None at the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        async with db.read() as conn:
            row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).one()
        if row.dynamic_context is not None and not row.dynamic_context.get("pending"):
            return row
        if row.dynamic_context is None:  # the other fetcher gave up: fetch here
            return None
        await asyncio.sleep(POLL_S)
    return None


def _from_row(row: Row[Any], settings: AgentSettings, waited_ms: float) -> PreparedCall:
    record = dict(row.dynamic_context or {})
    variables = dict(row.variables or {})
    voicemail = settings.voicemail
    message = voicemail.message if voicemail.action == "leave_message" and voicemail.message else ""
    return PreparedCall(
        variables=variables, first_message=row.first_message, prompt=row.prompt or "",
        voicemail_message=render_safe(message, variables) if message else "",
        context=ContextResult(
            ok=bool(record.get("ok")), status_code=record.get("status_code"),
            latency_ms=float(record.get("latency_ms") or 0.0), error=record.get("error"),
            cached=bool(record.get("cached")),
        ),
        waited_ms=waited_ms,
    )


def _external_id(row: Row[Any], contact: contact_service.ContactRow | None) -> str | None:
    """Who a web caller is in the business's systems: the id the web call was made with (a
    browser caller may have no contact at all), else its contact's."""
    if row.medium != "web":
        return None
    return row.external_id or (contact.external_id if contact is not None else None)


async def _fetch_and_render(
    db: Database, client: SafeHttpClient, box: SecretBox, row: Row[Any], settings: AgentSettings
) -> PreparedCall:
    config = settings.dynamic_context
    contact = None
    if row.contact_id is not None:
        async with db.read() as conn:
            contact = await contact_service.by_id(conn, row.org_id, row.contact_id)
    agent_number, contact_number = _numbers(row)
    query = ContextQuery(
        agent_id=row.agent_id, direction=row.direction, medium=row.medium, agent_number=agent_number,
        contact_number=contact_number,
        external_id=_external_id(row, contact),
        room_sid=row.id,
    )
    result = await load_context(db, client, box, config, row.org_id, row.agent_id, query)
    inputs = RenderInputs.of(row)
    texts = render_call_texts(
        settings=settings, agent_id=row.agent_id, contact=contact, to_number=contact_number,
        from_number=agent_number, direction=row.direction, medium=row.medium,
        call_variables=inputs.variables, call_context=row.context, first_message=inputs.first_message,
        retry_context=row.retry_context, now=utcnow(), dynamic=result.variables,
        campaign=inputs.campaign, campaign_row=inputs.campaign_row,
    )
    await _store(db, row.id, texts.variables, texts.first_message, texts.prompt, result, list(texts.render_errors))
    return PreparedCall(
        variables=texts.variables, first_message=texts.first_message, prompt=texts.prompt,
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
