"""Creating and cancelling calls. A call row is written ``queued`` (or ``scheduled``) and the
dialer is woken through the ``CallQueue`` seam; everything after that belongs to the voice side."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from callwright.dialogue.factory import unavailable_reason
from callwright.dialogue.inputs import DialogueDeps
from callwright.dialogue.llm_endpoint import ModelServers
from callwright.domain.call import LIVE_STATUSES, TERMINAL_STATUSES, CallCreate, Conversation
from callwright.domain.contact import ContactIn
from callwright.services import agents as agent_service
from callwright.services import call_state, dnc
from callwright.services import contacts as contact_service
from callwright.services.conversations import call_row, conversation_out
from callwright.services.dispatch import CallQueue
from callwright.services.errors import Conflict, InvalidInput, NotFound, OnDoNotCallList
from callwright.services.live_calls import LiveCalls
from callwright.services.render import render_call_texts
from callwright.store.db import Database
from callwright.store.tables import calls, campaign_contacts, idempotency_keys
from callwright.store.types import utcnow
from callwright.telephony.call_options import NOT_THIS_CARRIER, CarrierOptionError, validate_options


@dataclass
class NewCall:
    """A call request after its public form (canonical, seed 000, 002 or 004) is unpacked."""

    agent_id: uuid.UUID | None
    to: str | None = None
    contact: ContactIn | None = None
    contact_ref: str | None = None
    country_code: str | None = None
    update_existing: bool = False
    from_number: str | None = None
    context: str | dict[str, Any] | None = None
    first_message: str | None = None
    call_source: str = "api"
    metadata: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    retry_context: dict[str, Any] | None = None
    scheduled_for: datetime | None = None
    medium: str = "phone"
    direction: str = "outbound"
    simulated_callee: dict[str, Any] | None = None
    campaign_id: uuid.UUID | None = None
    campaign_contact_id: uuid.UUID | None = None
    campaign: dict[str, Any] | None = None  # the campaign's layer of variables: {"context": ...}
    campaign_row: dict[str, Any] | None = None  # the row's extra CSV columns
    call_id: uuid.UUID | None = None  # chosen by the caller when it must know it first (campaign claims)
    attempt: int = 1
    retry_of: uuid.UUID | None = None
    loc_to: tuple[str | int, ...] = ("body", "to")
    loc_agent: tuple[str, ...] = ("body", "agent_id")
    loc_contact: tuple[str, ...] = ("body", "contact_id")


def from_canonical(body: CallCreate) -> NewCall:
    return NewCall(
        agent_id=body.agent_id, to=body.to, contact=body.contact,
        contact_ref=str(body.contact_id) if body.contact_id is not None else None,
        country_code=body.country_code, update_existing=body.update_existing, from_number=body.from_number,
        context=body.context, first_message=body.first_message, call_source=body.call_source or "api",
        metadata=body.metadata or {}, variables=body.variables or {},
        retry_context=body.retry_context.model_dump(mode="json") if body.retry_context else None,
        scheduled_for=body.scheduled_for, medium=body.medium, simulated_callee=body.simulated_callee,
    )


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def new_trace_id() -> str:
    """A W3C/OpenTelemetry trace ID: 16 random bytes as 32 hex digits, never all zero."""
    while True:
        value = secrets.token_hex(16)
        if value.strip("0"):
            return value


_INSERT_CALL = calls.insert()
_INSERT_IDEMPOTENCY_KEY = idempotency_keys.insert()
_NEW_CALL_COLUMNS = frozenset({
    "id", "org_id", "trace_id", "agent_id", "agent_version_id", "contact_id", "campaign_id", "campaign_contact_id",
    "direction", "medium",
    "from_number", "to_number", "status", "call_source", "metadata", "variables", "context", "first_message",
    "prompt", "retry_context", "simulated_callee", "transcript", "results", "attempt", "retry_of", "scheduled_for",
    "render_inputs",
    "created_at", "updated_at", "render_errors",
})
_NULL_CALL_COLUMNS = {c.name: None for c in calls.c if c.name not in _NEW_CALL_COLUMNS}


def _hold_campaign_claim(conn: Connection, row_id: uuid.UUID, call_id: uuid.UUID, now: datetime) -> None:
    """A campaign row's call is created only while the row is still claimed for this very call.

    The update both checks and locks: a row given back meanwhile (its claimer looked dead) is not
    dialed twice, and a give-back racing this transaction sees the row touched and leaves it."""
    held = conn.execute(
        campaign_contacts.update()
        .where(
            campaign_contacts.c.id == row_id,
            campaign_contacts.c.state == "dialing",
            campaign_contacts.c.last_call_id == call_id,
        )
        .values(updated_at=now)
    ).rowcount
    if not held:
        raise Conflict("the campaign row was given back before its call was created")


class CallService:
    def __init__(
        self,
        db: Database,
        queue: CallQueue,
        default_region: str = "US",
        servers: ModelServers | None = None,
        live: LiveCalls | None = None,
    ) -> None:
        """``live``: the runtime's live calls (and carriers) a cancel hangs up through."""
        self.db = db
        self.queue = queue
        self.live = live or LiveCalls()
        self.default_region = default_region
        self.servers = servers or ModelServers()

    async def create(
        self, org_id: uuid.UUID, req: NewCall, *, idempotency_key: str | None = None, fingerprint: str = ""
    ) -> Conversation:
        if idempotency_key:
            replay = await self._replay(org_id, idempotency_key, fingerprint)
            if replay is not None:
                return replay
        version = await agent_service.cached_current_version(self.db, org_id, req.agent_id)
        if version is None:
            # Well-formed requests that name nothing usable: a state of the organization, not a
            # malformed body (404 like any resource of another organization, 409 for "not yet").
            if req.agent_id is None:
                raise Conflict("agent_id is required: this organization has no active agent yet")
            raise NotFound(f"no active agent with id {req.agent_id}")
        settings = version.settings
        unavailable = unavailable_reason(settings, DialogueDeps(servers=self.servers))
        if unavailable is not None:  # refused now rather than failed later, with the same words
            raise Conflict(unavailable)
        self._check_simulated_callee(req, settings.phone.provider)
        from_number = req.from_number or settings.phone.from_number
        if req.from_number:
            from_number = contact_service.parse_number(
                req.from_number, None, ["body", "from_number"], self.default_region
            )
        now = utcnow()
        call_id = req.call_id or uuid.uuid4()

        def write(conn: Connection) -> tuple[Conversation, str]:
            if req.campaign_contact_id is not None:
                _hold_campaign_claim(conn, req.campaign_contact_id, call_id, now)
            contact = self._resolve_contact(conn, org_id, req)
            to_number = (
                contact_service.parse_number(req.to, req.country_code, list(req.loc_to), self.default_region)
                if req.to
                else contact.phone_number
            )
            if dnc.is_listed(conn, org_id, to_number):
                raise OnDoNotCallList(f"{to_number} is on the do-not-call list")
            texts = render_call_texts(
                settings=settings, agent_id=version.agent_id, contact=contact, to_number=to_number,
                from_number=from_number, direction=req.direction, medium=req.medium,
                call_variables=req.variables, call_context=req.context, first_message=req.first_message,
                retry_context=req.retry_context, now=now, campaign=req.campaign, campaign_row=req.campaign_row,
            )
            future = req.scheduled_for is not None and req.scheduled_for > now + timedelta(seconds=1)
            status = "scheduled" if future else "queued"
            values: dict[str, Any] = dict(
                id=call_id, org_id=org_id, trace_id=new_trace_id(), agent_id=version.agent_id,
                agent_version_id=version.version_id, contact_id=contact.id, campaign_id=req.campaign_id,
                campaign_contact_id=req.campaign_contact_id,
                direction=req.direction, medium=req.medium, from_number=from_number, to_number=to_number,
                status=status, call_source=req.call_source, metadata=req.metadata,
                variables=texts.variables, context=req.context, first_message=texts.first_message,
                prompt=texts.prompt, retry_context=req.retry_context, simulated_callee=req.simulated_callee,
                transcript=[], results={}, attempt=req.attempt, retry_of=req.retry_of,
                scheduled_for=req.scheduled_for or now, created_at=now, updated_at=now,
                render_errors=texts.render_errors or None,
                # What the request itself gave the templates: rendered again at call start, on top
                # of the dynamic context.
                render_inputs={
                    "variables": req.variables, "first_message": req.first_message,
                    **({"campaign": req.campaign, "campaign_row": req.campaign_row} if req.campaign_id else {}),
                },
            )
            conn.execute(_INSERT_CALL, values)
            call_state.created_event(conn, values)
            # The record is what was just inserted: no read-back (the other columns start NULL).
            out = conversation_out(SimpleNamespace(**_NULL_CALL_COLUMNS, **values))
            if idempotency_key:
                conn.execute(
                    _INSERT_IDEMPOTENCY_KEY,
                    dict(
                        org_id=org_id, key=idempotency_key, request_hash=fingerprint, status_code=201,
                        response=out.model_dump(mode="json", by_alias=True), created_at=now,
                    ),
                )
            return out, status

        try:
            out, status = await self.db.run_tx(write)
        except IntegrityError:
            if idempotency_key:
                replay = await self._replay(org_id, idempotency_key, fingerprint)
                if replay is not None:
                    return replay
            raise
        if status == "queued":
            await self.queue.call_ready(call_id)
        return out

    def _check_simulated_callee(self, req: NewCall, provider: str) -> None:
        try:
            validate_options(provider, "simulated_callee", req.simulated_callee)
        except CarrierOptionError as exc:
            if exc.kind == NOT_THIS_CARRIER:  # a valid option the agent's carrier does not take
                raise Conflict(str(exc)) from exc
            raise InvalidInput(["body", *exc.loc], str(exc), exc.kind) from exc

    def _resolve_contact(
        self, conn: Connection, org_id: uuid.UUID, req: NewCall
    ) -> contact_service.ContactRow:
        if req.contact_ref is not None:
            row: contact_service.ContactRow | None = None
            try:
                row = contact_service.by_id_sync(conn, org_id, uuid.UUID(req.contact_ref))
            except ValueError:
                pass
            if row is None:
                row = contact_service.by_external_id_sync(conn, org_id, req.contact_ref)
            if row is None:
                raise NotFound(f"no contact with id or external_id {req.contact_ref!r}")
            if req.update_existing and req.contact is not None:
                fields = req.contact.model_dump(exclude_unset=True, exclude={"phone_number"})
                if fields:
                    row = contact_service.upsert_sync(conn, org_id, row.phone_number, req.contact, True)
            return row
        if req.contact is not None:
            loc: list[str | int] = list(req.loc_to) if req.to else ["body", "contact", "phone_number"]
            raw = req.to or req.contact.phone_number
            e164 = contact_service.parse_number(raw, req.country_code, loc, self.default_region)
            return contact_service.upsert_sync(conn, org_id, e164, req.contact, req.update_existing)
        if req.to is None:
            raise InvalidInput(list(req.loc_to), "a phone number to call is required")
        e164 = contact_service.parse_number(req.to, req.country_code, list(req.loc_to), self.default_region)
        return contact_service.upsert_sync(conn, org_id, e164, None, False)

    async def _replay(self, org_id: uuid.UUID, key: str, fingerprint: str) -> Conversation | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    sa.select(idempotency_keys).where(
                        idempotency_keys.c.org_id == org_id, idempotency_keys.c.key == key
                    )
                )
            ).first()
        if row is None:
            return None
        if row.request_hash != fingerprint:
            raise Conflict("this Idempotency-Key was already used with a different request body")
        return Conversation.model_validate(row.response)

    async def cancel(self, org_id: uuid.UUID, call_id: uuid.UUID) -> Conversation:
        row = await call_row(self.db, org_id, call_id)
        if row.status in TERMINAL_STATUSES:
            raise Conflict(f"the call already ended ({row.status})")
        if not await call_state.cancel_pending(self.db, org_id, call_id):
            row = await call_row(self.db, org_id, call_id)
            if row.status in LIVE_STATUSES:
                local = self.live.is_live_here(call_id)
                await self.live.request_hangup(self.db, row)
                if not local:
                    # The session runs elsewhere (or has not connected yet): close the record now;
                    # the session sees the canceled row and hangs up too.
                    await call_state.finish(self.db, call_id, "canceled", "canceled")
            elif row.status in TERMINAL_STATUSES:
                raise Conflict(f"the call already ended ({row.status})")
        return conversation_out(await call_row(self.db, org_id, call_id))


async def purge_idempotency_keys(db: Database, ttl_s: int) -> int:
    cutoff = utcnow() - timedelta(seconds=ttl_s)
    async with db.tx() as conn:
        result = await conn.execute(idempotency_keys.delete().where(idempotency_keys.c.created_at < cutoff))
    return int(result.rowcount or 0)


__all__ = ["CallService", "NewCall", "NotFound", "from_canonical", "request_fingerprint"]
