"""Every route needs a key; every resource belongs to the key's organization."""

from __future__ import annotations

import httpx
from tests.conftest import ApiServer


def test_a_request_without_a_key_is_401(api_server: ApiServer) -> None:
    r = httpx.get(f"{api_server.base_url}/v1/agents")
    assert r.status_code == 401
    assert "API key" in r.json()["detail"]


def test_an_unknown_key_is_401(api_server: ApiServer) -> None:
    r = httpx.get(f"{api_server.base_url}/v1/agents", headers={"Authorization": "Bearer cw_live_nope"})
    assert r.status_code == 401


def test_another_organizations_agent_is_404(agent: dict[str, object], other_org: httpx.Client) -> None:
    assert other_org.get(f"/v1/agents/{agent['id']}").status_code == 404


def test_another_organizations_call_is_404(
    api: httpx.Client, agent: dict[str, object], other_org: httpx.Client
) -> None:
    call = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671"}).json()
    assert other_org.get(f"/v1/calls/{call['id']}").status_code == 404
    assert other_org.post(f"/v1/calls/{call['id']}/cancel").status_code == 404
    assert other_org.get("/v1/conversations").json()["data"] == []


def test_an_organization_cannot_call_with_another_organizations_agent(
    agent: dict[str, object], other_org: httpx.Client
) -> None:
    r = other_org.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671"})
    assert r.status_code == 404
    assert r.json()["detail"] == f"no active agent with id {agent['id']}"


def test_health_metrics_and_openapi_are_served(api_server: ApiServer) -> None:
    base = api_server.base_url
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    assert "callwright_http_request_seconds" in httpx.get(f"{base}/metrics").text
    spec = httpx.get(f"{base}/openapi.json").json()
    assert "/v1/calls" in spec["paths"] and "/ai/phone-calls/action/call" in spec["paths"]
    assert httpx.get(f"{base}/docs").status_code == 200
