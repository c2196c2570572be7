"""A context endpoint that hangs leaves the call working: it waits no longer than the agent's
timeout, greets without the context's variables, and records why (DESIGN.md, misbehaving
customer endpoints)."""

from __future__ import annotations

from typing import Any

from tests.context_endpoint import ContextEndpoint
from tests.e2e.conftest import VoiceServer

from callwright.demo import DEMO_FLOW


def test_a_hanging_context_endpoint_costs_its_timeout_and_nothing_else(voice_server: VoiceServer) -> None:
    flow: dict[str, Any] = {**DEMO_FLOW, "nodes": {**DEMO_FLOW["nodes"]}}
    flow["nodes"][flow["start"]] = {**flow["nodes"][flow["start"]], "say": "Hello {{ first_name || there }}."}
    with ContextEndpoint() as context:
        context.hang = True
        r = voice_server.api.post("/v1/agents", json={
            "name": "Hanging context",
            "dialogue": {"engine": "flow", "flow": flow},
            "dynamic_context": {"enabled": True, "url": context.url, "timeout_s": 0.5},
        })
        assert r.status_code == 201, r.text
        r = voice_server.api.post("/v1/calls", json={
            "agent_id": r.json()["id"], "to": "+15550100001",
            "simulated_callee": {"says": ["yes"], "dtmf": {"verify": "4567"}},
        })
        assert r.status_code == 201, r.text
        call = voice_server.wait_for_end(r.json()["id"])
        assert len(context.requests) == 1
    assert call["status"] == "completed", call
    assert call["dynamic_context"]["ok"] is False
    assert call["dynamic_context"]["error"] == "the context endpoint did not answer within 0.5 s"
    assert 450 <= call["latency"]["dynamic_context_ms"] < 2000
    greeting = next(t["text"] for t in call["transcript"] if t["role"] == "agent")
    assert "Hello there." in greeting
