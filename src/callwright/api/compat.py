"""Routes in other platforms' shapes, so users move over with their integration code unchanged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import ConfigDict, TypeAdapter, ValidationError

from callwright.api.deps import Org, Svc
from callwright.domain.call import CompatSeed002Call, CompatSeed002Response, CompatSeed004Call, Conversation
from callwright.domain.common import FIELD_CONFLICT
from callwright.domain.contact import ContactIn
from callwright.domain.phones import PhoneText
from callwright.services.calls import NewCall, request_fingerprint
from callwright.services.errors import InvalidInput

router = APIRouter(tags=["compatibility"])

_PHONE = TypeAdapter(PhoneText, config=ConfigDict(strict=True))


@router.post("/ai/phone-calls/action/call", status_code=201, response_model=Conversation)
async def seed004_call(body: CompatSeed004Call, org: Org, svc: Svc) -> Conversation:
    """Seed 004's call action: ``numberToCall`` plus contact fields, ``promptTags`` and ``metadata``."""
    profile: dict[str, Any] = {"phone_number": body.numberToCall}
    for src, dst in (("firstName", "first_name"), ("lastName", "last_name"), ("email", "email")):
        value = getattr(body, src)
        if value is not None:
            profile[dst] = value
    try:
        contact = ContactIn.model_validate(profile)
    except ValueError as exc:
        raise InvalidInput(["body", "email"], f"email is not a valid address: {exc}") from exc
    metadata = dict(body.metadata or {})
    req = NewCall(
        agent_id=body.aiSettingsTemplateId, to=body.numberToCall, contact=contact,
        contact_ref=str(body.contactUuid) if body.contactUuid else None, country_code=body.countryCode,
        update_existing=body.updateExisting, metadata=metadata, variables=dict(body.promptTags or {}),
        loc_to=("body", "numberToCall"), loc_agent=("body", "aiSettingsTemplateId"),
        loc_contact=("body", "contactUuid"),
    )
    return await svc.calls.create(org.org_id, req)


@router.post("/v1/call", response_model=CompatSeed002Response)
async def seed002_call(
    body: CompatSeed002Call, org: Org, svc: Svc,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)] = None,
) -> CompatSeed002Response:
    """Seed 002's call: ``parameters`` as name/value pairs; ``customer_phone`` is required."""
    params: dict[str, Any] = {}
    for i, p in enumerate(body.parameters):
        if p.name in params:
            loc: list[str | int] = ["body", "parameters", i, "name"]
            raise InvalidInput(loc, f"parameter {p.name!r} is given twice", FIELD_CONFLICT)
        params[p.name] = p.value
    phone = params.pop("customer_phone", None)
    if phone is None or not str(phone).strip():
        raise InvalidInput(["body", "parameters"], "customer_phone is required among the parameters")
    index = [p.name for p in body.parameters].index("customer_phone")
    try:
        phone = _PHONE.validate_python(phone)
    except ValidationError as exc:
        raise InvalidInput(["body", "parameters", index, "value"], exc.errors()[0]["msg"]) from exc
    req = NewCall(
        agent_id=body.agent_id, to=str(phone), metadata=dict(body.metadata or {}), variables=params,
        retry_context=body.retry_context.model_dump(mode="json") if body.retry_context else None,
        scheduled_for=body.scheduled_for, loc_to=("body", "parameters", index, "value"),
    )
    key = body.idempotency_key or idempotency_key
    conv = await svc.calls.create(
        org.org_id, req, idempotency_key=key,
        fingerprint=request_fingerprint(body.model_dump(mode="json", exclude={"idempotency_key"})),
    )
    return CompatSeed002Response(
        status="scheduled" if conv.status == "scheduled" else "initiated",
        conversation_id=conv.id, trace_id=conv.trace_id,
    )
