"""The dashboard's session and CSRF checks: a cookie for who, a per-session token for every POST."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response

from callwright.api.deps import Services, services_of
from callwright.services import dashboard_sessions
from callwright.services.dashboard_sessions import SESSION_TTL, DashboardSession

COOKIE = "cw_dashboard"
SIGN_IN_COOKIE = "cw_signin"  # the sign-in form's CSRF token, before there is a session
SIGN_IN = "/app/signin"


async def optional_session(request: Request) -> DashboardSession | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return await dashboard_sessions.lookup(services_of(request).db, token)


async def require_session(
    session: Annotated[DashboardSession | None, Depends(optional_session)],
) -> DashboardSession:
    """The signed-in session; otherwise a redirect to the sign-in page (303, so a POST becomes a GET)."""
    if session is None:
        raise HTTPException(303, "sign in first", headers={"Location": SIGN_IN})
    return session


def check_csrf(session: DashboardSession, token: object) -> None:
    """Refuse (403) a state-changing request whose token is not this session's."""
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise HTTPException(403, "missing or invalid CSRF token")


async def form_session(
    request: Request, session: Annotated[DashboardSession, Depends(require_session)]
) -> DashboardSession:
    """A signed-in session whose POSTed form carries its CSRF token (field or X-CSRF-Token header)."""
    token: object = request.headers.get("x-csrf-token")
    if token is None:
        form = await request.form()
        token = form.get("csrf_token")
    check_csrf(session, token)
    return session


def set_cookie(response: Response, token: str, svc: Services) -> None:
    response.set_cookie(
        COOKIE, token, max_age=int(SESSION_TTL.total_seconds()), path="/app", httponly=True, samesite="lax",
        secure=svc.settings.public_url.startswith("https://"),
    )


def new_sign_in_token() -> str:
    """A double-submit token for the sign-in form, so another site cannot sign a browser in to
    its own organization (login CSRF): the form's copy must match the cookie's."""
    return secrets.token_urlsafe(32)


def set_sign_in_cookie(response: Response, token: str, svc: Services) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE, token, max_age=3600, path="/app", httponly=True, samesite="lax",
        secure=svc.settings.public_url.startswith("https://"),
    )


def check_sign_in_token(request: Request, token: object) -> None:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not isinstance(token, str) or not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(403, "missing or invalid CSRF token: reload the sign-in page")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/app", httponly=True, samesite="lax")


Session = Annotated[DashboardSession, Depends(require_session)]
FormSession = Annotated[DashboardSession, Depends(form_session)]
