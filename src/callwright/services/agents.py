"""Agents and their immutable versions: every change is a new version; calls pin the one they used."""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Row

from callwright.domain.agent import (
    AgentCreate,
    AgentOut,
    AgentSettings,
    AgentUpdate,
    AgentVersionOut,
    HttpTool,
    LlmDialogueConfig,
)
from callwright.net import InvalidHeader, validate_headers
from callwright.services.agent_secrets import mask_secrets, seal_secrets
from callwright.services.errors import Conflict, InvalidInput, NotFound
from callwright.services.pagination import MAX_LIMIT, encode_cursor, newest_first
from callwright.services.secrets import SecretBox
from callwright.services.url_check import check_customer_url
from callwright.store.db import Database
from callwright.store.tables import agent_versions, agents, context_cache
from callwright.store.types import utcnow


@dataclass(frozen=True)
class AgentVersion:
    """What a call runs with: the agent frozen at one version."""

    agent_id: uuid.UUID
    version_id: uuid.UUID
    name: str
    settings: AgentSettings


def _out(row: Row[Any], box: SecretBox) -> AgentOut:
    return AgentOut(
        id=str(row.id), version_id=str(row.version_id), version=row.version, name=row.name,
        created_at=row.created_at, updated_at=row.updated_at, archived=row.archived_at is not None,
        **mask_secrets(row.config, box),
    )


def _config(settings: AgentSettings) -> dict[str, Any]:
    return settings.model_dump(mode="json")


async def _check_context_url(settings: AgentSettings, allow_private_urls: bool) -> None:
    url = settings.dynamic_context.url
    if url is not None:
        await check_customer_url(str(url), allow_private=allow_private_urls, loc=["body", "dynamic_context", "url"])


async def _check_model_servers(settings: AgentSettings, allow_private_urls: bool) -> None:
    """An agent's own model server is a customer URL like any other: it may not point the
    platform at a private address (the operator's OPENAI_BASE_URL may)."""
    dialogue = settings.dialogue
    if not isinstance(dialogue, LlmDialogueConfig):
        return
    if dialogue.base_url is not None:
        await check_customer_url(
            str(dialogue.base_url), allow_private=allow_private_urls, loc=["body", "dialogue", "base_url"]
        )
    if dialogue.fallback.base_url is not None:
        await check_customer_url(
            str(dialogue.fallback.base_url), allow_private=allow_private_urls,
            loc=["body", "dialogue", "fallback", "base_url"],
        )


async def _check_tools(settings: AgentSettings, allow_private_urls: bool) -> None:
    """Refuse, at save time, an HTTP tool that could never be called: a URL at a private address
    (the client refuses it again at call time) or a header the client sets itself. The URLs are
    checked concurrently; the first tool at fault (in list order) is the one reported."""
    tools = [(index, tool) for index, tool in enumerate(settings.tools) if isinstance(tool, HttpTool)]
    for index, tool in tools:
        for name, value in tool.headers.items():
            try:
                validate_headers({name: value})
            except InvalidHeader as exc:
                raise InvalidInput(["body", "tools", index, "headers", name], exc.message, "invalid_header") from None
    results = await asyncio.gather(
        *(
            check_customer_url(str(tool.url), allow_private=allow_private_urls, loc=["body", "tools", index, "url"])
            for index, tool in tools
        ),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def create_agent(
    db: Database, org_id: uuid.UUID, body: AgentCreate, *, box: SecretBox, allow_private_urls: bool
) -> AgentOut:
    now = utcnow()
    agent_id, version_id = uuid.uuid4(), uuid.uuid4()
    settings = AgentSettings.model_validate(body.model_dump(exclude={"name"}))
    await _check_context_url(settings, allow_private_urls)
    await _check_tools(settings, allow_private_urls)
    await _check_model_servers(settings, allow_private_urls)
    config = seal_secrets(_config(settings), None, box)
    async with db.tx() as conn:
        await conn.execute(
            agents.insert().values(
                id=agent_id, org_id=org_id, name=body.name, version_id=version_id, version=1,
                config=config, created_at=now, updated_at=now,
            )
        )
        await conn.execute(
            agent_versions.insert().values(
                id=version_id, agent_id=agent_id, org_id=org_id, version=1,
                config={"name": body.name, **config}, created_at=now,
            )
        )
    forget_versions(db, org_id)
    return await get_agent(db, org_id, agent_id, box=box)


async def _row(db: Database, org_id: uuid.UUID, agent_id: uuid.UUID) -> Row[Any]:
    async with db.read() as conn:
        row = (
            await conn.execute(sa.select(agents).where(agents.c.id == agent_id, agents.c.org_id == org_id))
        ).first()
    if row is None:
        raise NotFound("agent not found")
    return row


async def get_agent(db: Database, org_id: uuid.UUID, agent_id: uuid.UUID, *, box: SecretBox) -> AgentOut:
    return _out(await _row(db, org_id, agent_id), box)


async def list_agents(
    db: Database, org_id: uuid.UUID, limit: int, cursor: str | None, include_archived: bool = False,
    *, box: SecretBox,
) -> tuple[list[AgentOut], str | None]:
    limit = min(max(limit, 1), MAX_LIMIT)
    conds = [agents.c.org_id == org_id, *newest_first(agents, cursor)]
    if not include_archived:
        conds.append(agents.c.archived_at.is_(None))
    q = sa.select(agents).where(*conds).order_by(agents.c.created_at.desc(), agents.c.id.desc()).limit(limit + 1)
    async with db.read() as conn:
        rows = (await conn.execute(q)).all()
    nxt = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return [_out(r, box) for r in rows[:limit]], nxt


async def update_agent(
    db: Database, org_id: uuid.UUID, agent_id: uuid.UUID, body: AgentUpdate, *, box: SecretBox,
    allow_private_urls: bool,
) -> AgentOut:
    row = await _row(db, org_id, agent_id)
    if row.archived_at is not None:
        raise NotFound("agent not found")
    changes = body.model_dump(exclude_unset=True)
    name = changes.pop("name", None) or row.name
    merged = seal_secrets({**row.config, **changes}, row.config, box, touched=frozenset(changes))
    try:
        settings = AgentSettings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(["body", *err["loc"]], err["msg"], err["type"]) from exc
    context_changed = "dynamic_context" in changes
    if context_changed:
        await _check_context_url(settings, allow_private_urls)
    if "tools" in changes:
        await _check_tools(settings, allow_private_urls)
    if "dialogue" in changes:
        await _check_model_servers(settings, allow_private_urls)
    now = utcnow()
    version_id = uuid.uuid4()
    config = _config(settings)
    async with db.tx() as conn:
        result = await conn.execute(
            agents.update()
            .where(agents.c.id == agent_id, agents.c.org_id == org_id, agents.c.version == row.version)
            .values(name=name, version_id=version_id, version=row.version + 1, config=config, updated_at=now)
        )
        if result.rowcount != 1:
            raise Conflict("the agent changed while this update was applied; retry")
        await conn.execute(
            agent_versions.insert().values(
                id=version_id, agent_id=agent_id, org_id=org_id, version=row.version + 1,
                config={"name": name, **config}, created_at=now,
            )
        )
        if context_changed:  # responses cached for the old endpoint or credentials are no longer valid
            await conn.execute(
                context_cache.delete().where(context_cache.c.org_id == org_id, context_cache.c.agent_id == agent_id)
            )
    forget_versions(db, org_id)
    return await get_agent(db, org_id, agent_id, box=box)


async def archive_agent(db: Database, org_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    await _row(db, org_id, agent_id)
    async with db.tx() as conn:
        await conn.execute(
            agents.update()
            .where(agents.c.id == agent_id, agents.c.org_id == org_id, agents.c.archived_at.is_(None))
            .values(archived_at=utcnow())
        )
    forget_versions(db, org_id)


async def list_versions(
    db: Database, org_id: uuid.UUID, agent_id: uuid.UUID, *, box: SecretBox
) -> list[AgentVersionOut]:
    await _row(db, org_id, agent_id)
    q = (
        sa.select(agent_versions)
        .where(agent_versions.c.agent_id == agent_id, agent_versions.c.org_id == org_id)
        .order_by(agent_versions.c.version.desc())
    )
    async with db.read() as conn:
        rows = (await conn.execute(q)).all()
    return [
        AgentVersionOut(id=str(r.id), agent_id=str(r.agent_id), version=r.version,
                        config=mask_secrets(r.config, box), created_at=r.created_at)
        for r in rows
    ]


async def current_version(db: Database, org_id: uuid.UUID, agent_id: uuid.UUID | None) -> AgentVersion | None:
    """The live version of an agent, or of the organization's default agent (its oldest active one)."""
    q = sa.select(agents).where(agents.c.org_id == org_id, agents.c.archived_at.is_(None))
    q = q.where(agents.c.id == agent_id) if agent_id else q.order_by(agents.c.created_at, agents.c.id).limit(1)
    row = await db.run_read(lambda conn: conn.execute(q).first())
    if row is None:
        return None
    return AgentVersion(
        agent_id=row.id, version_id=row.version_id, name=row.name,
        settings=AgentSettings.model_validate(row.config),
    )


VERSION_CACHE_TTL_S = 2.0
_version_cache: weakref.WeakKeyDictionary[
    Database, dict[tuple[uuid.UUID, uuid.UUID | None], tuple[float, AgentVersion]]
] = weakref.WeakKeyDictionary()
_inflight: weakref.WeakKeyDictionary[
    Database, dict[tuple[uuid.UUID, uuid.UUID | None], asyncio.Future[AgentVersion | None]]
] = weakref.WeakKeyDictionary()
_generations: weakref.WeakKeyDictionary[Database, dict[uuid.UUID, int]] = weakref.WeakKeyDictionary()


async def cached_current_version(
    db: Database, org_id: uuid.UUID, agent_id: uuid.UUID | None
) -> AgentVersion | None:
    """``current_version`` through a per-process cache, for the call-creation hot path.

    Staleness bound: a PATCH or DELETE made through this process drops the organization's entries
    at once; one made by another process (another worker or node) is seen within
    ``VERSION_CACHE_TTL_S`` seconds. Until then a new call runs with, and records, the previous
    version (``agent_version_id``), exactly as if it had been created just before the change.
    A missing or archived agent is never cached, so it is looked up every time.
    """
    cache = _version_cache.get(db)
    if cache is None:
        cache = _version_cache.setdefault(db, {})
    now = time.monotonic()
    key = (org_id, agent_id)
    hit = cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    # One lookup per key at a time: when an entry expires under load, the requests that need it
    # share one query instead of each running its own.
    inflight = _inflight.setdefault(db, {})
    pending = inflight.get(key)
    if pending is None:
        generations = _generations.setdefault(db, {})
        generation = generations.get(org_id, 0)
        pending = asyncio.ensure_future(current_version(db, org_id, agent_id))
        inflight[key] = pending

        def store(done: asyncio.Future[AgentVersion | None]) -> None:
            inflight.pop(key, None)
            # Not if the organization's agents changed while the lookup ran (it may be stale).
            if not done.cancelled() and done.exception() is None and generations.get(org_id, 0) == generation:
                version = done.result()
                if version is not None:
                    if len(cache) > 10_000:
                        cache.clear()
                    cache[key] = (now + VERSION_CACHE_TTL_S, version)

        pending.add_done_callback(store)
    return await asyncio.shield(pending)


def forget_versions(db: Database, org_id: uuid.UUID) -> None:
    """Drop the organization's cached versions (after any change to its agents)."""
    generations = _generations.setdefault(db, {})
    generations[org_id] = generations.get(org_id, 0) + 1
    cache = _version_cache.get(db)
    if cache:
        for key in [k for k in cache if k[0] == org_id]:
            cache.pop(key, None)


async def version_by_id(db: Database, org_id: uuid.UUID, version_id: uuid.UUID) -> AgentVersion:
    async with db.read() as conn:
        row = (
            await conn.execute(
                sa.select(agent_versions).where(
                    agent_versions.c.id == version_id, agent_versions.c.org_id == org_id
                )
            )
        ).first()
    if row is None:
        raise NotFound("agent version not found")
    config = dict(row.config)
    name = config.pop("name", "")
    return AgentVersion(
        agent_id=row.agent_id, version_id=row.id, name=name, settings=AgentSettings.model_validate(config)
    )
