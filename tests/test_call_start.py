"""At call start the dynamic context is fetched and the texts rendered again with it, at its
precedence: above the contact, below the call's own variables (API.md "Templates and variables")."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.domain.agent import AgentCreate, DynamicContext
from callwright.domain.contact import ContactIn
from callwright.net import SafeHttpClient
from callwright.services import call_start, orgs
from callwright.services.agents import create_agent, version_by_id
from callwright.services.call_start import PreparedCall, prefetch, prepare_call
from callwright.services.calls import CallService, NewCall
from callwright.services.dispatch import NoDialer
from callwright.services.secrets import SecretBox
from callwright.store.db import Database
from callwright.store.tables import calls
from tests.context_endpoint import ContextEndpoint

box = SecretBox(b"call start key")
GREETING = "Hi {{ first_name }}, {{ tier }} tier, you owe {{ amount }}; balance {{ balance | default('unknown') }}."


@pytest.fixture
def endpoint() -> Iterator[ContextEndpoint]:
    with ContextEndpoint() as server:
        server.reply({"first_name": "Grace", "tier": "gold", "amount": "$999", "balance": "$12"})
        yield server


@pytest.fixture
async def client() -> AsyncIterator[SafeHttpClient]:
    async with SafeHttpClient(allow_private=True) as c:
        yield c


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'start.db'}")
    await database.migrate()
    yield database
    await database.dispose()


async def new_call(db: Database, context_url: str | None, enabled: bool = True, **call: Any) -> Row[Any]:
    org_id = (await orgs.create_key(db, f"org-{uuid.uuid4().hex[:6]}")).org_id
    agent = await create_agent(
        db, org_id,
        AgentCreate(
            name="Start", first_message=GREETING, prompt="Collect {{ amount }} at {{ 10 // (zero | default(1)) }}%.",
            dynamic_context=DynamicContext(enabled=enabled, url=context_url),  # type: ignore[arg-type]
        ),
        box=box, allow_private_urls=True,
    )
    contact = ContactIn(phone_number="+14155552671", first_name="Ann", attributes={"tier": "bronze", "plan": "basic"})
    request = NewCall(agent_id=uuid.UUID(agent.id), contact=contact, variables={"amount": "$5", "plan": "premium"})
    for name, value in call.items():
        setattr(request, name, value)
    created = await CallService(db, NoDialer()).create(org_id, request)
    return await row_of(db, created.id)


async def row_of(db: Database, call_id: str | uuid.UUID) -> Row[Any]:
    async with db.read() as conn:
        return (await conn.execute(sa.select(calls).where(calls.c.id == uuid.UUID(str(call_id))))).one()


async def start(db: Database, client: SafeHttpClient, row: Row[Any]) -> PreparedCall:
    version = await version_by_id(db, row.org_id, row.agent_version_id)
    return await prepare_call(db, client, box, row, version.settings)


async def test_context_variables_win_over_the_contact_and_lose_to_the_call(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    row = await new_call(db, endpoint.url)
    assert row.first_message == "Hi Ann, bronze tier, you owe $5; balance unknown."  # the preview
    prepared = await start(db, client, row)
    assert prepared.first_message == "Hi Grace, gold tier, you owe $5; balance $12."
    assert prepared.prompt == "Collect $5 at 10%."
    names = ("first_name", "tier", "amount", "plan", "balance")
    assert [prepared.variables[k] for k in names] == ["Grace", "gold", "$5", "premium", "$12"]
    assert prepared.context is not None and prepared.context.ok
    assert prepared.dynamic_context_ms is not None and prepared.dynamic_context_ms > 0
    stored = await row_of(db, row.id)
    assert stored.first_message == prepared.first_message and stored.prompt == prepared.prompt
    assert stored.variables == prepared.variables
    assert stored.dynamic_context == {
        "ok": True, "status_code": 200, "latency_ms": prepared.dynamic_context_ms, "error": None, "cached": False,
    }
    assert stored.render_errors is None
    [seen] = endpoint.requests
    assert seen.json()["contact_number"] == "+14155552671" and seen.headers["x-room-sid"] == str(row.id)


async def test_a_greeting_given_with_the_call_is_rendered_again_with_the_context(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    row = await new_call(db, endpoint.url, first_message="Custom hello {{ first_name }}")
    assert row.first_message == "Custom hello Ann"  # the preview
    prepared = await start(db, client, row)
    assert prepared.first_message == "Custom hello Grace"


async def test_a_call_variable_equal_to_the_contacts_value_still_wins_over_the_context(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    row = await new_call(db, endpoint.url, variables={"first_name": "Ann", "amount": "$5"})
    prepared = await start(db, client, row)
    assert prepared.variables["first_name"] == "Ann"


async def test_a_failed_fetch_is_recorded_and_the_call_goes_on_with_its_own_variables(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    endpoint.reply(status=500, raw=b"down")
    row = await new_call(db, endpoint.url)
    prepared = await start(db, client, row)
    assert prepared.first_message == row.first_message
    assert prepared.variables["first_name"] == "Ann"
    stored = await row_of(db, row.id)
    assert stored.dynamic_context["ok"] is False
    assert stored.dynamic_context["error"] == "HTTP 500 from the context endpoint"


async def test_a_template_that_fails_only_with_the_context_is_recorded_at_start(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    endpoint.reply({"zero": 0})
    row = await new_call(db, endpoint.url)
    assert row.render_errors is None
    await start(db, client, row)
    stored = await row_of(db, row.id)
    [error] = stored.render_errors
    assert error["template"] == "prompt" and "ZeroDivisionError" in error["error"]


async def test_with_dynamic_context_off_nothing_is_fetched_and_the_created_texts_stand(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    row = await new_call(db, endpoint.url, enabled=False)
    prepared = await start(db, client, row)
    assert prepared.context is None and prepared.dynamic_context_ms is None
    assert (prepared.first_message, prepared.prompt) == (row.first_message, row.prompt)
    assert endpoint.requests == []
    assert (await row_of(db, row.id)).dynamic_context is None


async def test_the_prefetch_at_dial_time_leaves_the_answered_call_nothing_to_wait_for(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    row = await new_call(db, endpoint.url)
    await prefetch(db, client, box, row.id)
    prepared = await start(db, client, await row_of(db, row.id))
    assert prepared.first_message == "Hi Grace, gold tier, you owe $5; balance $12."
    assert prepared.context is not None and prepared.context.ok
    assert prepared.waited_ms < 100
    assert len(endpoint.requests) == 1


async def test_a_fetch_in_flight_elsewhere_is_awaited_not_repeated(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint
) -> None:
    row = await new_call(db, endpoint.url)
    first, second = await asyncio.gather(start(db, client, row), start(db, client, row))
    assert len(endpoint.requests) == 1
    assert first.first_message == second.first_message == "Hi Grace, gold tier, you owe $5; balance $12."


async def test_a_claim_left_by_a_dead_fetcher_is_taken_over_after_its_timeout(
    db: Database, client: SafeHttpClient, endpoint: ContextEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_start, "TAKEOVER_GRACE_S", 0.1)
    row = await new_call(db, endpoint.url)
    async with db.tx() as conn:  # a process claimed the fetch, then died
        await conn.execute(calls.update().where(calls.c.id == row.id).values(dynamic_context=call_start.PENDING))
    version = await version_by_id(db, row.org_id, row.agent_version_id)
    settings = version.settings.model_copy(
        update={"dynamic_context": version.settings.dynamic_context.model_copy(update={"timeout_s": 0.2})}
    )
    prepared = await prepare_call(db, client, box, row, settings)
    assert prepared.context is not None and prepared.context.ok
    assert len(endpoint.requests) == 1
