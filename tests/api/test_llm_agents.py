"""LLM agents over the API: honest about a missing model server, and chat through the same
engine as a call (against a local server that speaks the Chat Completions protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import ApiServer, _api_server
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.support import client_for, new_key

NEEDS_SERVER = "needs an OpenAI-compatible server: set OPENAI_BASE_URL"
LLM = {"engine": "llm", "model": "fake-model", "timeout_s": 3}


def _llm_agent(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    r = api.post("/v1/agents", json={"name": "Prompted", "prompt": "You are helpful.", "dialogue": LLM, **fields})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_an_llm_agent_without_a_model_server_is_created_with_a_warning(api: httpx.Client) -> None:
    agent = _llm_agent(api)
    assert len(agent["warnings"]) == 1 and NEEDS_SERVER in agent["warnings"][0]
    assert api.get(f"/v1/agents/{agent['id']}").json()["warnings"] == agent["warnings"]


def test_a_flow_agent_has_no_warnings(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={"name": "Flow"})
    assert r.json()["warnings"] == []


def test_a_call_with_an_llm_agent_that_cannot_run_is_refused_with_the_same_words(api: httpx.Client) -> None:
    agent = _llm_agent(api)
    r = api.post("/v1/calls", json={"agent_id": agent["id"], "to": "+15550100001"})
    assert r.status_code == 409
    assert r.json()["detail"] == agent["warnings"][0]


def test_a_chat_with_an_llm_agent_that_cannot_run_is_refused_with_the_same_words(api: httpx.Client) -> None:
    agent = _llm_agent(api)
    r = api.post(f"/v1/agents/{agent['id']}/chat", json={"text": "hi"})
    assert r.status_code == 409
    assert r.json()["detail"] == agent["warnings"][0]


@pytest.fixture(scope="module")
def fake_model() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(api_key="sk-chat") as fake:
        yield fake


@pytest.fixture(scope="module")
def llm_api_server(tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAIServer) -> Iterator[ApiServer]:
    yield from _api_server("sqlite", tmp_path_factory, openai_base_url=fake_model.base_url, openai_api_key="sk-chat")


@pytest.fixture
def llm_api(llm_api_server: ApiServer) -> Iterator[httpx.Client]:
    with client_for(llm_api_server.base_url, new_key(llm_api_server.db_url)) as client:
        yield client


def test_an_agent_naming_an_unset_key_setting_says_which(llm_api: httpx.Client) -> None:
    agent = _llm_agent(llm_api, dialogue={**LLM, "api_key_env": "CALLWRIGHT_TEST_UNSET_KEY"})
    assert agent["warnings"] == [
        "dialogue.api_key_env names the setting CALLWRIGHT_TEST_UNSET_KEY, which is not set on the Callwright server"
    ]


def test_a_text_chat_runs_the_llm_engine_and_keeps_its_history_between_turns(
    llm_api: httpx.Client, fake_model: FakeOpenAIServer
) -> None:
    agent = _llm_agent(llm_api, first_message="Hello, how can I help?")
    assert agent["warnings"] == []
    fake_model.script(Reply.text("We open at nine."), Reply.text("We close at five."))
    first = llm_api.post(f"/v1/agents/{agent['id']}/chat", json={"text": "When do you open?"}).json()
    assert first["replies"] == ["Hello, how can I help?", "We open at nine."]
    second = llm_api.post(
        f"/v1/agents/{agent['id']}/chat", json={"session_id": first["session_id"], "text": "And close?"}
    ).json()
    assert second["replies"] == ["We close at five."]
    messages = fake_model.completions[-1]["messages"]
    assert [(m["role"], m.get("content")) for m in messages[1:]] == [
        ("assistant", "Hello, how can I help?"),
        ("user", "When do you open?"),
        ("assistant", "We open at nine."),
        ("user", "And close?"),
    ]


def test_a_text_chat_ends_when_the_model_calls_end_call(llm_api: httpx.Client, fake_model: FakeOpenAIServer) -> None:
    agent = _llm_agent(llm_api, first_message="Hi.", tools=[{"type": "end_call"}])
    fake_model.script(Reply.tool_call("end_call", {"closing_line": "Bye now."}))
    reply = llm_api.post(f"/v1/agents/{agent['id']}/chat", json={"text": "That's all."}).json()
    assert reply["replies"] == ["Hi.", "Bye now."]
    assert reply["ended"] is True and reply["outcome"] == "completed"
    assert [c["name"] for c in reply["tool_calls"]] == ["end_call"]


def test_an_agent_model_server_at_a_private_address_is_refused(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={
        "name": "Sneaky", "dialogue": {**LLM, "base_url": "http://169.254.169.254/v1"},
    })
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "dialogue", "base_url"]


def test_a_fallback_model_server_at_a_private_address_is_refused(api: httpx.Client) -> None:
    r = api.post("/v1/agents", json={
        "name": "Sneaky", "dialogue": {**LLM, "fallback": {"model": "m", "base_url": "http://10.0.0.7/v1"}},
    })
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "dialogue", "fallback", "base_url"]
