"""The FastAPI application factory; the lifespan wires the store, the key verifier and the workers."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import Request

from callwright import __version__
from callwright.api import (
    agents,
    analytics,
    calls,
    campaigns,
    carrier,
    chat,
    compat,
    contacts,
    dnc,
    errors,
    files,
    phone_numbers,
    system,
    twilio,
    web_calls,
    webhooks,
)
from callwright.api.asgi import ASGIApp, Message, Receive, Scope, Send
from callwright.api.deps import Services
from callwright.api.nul_guard import NulGuard
from callwright.domain.roles import parse_roles, roles_text
from callwright.net import SafeHttpClient
from callwright.observability import HTTP_REQUESTS
from callwright.services import orgs
from callwright.services.calls import CallService
from callwright.services.carriers import CarrierRegistry
from callwright.services.dispatch import CallQueue, NoDialer
from callwright.services.live_calls import LiveCalls
from callwright.services.model_servers import model_servers
from callwright.services.secrets import SecretBox, load_root_key
from callwright.services.web_calls import WebCalls
from callwright.settings import Settings, get_settings
from callwright.store.db import Database
from callwright.web import pages as dashboard

if TYPE_CHECKING:
    from callwright.runtime import VoiceRuntime

log = logging.getLogger("callwright")



class _Metrics:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], path, str(status[0])).observe(time.perf_counter() - start)


async def bootstrap_key(db: Database) -> str | None:
    """On a brand-new install, make one key so a newcomer can start at once."""
    if await orgs.count_keys(db) > 0:
        return None
    new = await orgs.create_key(db, "default", "bootstrap")
    return new.key


def print_bootstrap_key(key: str | None) -> None:
    if key:
        print(
            f"\nNo API key existed, so one was created for organization 'default'.\n"
            f"It is shown only this once; keep it:\n\n    {key}\n",
            flush=True,
        )


def app_from_env() -> FastAPI:
    """uvicorn factory for `callwright serve --workers N`: each worker process builds its app here."""
    from callwright.observability import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


def serve_roles(settings: Settings) -> frozenset[str]:
    """The roles `serve` runs beside the API: ``CALLWRIGHT_ROLES``, none when ``run_voice`` is off."""
    return parse_roles(settings.roles) if settings.run_voice else frozenset()


def create_app(
    settings: Settings | None = None,
    queue: CallQueue | None = None,
    *,
    voice: bool = True,
    carriers: CarrierRegistry | None = None,
) -> FastAPI:
    """Build the app. ``voice`` starts the runtime in this process, with the roles of
    ``CALLWRIGHT_ROLES`` (all of them by default; none still sends wake-ups to the dialers)."""
    settings = settings or get_settings()
    roles = serve_roles(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        await db.migrate()
        http = SafeHttpClient(allow_private=settings.allow_private_urls)
        box = SecretBox(load_root_key(settings.secret_key, settings.data_dir))
        runtime = None
        call_queue: CallQueue = queue or NoDialer()
        live = LiveCalls()
        if voice and queue is None:
            from callwright.runtime import VoiceRuntime

            runtime = VoiceRuntime(settings, db, carriers, http=http, secrets=box, roles=roles)
            call_queue = runtime.queue
            live = runtime.live
        servers = model_servers(settings)
        app.state.services = Services(
            settings=settings,
            db=db,
            keys=orgs.KeyVerifier(db, settings.api_key_cache_s),
            calls=CallService(db, call_queue, settings.default_country, servers, live=live),
            secrets=box,
            http=http,
            servers=servers,
        )
        app.state.runtime = runtime
        app.state.media = runtime.media if runtime is not None and "media" in roles else None
        app.state.web_calls = WebCalls(
            db, own_runner_id=runtime.runner_id if runtime is not None else None, servers=servers,
            max_live_per_org=settings.max_live_calls_per_org,
        )
        if settings.bootstrap_key:
            print_bootstrap_key(await bootstrap_key(db))
        if runtime is not None:
            await runtime.start(app)
        try:
            yield
        finally:
            await app.state.web_calls.aclose()
            if runtime is not None:
                await runtime.stop()
            await http.aclose()
            await db.dispose()

    app = FastAPI(
        title="Callwright",
        version=__version__,
        description="Self-hostable platform for AI phone calls. Every `/v1` route needs `Authorization: Bearer <key>`.",
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    errors.install(app)
    errors.document_errors(app)
    for router in (system.router, carrier.router, web_calls.stream_router, twilio.router, files.router):
        app.include_router(router)
    for router in (
        agents.router,
        contacts.router,
        calls.router,
        campaigns.router,
        compat.router,
        dnc.router,
        chat.router,
        analytics.router,
        webhooks.router,
        phone_numbers.router,
        web_calls.router,
    ):
        app.include_router(router, responses=errors.DOCUMENTED_ERRORS)
    app.include_router(dashboard.router)  # /app: the dashboard, not in the OpenAPI document
    app.add_middleware(NulGuard)
    app.add_middleware(_Metrics)
    return app


@asynccontextmanager
async def worker_process(
    settings: Settings,
    roles: frozenset[str],
    *,
    carriers: CarrierRegistry | None = None,
    media_url: str | None = None,
) -> AsyncIterator[VoiceRuntime]:
    """A `callwright worker`: the store, and a runtime with ``roles``, started and stopped."""
    from callwright.runtime import VoiceRuntime

    db = Database(settings.database_url)
    await db.migrate()
    http = SafeHttpClient(allow_private=settings.allow_private_urls)
    box = SecretBox(load_root_key(settings.secret_key, settings.data_dir))
    runtime = VoiceRuntime(settings, db, carriers, http=http, secrets=box, roles=roles, media_url=media_url)
    try:
        await runtime.start()
        yield runtime
    finally:
        await runtime.stop()
        await http.aclose()
        await db.dispose()


def create_worker_app(
    settings: Settings,
    roles: frozenset[str],
    *,
    carriers: CarrierRegistry | None = None,
    media_url: str | None = None,
) -> FastAPI:
    """The small ASGI app of a worker with the ``media`` role: the Media Streams route (the same
    router as `serve`'s) and a health route, nothing else."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with worker_process(settings, roles, carriers=carriers, media_url=media_url) as runtime:
            app.state.runtime = runtime
            app.state.media = runtime.media if "media" in roles else None
            yield

    app = FastAPI(title="Callwright worker", version=__version__, lifespan=lifespan, openapi_url=None)
    app.include_router(carrier.router)
    app.include_router(web_calls.stream_router)

    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        runtime: VoiceRuntime = request.app.state.runtime
        return {
            "status": "ok",
            "roles": roles_text(runtime.roles).split(","),
            "runner_id": runtime.runner_id,
            "media_url": runtime.heartbeat.media_url,
            "live_calls": len(runtime.media.active),
        }

    return app
