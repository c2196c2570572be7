"""Signing in and out of the dashboard, its home, and its own static files."""


from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from callwright.api.deps import Services
from callwright.services import dashboard_sessions
from callwright.web.auth import (
    SIGN_IN_COOKIE,
    FormSession,
    check_sign_in_token,
    clear_cookie,
    new_sign_in_token,
    optional_session,
    set_cookie,
    set_sign_in_cookie,
)
from callwright.web.common import (
    _STATIC_TYPES,
    STATIC,
    Svc,
    router,
    see,
)
from callwright.web.views import page


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    """The dashboard's own CSS and JS (nothing is loaded from anywhere else)."""
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in _STATIC_TYPES or not path.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(path, media_type=_STATIC_TYPES[path.suffix], headers={"Cache-Control": "max-age=300"})


@router.get("")
async def home(request: Request) -> RedirectResponse:
    return see("/app/calls" if await optional_session(request) else "/app/signin")


def _signin_page(svc: Services, *, error: str | None = None, status_code: int = 200) -> Response:
    token = new_sign_in_token()
    response = page("signin.html", None, status_code=status_code, error=error, signin_token=token)
    set_sign_in_cookie(response, token, svc)
    return response


@router.get("/signin")
async def signin_page(svc: Svc) -> Response:
    return _signin_page(svc)


@router.post("/signin")
async def signin(request: Request, svc: Svc) -> Response:
    form = await request.form()
    check_sign_in_token(request, form.get("csrf_token"))
    key = form.get("api_key")
    made = await dashboard_sessions.sign_in(svc.db, svc.keys, key) if isinstance(key, str) else None
    if made is None:
        return _signin_page(svc, status_code=401, error="That API key is not valid (or was revoked).")
    token, _ = made
    response = see("/app/calls")
    set_cookie(response, token, svc)
    response.delete_cookie(SIGN_IN_COOKIE, path="/app", httponly=True, samesite="lax")
    return response


@router.post("/signout")
async def signout(session: FormSession, svc: Svc) -> Response:
    await dashboard_sessions.sign_out(svc.db, session.id)
    response = see("/app/signin")
    clear_cookie(response)
    return response
