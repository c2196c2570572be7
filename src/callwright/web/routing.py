"""The dashboard's route class: refusals become HTML pages, not the API's JSON problems."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.requests import Request

from callwright.services.errors import ServiceError
from callwright.web.auth import optional_session
from callwright.web.views import page

_TITLES = {403: "Refused", 404: "Not found", 409: "Not now", 422: "Not valid"}


class DashboardRoute(APIRoute):
    """Turns a redirect to sign in into a plain 303, and a refusal (403, 404, 409, 422) into a page
    with the navigation."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                if exc.status_code == 303 and exc.headers:
                    return RedirectResponse(exc.headers["Location"], status_code=303)
                if exc.status_code not in _TITLES:
                    raise
                status, message = exc.status_code, str(exc.detail)
            except ServiceError as exc:  # NotFound, Conflict, InvalidInput: the API's refusals, in words
                status = int(getattr(exc, "status_code", 0))
                if status not in _TITLES:
                    raise
                message = str(exc) or "no such record in your organization"
            session = await optional_session(request)
            return page("error.html", session, status_code=status, title=_TITLES[status], message=message)

        return handle
