"""A call body's simulated callee with a malformed pause marker is refused with a 422 that says why."""

from __future__ import annotations

from typing import Any

import httpx


def test_a_pause_over_the_limit_is_a_422_naming_the_line(api: httpx.Client, agent: dict[str, Any]) -> None:
    body = {"agent_id": agent["id"], "to": "+14155552671", "simulated_callee": {"says": ["one <pause 9s> two"]}}
    r = api.post("/v1/calls", json=body)
    assert r.status_code == 422
    text = r.text
    assert "simulated_callee" in text and "too long" in text and "<pause 900ms>" in text


def test_a_well_formed_pause_and_backchannels_are_accepted(api: httpx.Client, agent: dict[str, Any]) -> None:
    callee = {"says": ["555 0123 <pause 900ms> 4567"], "backchannels": ["uh-huh"]}
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+14155552671", "simulated_callee": callee})
    assert r.status_code in (200, 201, 202), r.text
