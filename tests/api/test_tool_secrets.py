"""An HTTP tool's credentials are write-only like the dynamic-context ones (masked on every read,
kept when the masked value comes back, encrypted at rest), and its URL is checked when it is
saved (API.md "Agents")."""

from __future__ import annotations

import json
from typing import Any

import httpx
from tests.api.test_agent_secrets import stored_configs
from tests.conftest import ApiServer

TOKEN = "tool-token-abcd-5678"
NEW_TOKEN = "tool-token-efgh-9999"
PASSWORD = "tool password 4321"
URL = "https://api.example.com/orders"


def http_tool(name: str = "lookup_order", url: str = URL, **auth: Any) -> dict[str, Any]:
    return {"type": "http", "name": name, "url": url, "auth": auth or {"type": "bearer", "token": TOKEN}}


def create(api: httpx.Client, tools: list[dict[str, Any]]) -> dict[str, Any]:
    r = api.post("/v1/agents", json={"name": "Tooled", "tools": tools})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_tool_token_is_masked_on_create_get_list_and_versions(api: httpx.Client) -> None:
    agent = create(api, [{"type": "end_call"}, http_tool()])
    assert agent["tools"][1]["auth"]["token"] == "****5678"
    reads = [
        api.get(f"/v1/agents/{agent['id']}"),
        api.get("/v1/agents"),
        api.get(f"/v1/agents/{agent['id']}/versions"),
    ]
    for r in reads:
        assert r.status_code == 200 and TOKEN not in r.text
    assert reads[0].json()["tools"][1]["auth"]["token"] == "****5678"
    assert reads[2].json()[0]["config"]["tools"][1]["auth"]["token"] == "****5678"


def test_the_database_holds_no_plain_tool_secret(api: httpx.Client, api_server: ApiServer) -> None:
    tools = [http_tool(), http_tool("check_stock", type="basic", username="acme", password=PASSWORD)]
    agent = create(api, tools)
    configs = stored_configs(api_server.db_url, agent["id"])
    assert len(configs) == 2  # the agent and its first version
    for config in configs:
        assert TOKEN not in json.dumps(config) and PASSWORD not in json.dumps(config)
        assert config["tools"][0]["auth"]["token"].startswith("enc:v1:")
        assert config["tools"][1]["auth"]["password"].startswith("enc:v1:")


def stored_tool_secrets(server: ApiServer, agent_id: str) -> list[str]:
    """The encrypted secret of each tool of the agent's current config, in order."""
    tools = stored_configs(server.db_url, agent_id)[0]["tools"]
    return [t["auth"].get("token") or t["auth"]["password"] for t in tools]


def test_sending_the_tools_back_as_read_keeps_each_stored_secret(api: httpx.Client, api_server: ApiServer) -> None:
    agent = create(api, [http_tool(), http_tool("check_stock", type="basic", username="acme", password=PASSWORD)])
    before = stored_tool_secrets(api_server, agent["id"])
    as_read = api.get(f"/v1/agents/{agent['id']}").json()["tools"]
    r = api.patch(f"/v1/agents/{agent['id']}", json={"tools": [{**t, "timeout_s": 5} for t in as_read]})
    assert r.status_code == 200, r.text
    assert [t["auth"].get("token") or t["auth"]["password"] for t in r.json()["tools"]] == ["****5678", "****4321"]
    assert stored_tool_secrets(api_server, agent["id"]) == before


def test_a_new_tool_token_replaces_the_stored_one(api: httpx.Client, api_server: ApiServer) -> None:
    agent = create(api, [http_tool()])
    before = stored_tool_secrets(api_server, agent["id"])
    r = api.patch(f"/v1/agents/{agent['id']}", json={"tools": [http_tool(type="bearer", token=NEW_TOKEN)]})
    assert r.status_code == 200 and r.json()["tools"][0]["auth"]["token"] == "****9999"
    assert stored_tool_secrets(api_server, agent["id"]) != before


def test_a_reordered_tool_keeps_its_own_secret(api: httpx.Client, api_server: ApiServer) -> None:
    agent = create(api, [http_tool(), http_tool("check_stock", token=NEW_TOKEN, type="bearer")])
    before = stored_tool_secrets(api_server, agent["id"])
    as_read = api.get(f"/v1/agents/{agent['id']}").json()["tools"]
    r = api.patch(f"/v1/agents/{agent['id']}", json={"tools": list(reversed(as_read))})
    assert r.status_code == 200, r.text
    assert stored_tool_secrets(api_server, agent["id"]) == list(reversed(before))
    assert {t["name"]: t["auth"]["token"] for t in r.json()["tools"]} == {
        "lookup_order": "****5678", "check_stock": "****9999",
    }


def test_a_masked_tool_secret_with_no_stored_match_is_a_422(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={"name": "X", "tools": [http_tool(type="bearer", token="****5678")]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "tools", 0, "auth", "token"]


def test_a_tool_url_at_a_private_address_is_a_422(api: httpx.Client) -> None:
    tools = [{"type": "end_call"}, http_tool(url="http://127.0.0.1:8080/orders")]
    r = api.post("/v1/agents", json={"name": "X", "tools": tools})
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "tools", 1, "url"] and "CALLWRIGHT_ALLOW_PRIVATE_URLS" in error["msg"]
    agent = create(api, [http_tool()])
    r = api.patch(f"/v1/agents/{agent['id']}", json={"tools": [http_tool(url="http://169.254.169.254/latest")]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "tools", 0, "url"]


def test_a_tool_url_at_a_private_address_is_accepted_when_private_urls_are_allowed(
    private_api: httpx.Client,
) -> None:
    create(private_api, [http_tool(url="http://127.0.0.1:8080/orders")])


def test_a_tool_header_the_client_sets_itself_is_a_422(api: httpx.Client) -> None:
    tool = {**http_tool(), "headers": {"X-Shop": "acme", "Content-Length": "12"}}
    r = api.post("/v1/agents", json={"name": "X", "tools": [tool]})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "tools", 0, "headers", "Content-Length"]
