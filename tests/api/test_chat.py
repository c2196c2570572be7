"""Text mode: the agent's dialogue over HTTP, without audio."""

from __future__ import annotations

from typing import Any

import httpx

from callwright.demo import DEMO_FLOW


def _agent(api: httpx.Client) -> dict[str, Any]:
    r = api.post("/v1/agents", json={"name": "Chat", "dialogue": {"engine": "flow", "flow": DEMO_FLOW}})
    return dict(r.json())


def test_a_chat_starts_with_the_greeting_and_the_first_question(api: httpx.Client) -> None:
    agent = _agent(api)
    r = api.post(f"/v1/agents/{agent['id']}/chat", json={"variables": {"first_name": "Ada"}})
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["replies"][0].startswith("Hi Ada, this is Riverside Dental")
    assert reply["replies"][-1] == "Can you make it?"
    assert reply["expecting"] == "yes_no" and reply["ended"] is False


def test_a_chat_runs_to_the_end_with_results(api: httpx.Client) -> None:
    agent = _agent(api)
    first = api.post(f"/v1/agents/{agent['id']}/chat", json={}).json()
    sid = first["session_id"]
    api.post(f"/v1/agents/{agent['id']}/chat", json={"session_id": sid, "text": "no"})
    api.post(f"/v1/agents/{agent['id']}/chat", json={"session_id": sid, "text": "thursday please"})
    last = api.post(f"/v1/agents/{agent['id']}/chat", json={"session_id": sid, "text": "one two three four"}).json()
    assert last["ended"] is True and last["outcome"] == "completed"
    assert last["results"]["new_day"] == "thursday" and last["results"]["verification_code"] == "1234"
    assert "Thursday" in " ".join(last["replies"])


def test_an_unusable_answer_repeats_the_question(api: httpx.Client) -> None:
    agent = _agent(api)
    sid = api.post(f"/v1/agents/{agent['id']}/chat", json={}).json()["session_id"]
    reply = api.post(f"/v1/agents/{agent['id']}/chat", json={"session_id": sid, "text": "purple"}).json()
    assert reply["replies"][-1] == "Can you make it?" and reply["ended"] is False


def test_another_organization_cannot_continue_a_chat(api: httpx.Client, other_org: httpx.Client) -> None:
    agent = _agent(api)
    sid = api.post(f"/v1/agents/{agent['id']}/chat", json={}).json()["session_id"]
    r = other_org.post(f"/v1/agents/{agent['id']}/chat", json={"session_id": sid, "text": "yes"})
    assert r.status_code == 404
