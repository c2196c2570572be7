"""Secrets in an agent are write-only: encrypted at rest, masked on every read, kept when the
masked value comes back, replaced by a new one (API.md "Agents")."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import ApiServer
from tests.context_endpoint import ContextEndpoint

from callwright.store.db import Database
from callwright.store.tables import agent_versions, agents

TOKEN = "sk-live-abcdef-7890"
NEW_TOKEN = "sk-live-ghijkl-4321"
PASSWORD = "correct horse battery"
HEADER_VALUE = "hv-0123456789-zz"


@pytest.fixture
def endpoint() -> Iterator[ContextEndpoint]:
    with ContextEndpoint() as server:
        yield server


def bearer(url: str, token: str = TOKEN) -> dict[str, Any]:
    return {"enabled": True, "url": url, "auth": {"type": "bearer", "token": token}}


def create(api: httpx.Client, dynamic_context: dict[str, Any]) -> dict[str, Any]:
    r = api.post("/v1/agents", json={"name": "Secretive", "dynamic_context": dynamic_context})
    assert r.status_code == 201, r.text
    return dict(r.json())


def stored_configs(db_url: str, agent_id: str) -> list[dict[str, Any]]:
    """The agent's config and every version's config, as the database holds them."""

    async def read() -> list[dict[str, Any]]:
        db = Database(db_url)
        try:
            async with db.read() as conn:
                ident = uuid.UUID(agent_id)
                current = (await conn.execute(sa.select(agents.c.config).where(agents.c.id == ident))).scalar_one()
                versions = (
                    await conn.execute(sa.select(agent_versions.c.config).where(agent_versions.c.agent_id == ident))
                ).scalars().all()
            return [current, *versions]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_a_token_is_masked_on_create_get_list_and_versions(
    private_api: httpx.Client, endpoint: ContextEndpoint
) -> None:
    agent = create(private_api, bearer(endpoint.url))
    assert agent["dynamic_context"]["auth"]["token"] == "****7890"
    reads = [
        private_api.get(f"/v1/agents/{agent['id']}"),
        private_api.get("/v1/agents"),
        private_api.get(f"/v1/agents/{agent['id']}/versions"),
    ]
    for r in reads:
        assert r.status_code == 200 and TOKEN not in r.text
    assert reads[0].json()["dynamic_context"]["auth"]["token"] == "****7890"
    [listed] = [a for a in reads[1].json()["data"] if a["id"] == agent["id"]]
    assert listed["dynamic_context"]["auth"]["token"] == "****7890"
    assert reads[2].json()[0]["config"]["dynamic_context"]["auth"]["token"] == "****7890"


def test_the_database_holds_no_plain_secret(
    private_api: httpx.Client, private_urls_server: ApiServer, endpoint: ContextEndpoint
) -> None:
    agent = create(private_api, bearer(endpoint.url))
    basic = {"enabled": True, "url": endpoint.url, "auth": {"type": "basic", "username": "acme", "password": PASSWORD}}
    assert private_api.patch(f"/v1/agents/{agent['id']}", json={"dynamic_context": basic}).status_code == 200
    header = {"type": "header", "header_name": "X-Api-Key", "header_value": HEADER_VALUE}
    r = private_api.patch(f"/v1/agents/{agent['id']}", json={"dynamic_context": {**basic, "auth": header}})
    assert r.status_code == 200
    configs = stored_configs(private_urls_server.db_url, agent["id"])
    assert len(configs) == 4  # the agent and its three versions
    for config in configs:
        text = json.dumps(config)
        assert TOKEN not in text and PASSWORD not in text and HEADER_VALUE not in text
        auth = config["dynamic_context"]["auth"]
        secrets = [auth[k] for k in ("token", "password", "header_value") if auth.get(k) is not None]
        assert secrets and all(s.startswith("enc:v1:") for s in secrets)


def test_password_and_header_value_are_masked_and_the_user_name_is_not(
    private_api: httpx.Client, endpoint: ContextEndpoint
) -> None:
    basic = create(
        private_api,
        {"enabled": True, "url": endpoint.url, "auth": {"type": "basic", "username": "acme", "password": PASSWORD}},
    )
    assert basic["dynamic_context"]["auth"] == {
        "type": "basic", "username": "acme", "password": "****tery", "token": None, "header_name": None,
        "header_value": None,
    }
    header = create(
        private_api,
        {"url": endpoint.url, "auth": {"type": "header", "header_name": "X-Api-Key", "header_value": HEADER_VALUE}},
    )
    assert header["dynamic_context"]["auth"]["header_value"] == "****9-zz"
    assert header["dynamic_context"]["auth"]["header_name"] == "X-Api-Key"


def test_sending_the_masked_value_back_keeps_the_stored_secret(
    private_api: httpx.Client, endpoint: ContextEndpoint
) -> None:
    agent = create(private_api, bearer(endpoint.url))
    as_read = private_api.get(f"/v1/agents/{agent['id']}").json()["dynamic_context"]
    r = private_api.patch(f"/v1/agents/{agent['id']}", json={"dynamic_context": {**as_read, "timeout_s": 5}})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["dynamic_context"]["auth"]["token"] == "****7890"
    result = private_api.post(f"/v1/agents/{agent['id']}/dynamic-context/test").json()
    assert result["ok"], result
    assert endpoint.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_patch_that_leaves_dynamic_context_alone_keeps_the_secret(
    private_api: httpx.Client, endpoint: ContextEndpoint
) -> None:
    agent = create(private_api, bearer(endpoint.url))
    assert private_api.patch(f"/v1/agents/{agent['id']}", json={"prompt": "changed"}).status_code == 200
    assert private_api.post(f"/v1/agents/{agent['id']}/dynamic-context/test").json()["ok"]
    assert endpoint.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_new_token_replaces_the_stored_one(private_api: httpx.Client, endpoint: ContextEndpoint) -> None:
    agent = create(private_api, bearer(endpoint.url))
    r = private_api.patch(f"/v1/agents/{agent['id']}", json={"dynamic_context": bearer(endpoint.url, NEW_TOKEN)})
    assert r.status_code == 200 and r.json()["dynamic_context"]["auth"]["token"] == "****4321"
    assert private_api.post(f"/v1/agents/{agent['id']}/dynamic-context/test").json()["ok"]
    assert endpoint.requests[-1].headers["authorization"] == f"Bearer {NEW_TOKEN}"


def test_a_masked_value_with_no_matching_stored_secret_is_a_422(
    private_api: httpx.Client, endpoint: ContextEndpoint
) -> None:
    r = private_api.post("/v1/agents", json={"name": "X", "dynamic_context": bearer(endpoint.url, "****7890")})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "dynamic_context", "auth", "token"]
    agent = create(private_api, bearer(endpoint.url))
    r = private_api.patch(f"/v1/agents/{agent['id']}", json={"dynamic_context": bearer(endpoint.url, "****0000")})
    assert r.status_code == 422 and "masked value" in r.json()["detail"][0]["msg"]
    assert private_api.get(f"/v1/agents/{agent['id']}").json()["version"] == 1
