"""Calls from a web browser: the caller's microphone and speaker talk to the same call session
as a phone call, over a WebSocket instead of a carrier (docs/browser-calls.md).

A web call is created already ``ringing``, as if a carrier had placed it: it waits for its
browser, which connects with a short-lived token (random; only its hash is stored), minted
here and never the API key. The media session accepts the stream exactly as it accepts a
carrier's, spends the token, and moves the call to ``in_progress``. A browser that never
connects leaves no live call behind: when the token expires the call ends ``failed``
(``browser_not_connected``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from callwright.dialogue.factory import unavailable_reason
from callwright.dialogue.inputs import DialogueDeps
from callwright.dialogue.llm_endpoint import ModelServers
from callwright.services import agents as agent_service
from callwright.services import call_state
from callwright.services.calls import new_trace_id
from callwright.services.dialer import hash_token
from callwright.services.errors import Conflict, NotFound, ServiceError
from callwright.services.live_calls import org_live_count
from callwright.services.render import render_call_texts
from callwright.services.runners import MediaDirectory
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.store.types import utcnow

log = logging.getLogger("callwright.web_calls")

TOKEN_TTL_S = 60.0
"""How long a browser has to connect with its token; the call then ends as not connected."""
STREAM_PATH = "/web-calls/stream"
"""The browser's WebSocket route, on every process with the ``media`` role."""
CARRIER_STREAM_PATH = "/carrier/media-stream"
NOT_CONNECTED = "browser_not_connected"
WAITING = ("dialing", "ringing")


class TooManyLiveCalls(ServiceError):
    """The organization already has its maximum of live calls."""

    status_code = 429


@dataclass
class NewWebCall:
    agent_id: uuid.UUID
    external_id: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    context: str | dict[str, Any] | None = None
    first_message: str | None = None
    call_source: str = "web"


@dataclass(frozen=True)
class WebCallTicket:
    """What the browser needs to connect. ``stream_url`` is None when the stream belongs to this
    process (the HTTP edge then answers with its own address, as the browser reached it)."""

    call_id: uuid.UUID
    access_token: str
    expires_at: datetime
    stream_url: str | None


def stream_url_of(media_url: str) -> str:
    """A media process's browser route, from the carrier stream address it registered."""
    base = media_url[: -len(CARRIER_STREAM_PATH)] if media_url.endswith(CARRIER_STREAM_PATH) else media_url
    return base.rstrip("/") + STREAM_PATH


class WebCalls:
    """Creates web calls and ends the ones whose browser never came. One per process (the
    app's lifespan owns it); ``own_runner_id`` is this process's runtime, if it has one."""

    def __init__(
        self,
        db: Database,
        *,
        own_runner_id: str | None = None,
        servers: ModelServers | None = None,
        max_live_per_org: int | None = None,
        token_ttl_s: float = TOKEN_TTL_S,
    ) -> None:
        self.db = db
        self.own_runner_id = own_runner_id
        self.servers = servers or ModelServers()
        self.max_live_per_org = max_live_per_org
        self.token_ttl_s = token_ttl_s
        self.media = MediaDirectory(db, own_runner_id)
        self._timers: set[asyncio.Task[None]] = set()

    async def create(self, org_id: uuid.UUID, req: NewWebCall) -> WebCallTicket:
        """The call row, ringing, with a fresh token for its browser. 404 for an unknown agent,
        409 when the agent cannot run or no process takes streams, 429 over the live-call limit."""
        version = await agent_service.cached_current_version(self.db, org_id, req.agent_id)
        if version is None:
            raise NotFound(f"no active agent with id {req.agent_id}")
        settings = version.settings
        unavailable = unavailable_reason(settings, DialogueDeps(servers=self.servers))
        if unavailable is not None:
            raise Conflict(unavailable)
        await self._check_live_limit(org_id)
        slot = await self.media.reserve()
        if slot is None:
            raise Conflict("no process is taking call streams right now (none runs the media role); try again shortly")
        now = utcnow()
        token = secrets.token_urlsafe(24)
        expires_at = now + timedelta(seconds=self.token_ttl_s)
        call_id = uuid.uuid4()
        # The caller's id is a template variable like a contact's; the request's own win.
        variables = {**({"external_id": req.external_id} if req.external_id else {}), **req.variables}
        texts = render_call_texts(
            settings=settings, agent_id=version.agent_id, contact=None, to_number=None, from_number=None,
            direction="inbound", medium="web", call_variables=variables, call_context=req.context,
            first_message=req.first_message, retry_context=None, now=now,
        )
        values: dict[str, Any] = dict(
            id=call_id, org_id=org_id, trace_id=new_trace_id(), agent_id=version.agent_id,
            agent_version_id=version.version_id, contact_id=None, direction="inbound", medium="web",
            status="ringing", call_source=req.call_source, metadata=req.metadata, variables=texts.variables,
            context=req.context, first_message=texts.first_message, prompt=texts.prompt, transcript=[], results={},
            attempt=1, scheduled_for=now, created_at=now, updated_at=now, started_at=now,
            render_errors=texts.render_errors or None,
            render_inputs={"variables": variables, "first_message": req.first_message},
            external_id=req.external_id, runner_id=slot.runner_id,
            stream_token_hash=hash_token(token), stream_token_expires_at=expires_at,
        )

        def write(conn: Connection) -> None:
            conn.execute(calls.insert(), values)
            call_state.created_event(conn, values)

        try:
            await self.db.run_tx(write)
        except BaseException:
            await self.media.release(slot)
            raise
        self._expire_later(call_id)
        own = slot.runner_id == self.own_runner_id
        return WebCallTicket(call_id, token, expires_at, None if own else stream_url_of(slot.url))

    async def _check_live_limit(self, org_id: uuid.UUID) -> None:
        if self.max_live_per_org is None:
            return
        async with self.db.read() as conn:
            live = (await conn.execute(org_live_count(org_id))).scalar_one()
        if live >= self.max_live_per_org:
            raise TooManyLiveCalls(f"this organization already has {live} live calls, its limit; try again later")

    def _expire_later(self, call_id: uuid.UUID) -> None:
        async def wait_then_expire() -> None:
            await asyncio.sleep(self.token_ttl_s)
            try:
                await expire(self.db, call_id)
            except Exception:
                log.exception("ending an unconnected web call failed; the carrier timeout will end it")

        task = asyncio.create_task(wait_then_expire(), name="web-call-expiry")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def aclose(self) -> None:
        for task in list(self._timers):
            task.cancel()
        for task in list(self._timers):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def expire(db: Database, call_id: uuid.UUID) -> bool:
    """End a web call still waiting for its browser; False when it connected (or ended) meanwhile."""
    return await call_state.transition(
        db, call_id, WAITING, "failed", end_reason=NOT_CONNECTED, ended_at=utcnow(), stream_token_hash=None,
        error="the browser did not connect before its token expired",
    )


async def stream_refusal(db: Database, call_id_text: str, token: str) -> str | None:
    """Why a browser stream for this call must be refused before the media session sees it, or
    None. Only web calls take browser streams, only with their token, and only until it expires
    (a late one ends the call, as the timer would have). The media session spends the token."""
    try:
        call_id = uuid.UUID(call_id_text)
    except ValueError:
        return "not a call id"
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(
                    calls.c.medium, calls.c.status, calls.c.stream_token_hash, calls.c.stream_token_expires_at
                ).where(calls.c.id == call_id)
            )
        ).first()
    if row is None or row.medium != "web":
        return "no such web call"
    if not row.stream_token_hash or not hmac.compare_digest(row.stream_token_hash, hash_token(token)):
        return "bad token"
    if row.status not in WAITING:
        return "the call is not waiting for a browser"
    if row.stream_token_expires_at is None or row.stream_token_expires_at <= utcnow():
        await expire(db, call_id)
        return "the token has expired"
    return None
