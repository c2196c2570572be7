"""Twilio's requests to us (not for users): the answer URL, status and answering-machine
callbacks, and inbound calls. Each is refused with 403, before anything is read or written,
unless its ``X-Twilio-Signature`` matches the public URL Twilio requested and its parameters."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from callwright.api.deps import Svc, media_sessions_of
from callwright.services import twilio_calls
from callwright.services.dialer import Dialer
from callwright.settings import Settings
from callwright.telephony.base import StatusEvent
from callwright.telephony.twilio import signature
from callwright.telephony.twilio.carrier import AMD_PATH, ANSWER_PATH, INBOUND_PATH, STATUS_PATH

router = APIRouter(tags=["carrier"], include_in_schema=False)


def public_base(settings: Settings) -> str:
    """Where Twilio reaches this deployment: ``public_url``, else this server's host and port."""
    return settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"


async def _signed_form(request: Request, settings: Settings) -> dict[str, str]:
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    url = signature.public_request_url(public_base(settings), request.url.path, request.url.query)
    valid = signature.is_valid(settings.twilio_auth_token, url, params, request.headers.get("X-Twilio-Signature"))
    if not valid or params.get("AccountSid") != settings.twilio_account_sid:
        raise HTTPException(403, "the request is not signed by this deployment's Twilio account")
    return params


def _twiml(document: str) -> Response:
    return Response(content=document, media_type="application/xml")


def _dialer(request: Request) -> Dialer:
    """The runtime's status handler (every `serve` process has one, whatever its roles)."""
    dialer: Dialer | None = getattr(getattr(request.app.state, "runtime", None), "dialer", None)
    if dialer is None:
        raise HTTPException(503, "this process does not take carrier callbacks (no voice runtime)")
    return dialer


@router.post(ANSWER_PATH)
async def twilio_answer(request: Request, svc: Svc) -> Response:
    form = await _signed_form(request, svc.settings)
    query = dict(request.query_params)
    return _twiml(await twilio_calls.answer(svc.db, query.get("call_id", ""), form, query))


@router.post(STATUS_PATH)
async def twilio_status(request: Request, svc: Svc) -> Response:
    form = await _signed_form(request, svc.settings)
    dialer = _dialer(request)

    async def on_status(event: StatusEvent) -> None:
        await dialer.on_status(event)

    known = await twilio_calls.status_callback(svc.db, on_status, request.query_params.get("call_id", ""), form)
    return Response(status_code=204 if known else 404)


@router.post(AMD_PATH)
async def twilio_amd(request: Request, svc: Svc) -> Response:
    form = await _signed_form(request, svc.settings)
    found = await twilio_calls.amd_callback(svc.db, request.query_params.get("call_id", ""), form)
    if found is None:
        return Response(status_code=404)
    row, verdict = found
    media = media_sessions_of(request)
    session: Any = media.active.get(uuid.UUID(str(row.id))) if media is not None else None
    if session is not None:
        session.carrier_answered_by(verdict)
    return Response(status_code=204)


@router.post(INBOUND_PATH)
async def twilio_inbound(request: Request, svc: Svc) -> Response:
    form = await _signed_form(request, svc.settings)
    return _twiml(await twilio_calls.inbound(svc.db, svc.servers, form, svc.settings.default_country))
