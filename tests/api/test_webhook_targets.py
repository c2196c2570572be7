"""Webhook targets and the delivery log through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from tests.conftest import ApiServer
from tests.support import client_for, new_key


def new_agent(client: httpx.Client) -> dict[str, Any]:
    r = client.post("/v1/agents", json={"name": "Hooks"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_new_target_shows_its_generated_secret_once(private_api: httpx.Client) -> None:
    agent = new_agent(private_api)
    r = private_api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["events"] == ["call.started", "call.ended", "call.failed", "call.analyzed"]
    listed = private_api.get(f"/v1/agents/{agent['id']}/webhooks").json()["data"]
    assert listed[0]["secret"] == "****" + created["secret"][-4:]


def test_a_given_secret_is_kept(private_api: httpx.Client) -> None:
    agent = new_agent(private_api)
    secret = "whsec_" + "A" * 32
    r = private_api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": "http://127.0.0.1:9/h", "secret": secret})
    assert r.status_code == 201, r.text
    assert r.json()["secret"] == secret


def test_a_secret_without_the_whsec_prefix_is_a_422(private_api: httpx.Client) -> None:
    agent = new_agent(private_api)
    r = private_api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": "http://127.0.0.1:9/h", "secret": "abc"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "secret"]


def test_an_unknown_event_is_a_422(private_api: httpx.Client) -> None:
    agent = new_agent(private_api)
    r = private_api.post(
        f"/v1/agents/{agent['id']}/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["call.exploded"]}
    )
    assert r.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook",
    ],
)
def test_a_private_url_is_refused_when_saved_with_the_reason(api: httpx.Client, url: str) -> None:
    agent = new_agent(api)
    r = api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": url})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body", "url"]
    assert "CALLWRIGHT_ALLOW_PRIVATE_URLS" in detail["msg"]


def test_a_url_with_another_scheme_is_refused(api: httpx.Client) -> None:
    agent = new_agent(api)
    r = api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": "file:///etc/passwd"})
    assert r.status_code == 422


def test_patch_changes_fields_and_rotating_shows_the_new_secret_once(private_api: httpx.Client) -> None:
    agent = new_agent(private_api)
    target = private_api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": "http://127.0.0.1:9/h"}).json()
    path = f"/v1/agents/{agent['id']}/webhooks/{target['id']}"
    r = private_api.patch(path, json={"events": ["call.ended"], "include_recording": True})
    assert r.status_code == 200, r.text
    assert r.json()["events"] == ["call.ended"] and r.json()["include_recording"] is True
    assert r.json()["secret"].startswith("****")
    rotated = "whsec_" + "B" * 32
    assert private_api.patch(path, json={"secret": rotated}).json()["secret"] == rotated


def test_delete_removes_the_target(private_api: httpx.Client) -> None:
    agent = new_agent(private_api)
    target = private_api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": "http://127.0.0.1:9/h"}).json()
    assert private_api.delete(f"/v1/agents/{agent['id']}/webhooks/{target['id']}").status_code == 204
    assert private_api.get(f"/v1/agents/{agent['id']}/webhooks").json()["data"] == []


def test_another_organizations_targets_are_not_found(
    private_api: httpx.Client, private_urls_server: ApiServer
) -> None:
    agent = new_agent(private_api)
    target = private_api.post(f"/v1/agents/{agent['id']}/webhooks", json={"url": "http://127.0.0.1:9/h"}).json()
    with client_for(private_urls_server.base_url, new_key(private_urls_server.db_url)) as stranger:
        own = new_agent(stranger)
        assert stranger.get(f"/v1/agents/{agent['id']}/webhooks").status_code == 404
        assert stranger.delete(f"/v1/agents/{own['id']}/webhooks/{target['id']}").status_code == 404
        assert stranger.delete(f"/v1/agents/{agent['id']}/webhooks/{target['id']}").status_code == 404
        assert stranger.get("/v1/webhook-deliveries").json()["data"] == []
    assert len(private_api.get(f"/v1/agents/{agent['id']}/webhooks").json()["data"]) == 1


def test_an_unknown_agent_has_no_targets(private_api: httpx.Client) -> None:
    assert private_api.get(f"/v1/agents/{uuid.uuid4()}/webhooks").status_code == 404


def test_the_delivery_log_starts_empty_and_filters(private_api: httpx.Client) -> None:
    r = private_api.get("/v1/webhook-deliveries", params={"status": "failed", "event": "call.ended"})
    assert r.status_code == 200, r.text
    assert r.json() == {"data": [], "next_cursor": None}


def test_an_unknown_delivery_cannot_be_retried(private_api: httpx.Client) -> None:
    assert private_api.post(f"/v1/webhook-deliveries/{uuid.uuid4()}/retry").status_code == 404
