"""What every dashboard page module shares: the ``/app`` router, the services dependency and
small parsers that turn form values into the services' types (a bad one is a 404 or 422 page)."""


from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from callwright.api.deps import Services, get_services
from callwright.domain.call import CallStatus
from callwright.services.errors import NotFound
from callwright.web.auth import optional_session
from callwright.web.routing import DashboardRoute

router = APIRouter(prefix="/app", include_in_schema=False, route_class=DashboardRoute)
Svc = Annotated[Services, Depends(get_services)]
STATIC = Path(__file__).parent / "static"
_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
STATUSES: tuple[str, ...] = get_args(CallStatus)
SAMPLE_VARIABLES = {"first_name": "Alex", "last_name": "Doe", "amount": "42.00", "company": "Acme"}


def as_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("no such record") from None


def opt_uuid(value: str | None) -> uuid.UUID | None:
    return as_uuid(value) if value else None


def opt_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"not a date: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # a date picker gives a UTC day


def problem(exc: Exception) -> str:
    """A refusal in words: pydantic's errors as "field: message" lines, others as they are."""
    if isinstance(exc, ValidationError):
        return "\n".join(f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in exc.errors())
    return str(exc)


def see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"



async def signed_out(request: Request, tick: int) -> bool:
    """Every 20th tick of a stream: has its session ended (sign-out, expiry, revoked key)?"""
    return tick % 20 == 19 and await optional_session(request) is None
