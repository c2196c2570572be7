"""A template that compiles but fails when rendered is recorded on the conversation, not hidden."""

from __future__ import annotations

import httpx


def test_a_render_time_template_failure_is_recorded_on_the_conversation(api: httpx.Client) -> None:
    r = api.post(
        "/v1/agents",
        json={
            "name": "Broken at render",
            "first_message": "Hi {{ first_name }}, you owe {{ amount // 0 }}.",
            "prompt": "Collect {{ amount }}.",
            "voicemail": {"action": "leave_message", "message": "Call back {{ 'x' + 1 }}"},
        },
    )
    assert r.status_code == 201, r.text  # it compiles: only rendering can find the fault
    r = api.post("/v1/calls", json={"agent_id": r.json()["id"], "to": "+14155552671", "variables": {"amount": 5}})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["prompt"] == "Collect 5."
    assert created["first_message"] == "Hi , you owe ."  # the failing part left out, not the whole greeting
    assert [e["template"] for e in created["render_errors"]] == ["first_message", "voicemail.message"]
    assert "ZeroDivisionError" in created["render_errors"][0]["error"]
    assert "TypeError" in created["render_errors"][1]["error"]
    assert created["dynamic_context"] is None
    stored = api.get(f"/v1/conversations/{created['id']}").json()
    assert stored["render_errors"] == created["render_errors"]


def test_a_call_whose_templates_render_has_no_render_errors(api: httpx.Client, agent: dict[str, object]) -> None:
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671", "variables": {"amount": "$5"}})
    assert r.status_code == 201
    assert r.json()["render_errors"] is None
    assert api.get(f"/v1/calls/{r.json()['id']}").json()["render_errors"] is None
