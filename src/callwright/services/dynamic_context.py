"""Dynamic context: the one POST to the customer's own API before a conversation (API.md
"Dynamic context", seed 001), whose JSON answer becomes template variables.

The endpoint is customer code on the far side of the internet, so nothing it does may break a
call: every failure (refused URL, timeout, non-2xx, junk body, too large) comes back as a
``ContextResult`` with ``ok=False`` and a precise ``error``, and the call goes on without those
variables. Requests go through the SSRF-safe client; credentials are decrypted only here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from callwright.domain.agent import DynamicContext, DynamicContextTest
from callwright.net import FetchError, FetchTimeout, Limits, ResponseTooLarge, SafeHttpClient, UrlRefused
from callwright.services.agents import current_version
from callwright.services.customer_auth import auth_headers
from callwright.services.errors import Conflict, NotFound
from callwright.services.secrets import SecretBox, SecretError
from callwright.store.db import Database
from callwright.store.tables import context_cache
from callwright.store.types import utcnow

log = logging.getLogger("callwright.dynamic_context")

MAX_CONTEXT_BYTES = 256 * 1024
CONNECT_TIMEOUT_S = 5.0
_MAX_CACHE_KEY = 200


@dataclass(frozen=True, slots=True)
class ContextResult:
    ok: bool
    status_code: int | None
    latency_ms: float
    variables: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cached: bool = False

    def outcome(self) -> dict[str, Any]:
        """What the conversation records of the fetch; never the values (they are in ``variables``)."""
        return {
            "ok": self.ok, "status_code": self.status_code, "latency_ms": round(self.latency_ms, 1),
            "error": self.error, "cached": self.cached,
        }


class _BadBody(ValueError):
    """The response body is not a JSON object or an array of objects."""


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _no_constants(name: str) -> Any:
    raise _BadBody(f"the response is not valid JSON ({name} is not a JSON value)")


def parse_variables(body: bytes) -> dict[str, Any]:
    """The variables of a response body: a JSON object, or an array of objects merged in order
    (later keys win). Raises ``_BadBody`` saying what is wrong with anything else."""
    if not body.strip():
        raise _BadBody("the response body is empty; expected a JSON object")
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except _BadBody:
        raise
    except UnicodeDecodeError:
        raise _BadBody("the response is not valid JSON (it is not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise _BadBody(f"the response is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise _BadBody(f"the response is not valid JSON ({exc})") from None
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        merged: dict[str, Any] = {}
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise _BadBody(
                    f"item {index} of the response array is a JSON {_json_type(item)}; expected an object"
                )
            merged.update(item)
        return merged
    raise _BadBody(f"the response is a JSON {_json_type(data)}; expected an object or an array of objects")


@dataclass(frozen=True, slots=True)
class ContextQuery:
    """What the platform tells the customer's endpoint about the conversation (seed 001)."""

    agent_id: uuid.UUID | str
    direction: str
    medium: str
    agent_number: str | None
    contact_number: str | None
    external_id: str | None
    room_sid: uuid.UUID | str

    def request(self) -> tuple[dict[str, str], bytes]:
        """The headers (without auth) and the JSON body, as seed 001 documents them."""
        payload: dict[str, Any] = {
            "agent_uuid": str(self.agent_id), "direction": self.direction, "agent_number": self.agent_number,
            "contact_number": self.contact_number,
        }
        if self.external_id is not None:
            payload["external_id"] = self.external_id
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Agent-UUID": str(self.agent_id),
            "X-Direction": self.direction,
            "X-Medium": self.medium,
            "X-Room-SID": str(self.room_sid),
        }
        if self.agent_number is not None:
            headers["X-Agent-Number"] = self.agent_number
        if self.contact_number is not None:
            headers["X-Contact-Number"] = self.contact_number
        if self.medium == "web" and self.external_id is not None:
            headers["X-External-ID"] = self.external_id
        return headers, json.dumps(payload, ensure_ascii=False).encode()

    def cache_key(self) -> str | None:
        """Who the context is about: the contact's number (the external ID on the web), with the
        direction and medium the endpoint was told, since it may answer differently for each."""
        ident = (self.external_id or self.contact_number) if self.medium == "web" else self.contact_number
        if not ident:
            return None
        key = f"{self.medium}:{self.direction}:{ident}"
        if len(key) > _MAX_CACHE_KEY:
            key = f"{self.medium}:{self.direction}:sha256:{hashlib.sha256(ident.encode()).hexdigest()}"
        return key


def _fetch_error(exc: FetchError, config: DynamicContext) -> str:
    if isinstance(exc, UrlRefused):
        return f"the context URL was refused: {exc.message}"
    if isinstance(exc, FetchTimeout):
        if exc.kind == "connect_timeout":
            return f"could not connect to the context endpoint within {min(CONNECT_TIMEOUT_S, config.timeout_s):g} s"
        return f"the context endpoint did not answer within {config.timeout_s:g} s"
    if isinstance(exc, ResponseTooLarge):
        return f"response larger than {MAX_CONTEXT_BYTES // 1024} KiB"
    return exc.message


async def fetch_context(
    client: SafeHttpClient, box: SecretBox, config: DynamicContext, query: ContextQuery
) -> ContextResult:
    """POST once to the configured URL and return its variables, or why there are none.

    ``config.timeout_s`` bounds the whole exchange; the body is capped at ``MAX_CONTEXT_BYTES``.
    Never raises for anything the endpoint or its configuration does."""
    started = time.perf_counter()

    def failed(error: str, status_code: int | None = None) -> ContextResult:
        return ContextResult(False, status_code, (time.perf_counter() - started) * 1000, {}, error)

    if config.url is None:
        return failed("no dynamic context URL is configured")
    headers, body = query.request()
    try:
        headers.update(auth_headers(config.auth, box))
    except SecretError:
        return failed("the stored credentials cannot be decrypted with this server's secret key; save them again")
    limits = Limits(
        connect_timeout_s=min(CONNECT_TIMEOUT_S, config.timeout_s),
        total_timeout_s=config.timeout_s,
        max_response_bytes=MAX_CONTEXT_BYTES,
    )
    try:
        response = await client.request("POST", str(config.url), headers=headers, body=body, limits=limits)
    except FetchError as exc:
        return failed(_fetch_error(exc, config))
    except Exception as exc:  # a bug here must not cost the caller their call
        log.exception("dynamic context request failed unexpectedly")
        return failed(f"internal error while fetching the context ({type(exc).__name__})")
    if not response.is_success:
        note = " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
        return failed(f"HTTP {response.status_code} from the context endpoint{note}", response.status_code)
    try:
        variables = parse_variables(response.body)
    except _BadBody as exc:
        return failed(str(exc), response.status_code)
    return ContextResult(True, response.status_code, (time.perf_counter() - started) * 1000, variables, None)


# --- the per-contact cache --------------------------------------------------------------------


async def _cached(db: Database, org_id: uuid.UUID, agent_id: uuid.UUID, key: str) -> dict[str, Any] | None:
    q = sa.select(context_cache.c.variables).where(
        context_cache.c.org_id == org_id, context_cache.c.agent_id == agent_id,
        context_cache.c.contact_key == key, context_cache.c.expires_at > utcnow(),
    )
    async with db.read() as conn:
        found = (await conn.execute(q)).scalar_one_or_none()
    return dict(found) if isinstance(found, dict) else None


async def _remember(
    db: Database, org_id: uuid.UUID, agent_id: uuid.UUID, key: str, variables: dict[str, Any], ttl_s: int
) -> None:
    now = utcnow()
    mine = (context_cache.c.org_id == org_id) & (context_cache.c.agent_id == agent_id)
    try:
        async with db.tx() as conn:
            # This entry, and the agent's expired ones, so the table holds only live entries.
            await conn.execute(
                context_cache.delete().where(
                    mine, (context_cache.c.contact_key == key) | (context_cache.c.expires_at <= now)
                )
            )
            await conn.execute(
                context_cache.insert().values(
                    org_id=org_id, agent_id=agent_id, contact_key=key, variables=variables,
                    expires_at=now + timedelta(seconds=ttl_s),
                )
            )
    except IntegrityError:
        pass  # another call for the same contact stored it at the same moment


async def load_context(
    db: Database,
    client: SafeHttpClient,
    box: SecretBox,
    config: DynamicContext,
    org_id: uuid.UUID,
    agent_id: uuid.UUID,
    query: ContextQuery,
) -> ContextResult:
    """``fetch_context`` through the per-contact cache (``config.cache_ttl_s``; 0 turns it off).
    A hit skips the request; only successes are stored. The cache is a table, so every process
    shares it. A cache the database cannot serve is skipped, never a reason to fail."""
    key = query.cache_key()
    use_cache = config.cache_ttl_s > 0 and key is not None
    if use_cache and key is not None:
        started = time.perf_counter()
        try:
            hit = await _cached(db, org_id, agent_id, key)
        except SQLAlchemyError:
            log.warning("dynamic context cache read failed; fetching", exc_info=True)
            hit = None
        if hit is not None:
            return ContextResult(True, None, (time.perf_counter() - started) * 1000, hit, None, cached=True)
    result = await fetch_context(client, box, config, query)
    if use_cache and key is not None and result.ok:
        try:
            await _remember(db, org_id, agent_id, key, result.variables, config.cache_ttl_s)
        except SQLAlchemyError:
            log.warning("dynamic context cache write failed", exc_info=True)
    return result


# --- the Test button --------------------------------------------------------------------------


async def run_context_test(
    db: Database,
    client: SafeHttpClient,
    box: SecretBox,
    org_id: uuid.UUID,
    agent_id: uuid.UUID,
    sample: DynamicContextTest,
) -> ContextResult:
    """Run the agent's saved request with sample values, even while it is disabled (so it can be
    tried before it is switched on). Never uses or fills the cache: it tests the endpoint."""
    version = await current_version(db, org_id, agent_id)
    if version is None:
        raise NotFound("agent not found")
    config = version.settings.dynamic_context
    if config.url is None:
        # The agent's state forbids the request, not its input: 409, as the contract documents it.
        raise Conflict("this agent has no dynamic_context.url; save one (PATCH the agent) before testing it")
    return await fetch_context(
        client, box, config,
        ContextQuery(
            agent_id=version.agent_id, direction=sample.direction, medium=sample.medium,
            agent_number=sample.agent_number or version.settings.phone.from_number,
            contact_number=sample.contact_number, external_id=sample.external_id, room_sid=f"test-{uuid.uuid4()}",
        ),
    )
