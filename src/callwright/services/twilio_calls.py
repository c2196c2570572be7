"""What Twilio's requests mean for our calls: status callbacks, the async answering-machine
verdict, the answer URL of an outbound call, and inbound calls to mapped numbers.

The routes (api/twilio.py) have checked the signature before anything here runs. A request
names the call twice: our call ID (in the signed URL we gave Twilio) and Twilio's ``CallSid``.
Both must agree with the row (the first signed callback may record the SID, should it beat the
dialer to it), so a callback cannot touch another call or another organization's call. Status
changes go through the dialer's status handler and ``call_state``, which only ever move a call
forward: replays and callbacks out of order change nothing.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.dialogue.llm_endpoint import ModelServers
from callwright.domain.call import LIVE_STATUSES
from callwright.services import call_state
from callwright.services import phone_numbers as number_service
from callwright.services.calls import CallService, NewCall
from callwright.services.contacts import parse_number
from callwright.services.dialer import hash_token
from callwright.services.dispatch import NoDialer
from callwright.services.errors import ServiceError
from callwright.services.runners import MediaDirectory
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow
from callwright.telephony.base import CarrierStatus, StatusEvent, StatusHandler
from callwright.telephony.twilio import twiml

log = logging.getLogger("callwright.twilio")

STATUS_MAP: dict[str, CarrierStatus] = {
    "ringing": "ringing",
    "in-progress": "answered",
    "completed": "completed",
    "busy": "busy",
    "failed": "failed",
    "no-answer": "no_answer",
    "canceled": "canceled",
}
"""Twilio's ``CallStatus`` onto the carrier statuses; ``queued`` and ``initiated`` say nothing new."""

MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def answered_by(value: str | None) -> str | None:
    """Twilio's ``AnsweredBy``; ``unknown`` (and nothing) leave the decision to the audio."""
    if value == "human" or value in MACHINE:
        return value
    return None


async def match_call(db: Database, call_id_text: str, call_sid: str) -> Row[Any] | None:
    """The call both IDs name, or None. A call with no SID yet takes this (signed) one."""
    try:
        call_id = uuid.UUID(call_id_text)
    except ValueError:
        return None
    if not call_sid:
        return None
    async with db.tx() as conn:
        row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).first()
        if row is None:
            return None
        if row.provider_call_id is None and row.status in LIVE_STATUSES:
            await conn.execute(
                calls.update()
                .where(calls.c.id == call_id, calls.c.provider_call_id.is_(None))
                .values(provider_call_id=call_sid)
            )
            row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).first()
    if row is None or row.provider_call_id != call_sid:
        return None
    return row


async def status_callback(
    db: Database, on_status: StatusHandler, call_id_text: str, form: Mapping[str, str]
) -> bool:
    """Apply one status callback; False when it names no call of ours (nothing changes)."""
    row = await match_call(db, call_id_text, form.get("CallSid", ""))
    if row is None:
        return False
    status = STATUS_MAP.get(form.get("CallStatus", ""))
    if status is None:
        return True
    detail: dict[str, Any] = {}
    if status == "failed":
        code = form.get("ErrorCode") or form.get("SipResponseCode")
        detail = {"reason": "carrier_failed", "error": f"Twilio reported the call failed{f' ({code})' if code else ''}"}
    await on_status(
        StatusEvent(
            call_id=str(row.id), status=status, provider_call_id=row.provider_call_id,
            answered_by=answered_by(form.get("AnsweredBy")), detail=detail,
        )
    )
    return True


async def amd_callback(db: Database, call_id_text: str, form: Mapping[str, str]) -> tuple[Row[Any], str] | None:
    """Record the asynchronous answering-machine verdict on the call (the first verdict wins);
    returns the call and the verdict for the caller to hand to a live session."""
    row = await match_call(db, call_id_text, form.get("CallSid", ""))
    verdict = answered_by(form.get("AnsweredBy"))
    if row is None or verdict is None:
        return None
    async with db.tx() as conn:
        await conn.execute(
            calls.update().where(calls.c.id == row.id, calls.c.answered_by.is_(None)).values(answered_by=verdict)
        )
    return row, verdict


async def answer(db: Database, call_id_text: str, form: Mapping[str, str], query: Mapping[str, str]) -> str:
    """TwiML for an answered outbound call: stream to our media process with the call's
    one-time token; a call we no longer run is hung up."""
    row = await match_call(db, call_id_text, form.get("CallSid", ""))
    stream_url, token = query.get("stream", ""), query.get("token", "")
    if row is None or row.status not in LIVE_STATUSES or not stream_url or not token:
        return twiml.hang_up()
    return twiml.connect_stream(stream_url, {"call_id": str(row.id), "token": token})


async def inbound(
    db: Database, servers: ModelServers, form: Mapping[str, str], region: str
) -> str:
    """A call to one of our numbers: the mapped agent answers it as an ``inbound`` conversation
    (the same session; dynamic context is fetched with the caller's number). An unmapped number,
    or one we cannot take now, hears a polite message and a hang-up."""
    call_sid = form.get("CallSid", "")
    try:
        called = parse_number(form.get("To", ""), None, ["To"], region)
    except ServiceError:
        return twiml.say_and_hang_up()
    mapping = await number_service.lookup(db, called)
    if mapping is None or not call_sid:
        return twiml.say_and_hang_up()
    async with db.read() as conn:
        existing = (await conn.execute(sa.select(calls).where(calls.c.provider_call_id == call_sid))).first()
    if existing is not None:  # a replayed request: the call already has its stream
        return twiml.hang_up()
    service = CallService(db, NoDialer(), region, servers)
    try:
        conversation = await service.create(
            mapping.org_id,
            NewCall(
                agent_id=mapping.agent_id, to=form.get("From", ""), from_number=called,
                direction="inbound", call_source="inbound", metadata={"twilio_call_sid": call_sid},
            ),
        )
    except ServiceError as exc:
        log.warning("inbound call to %s refused: %s", called, exc)
        return twiml.say_and_hang_up()
    call_id = uuid.UUID(conversation.id)
    token = secrets.token_urlsafe(24)
    slot = await MediaDirectory(db).reserve()
    if slot is None:
        await call_state.finish(db, call_id, "failed", "no_media_capacity", error="no media process had room")
        return twiml.say_and_hang_up("Sorry, we cannot take your call right now. Please try again later.")
    moved = await call_state.transition(
        db, call_id, ["queued"], "ringing", provider_call_id=call_sid, stream_token_hash=hash_token(token),
        started_at=utcnow(), runner_id=slot.runner_id,
    )
    if not moved:
        await MediaDirectory(db).release(slot)
        return twiml.hang_up()
    return twiml.connect_stream(slot.url, {"call_id": str(call_id), "token": token})
