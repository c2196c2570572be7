"""The dynamic-context Test route against a real loopback endpoint, and the URL check when a
dynamic-context URL is saved (no loopback, private or metadata address unless allowed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.context_endpoint import ContextEndpoint

from callwright.domain.agent import SAMPLE_CONTACT_NUMBER


@pytest.fixture
def endpoint() -> Iterator[ContextEndpoint]:
    with ContextEndpoint() as server:
        yield server


def agent_with(api: httpx.Client, dynamic_context: dict[str, Any], **fields: Any) -> str:
    r = api.post("/v1/agents", json={"name": "Ctx", "dynamic_context": dynamic_context, **fields})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_the_test_route_returns_status_latency_and_merged_variables(
    private_api: httpx.Client, endpoint: ContextEndpoint
) -> None:
    endpoint.reply([{"tier": "silver", "name": "Ann"}, {"tier": "gold"}])
    agent_id = agent_with(private_api, {"enabled": True, "url": endpoint.url})
    r = private_api.post(f"/v1/agents/{agent_id}/dynamic-context/test")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"ok", "status_code", "latency_ms", "variables", "error"}
    assert body["ok"] is True and body["status_code"] == 200 and body["error"] is None
    assert body["variables"] == {"tier": "gold", "name": "Ann"}
    assert body["latency_ms"] > 0


def test_the_test_route_reports_the_endpoints_failure(private_api: httpx.Client, endpoint: ContextEndpoint) -> None:
    endpoint.reply({"tier": "gold"}, status=401)
    agent_id = agent_with(private_api, {"enabled": True, "url": endpoint.url})
    body = private_api.post(f"/v1/agents/{agent_id}/dynamic-context/test").json()
    assert body["ok"] is False and body["status_code"] == 401 and body["variables"] == {}
    assert body["error"] == "HTTP 401 from the context endpoint"


def test_the_saved_config_is_tested_while_still_disabled_with_default_sample_values(
    private_api: httpx.Client, endpoint: ContextEndpoint
) -> None:
    phone = {"provider": "simulator", "from_number": "+14155550100"}
    agent_id = agent_with(private_api, {"enabled": False, "url": endpoint.url}, phone=phone)
    assert private_api.post(f"/v1/agents/{agent_id}/dynamic-context/test").json()["ok"] is True
    [seen] = endpoint.requests
    assert seen.json() == {
        "agent_uuid": agent_id, "direction": "outbound", "agent_number": "+14155550100",
        "contact_number": SAMPLE_CONTACT_NUMBER,
    }
    assert seen.headers["x-medium"] == "phone" and seen.headers["x-room-sid"]


def test_the_sample_values_given_are_the_ones_sent(private_api: httpx.Client, endpoint: ContextEndpoint) -> None:
    agent_id = agent_with(private_api, {"enabled": True, "url": endpoint.url})
    sample = {
        "direction": "inbound", "medium": "web", "contact_number": "+442071838750", "agent_number": "+14155550199",
        "external_id": "crm-7",
    }
    assert private_api.post(f"/v1/agents/{agent_id}/dynamic-context/test", json=sample).json()["ok"] is True
    [seen] = endpoint.requests
    assert seen.json() == {
        "agent_uuid": agent_id, "direction": "inbound", "agent_number": "+14155550199",
        "contact_number": "+442071838750", "external_id": "crm-7",
    }
    assert seen.headers["x-medium"] == "web" and seen.headers["x-external-id"] == "crm-7"
    assert seen.headers["x-direction"] == "inbound"


def test_testing_an_agent_without_a_url_is_a_409(private_api: httpx.Client) -> None:
    agent_id = agent_with(private_api, {"enabled": False})
    r = private_api.post(f"/v1/agents/{agent_id}/dynamic-context/test")
    assert r.status_code == 409 and "dynamic_context.url" in r.json()["detail"]


def test_testing_an_unknown_agent_is_a_404(private_api: httpx.Client) -> None:
    r = private_api.post("/v1/agents/00000000-0000-4000-8000-000000000000/dynamic-context/test")
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/context", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata service"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("https://me:pw@crm.example.com/ctx", "the URL must not contain a user name or password"),
    ],
)
def test_a_url_that_cannot_be_public_is_refused_when_saved(api: httpx.Client, url: str, why: str) -> None:
    r = api.post("/v1/agents", json={"name": "X", "dynamic_context": {"enabled": True, "url": url}})
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "dynamic_context", "url"]
    assert why in error["msg"]


def test_a_patch_to_a_private_url_is_refused_and_changes_nothing(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={"name": "X"})
    agent_id = r.json()["id"]
    r = api.patch(f"/v1/agents/{agent_id}", json={"dynamic_context": {"url": "http://192.168.1.10/ctx"}})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "dynamic_context", "url"]
    assert "a private address" in r.json()["detail"][0]["msg"]
    assert api.get(f"/v1/agents/{agent_id}").json()["version"] == 1


def test_a_name_that_does_not_resolve_yet_is_accepted_and_checked_at_fetch_time(api: httpx.Client) -> None:
    url = "https://context.invalid/ctx"
    r = api.post("/v1/agents", json={"name": "X", "dynamic_context": {"enabled": True, "url": url}})
    assert r.status_code == 201, r.text
    body = api.post(f"/v1/agents/{r.json()['id']}/dynamic-context/test").json()
    assert body["ok"] is False and body["error"].startswith("the context URL was refused: cannot resolve")
