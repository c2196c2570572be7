"""FastAPI dependencies: the app's shared services and the caller's organization."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from callwright.dialogue.llm_endpoint import ModelServers
from callwright.net import SafeHttpClient
from callwright.services.calls import CallService
from callwright.services.media_sessions import MediaSessions
from callwright.services.orgs import KeyVerifier, Principal
from callwright.services.secrets import SecretBox
from callwright.settings import Settings
from callwright.store.db import Database


@dataclass
class Services:
    """Everything a request handler may use; built once in the app's lifespan."""

    settings: Settings
    db: Database
    keys: KeyVerifier
    calls: CallService
    secrets: SecretBox
    http: SafeHttpClient  # the one client for customer URLs (dynamic context, tools, webhooks)
    servers: ModelServers = field(default_factory=ModelServers)  # LLM servers for agents and chat


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    """The app's services (async, so FastAPI calls it inline instead of in a worker thread)."""
    return services_of(request)


def media_sessions_of(connection: HTTPConnection) -> MediaSessions | None:
    """This process's media sessions, or None when it does not have the ``media`` role."""
    media: MediaSessions | None = getattr(connection.app.state, "media", None)
    return media


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cw_live_...`")


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing API key: send `Authorization: Bearer <key>`",
                            headers={"WWW-Authenticate": "Bearer"})
    services = services_of(request)
    principal = await services.keys.verify(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
    return principal


Svc = Annotated[Services, Depends(get_services)]
Org = Annotated[Principal, Depends(get_principal)]
