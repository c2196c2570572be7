"""The dashboard's agent editor against a real server: every setting round-trips through the
form, refusals come in the API's words next to their field, the flow check and the chat endpoint."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServer
from tests.support import client_for, new_key
from tests.web.forms import form_fields
from tests.web.test_dashboard import csrf_of, sign_in

FLOW: dict[str, Any] = {
    "start": "greet",
    "nodes": {
        "greet": {"say": "Hello {{ first_name||there }}.", "next": "confirm"},
        "confirm": {"ask": "Can you come on Monday?", "expect": "yes_no", "save_as": "confirmed",
                    "branches": {"yes": "done", "no": "day"}},
        "day": {"ask": "Which day then?", "expect": {"choice": ["tuesday", "friday"]}, "save_as": "day",
                "retries": 1, "fallback": "done", "next": "done"},
        "done": {"say": "Thank you. Goodbye.", "end": "completed"},
    },
}
SAVED_ONLY = ("id", "version_id", "version", "created_at", "updated_at", "warnings")


@pytest.fixture
def server(private_urls_server: ApiServer) -> ApiServer:
    return private_urls_server


@pytest.fixture
def api(server: ApiServer) -> Iterator[httpx.Client]:
    key = new_key(server.db_url)
    with client_for(server.base_url, key) as client, closing(sign_in(server.base_url, key)) as browser:
        client.browser = browser  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def browser(api: httpx.Client) -> httpx.Client:
    signed_in: httpx.Client = api.browser  # type: ignore[attr-defined]
    return signed_in


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    r = api.post("/v1/agents", json={"name": "Editor", **fields})
    assert r.status_code == 201, r.text
    agent: dict[str, Any] = r.json()
    return agent


def as_sent(fields: list[tuple[str, str]], **changes: str | None) -> dict[str, list[str]]:
    """A form's pairs as httpx sends them, with fields replaced (a value) or left out (None)."""
    out: dict[str, list[str]] = {}
    for name, value in fields:
        out.setdefault(name, []).append(value)
    for name, value in changes.items():
        out.pop(name, None)
        if value is not None:
            out[name] = [value]
    return out


def editor_form(browser: httpx.Client, agent_id: str) -> list[tuple[str, str]]:
    page = browser.get(f"/app/agents/{agent_id}")
    assert page.status_code == 200, page.text[:500]
    return form_fields(page.text, "agent-form")


def save(browser: httpx.Client, agent_id: str, data: dict[str, list[str]]) -> httpx.Response:
    return browser.post(f"/app/agents/{agent_id}", data=data)  # type: ignore[arg-type]


def settings_of(agent: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in agent.items() if k not in SAVED_ONLY}


def test_the_editor_saved_unchanged_keeps_every_setting_of_a_flow_agent(
    api: httpx.Client, browser: httpx.Client
) -> None:
    agent = create(
        api, language="en-GB", prompt="Remind {{ first_name }}.", first_message="Hi {{ first_name||there }}",
        dialogue={"engine": "flow", "flow": FLOW},
        voice={"provider": "openai", "voice_id": "nova", "speed": 1.25, "model": "tts-1-hd", "api_key_env": "TTS_KEY"},
        transcriber={"provider": "whisper", "language": "en-GB", "hints": ["Riverside", "Dr. Patel"]},
        turn_taking={"detector": "silence", "endpointing_ms": 700, "allow_interruptions": False,
                     "completion_threshold": 0.65},
        max_duration_s=300, end_call_after_silence_s=12,
        voicemail={"action": "leave_message", "message": "Call us back, {{ first_name }}."},
        analysis={"summary": False, "sentiment": True, "success_criteria": "They confirmed.",
                  "results": [{"name": "tier", "type": "enum", "enum": ["a", "b"], "description": "Tier"}]},
        retry={"max_attempts": 3, "on": ["busy", "voicemail"], "backoff_minutes": [5, 90.5]},
        dynamic_context={"enabled": True, "url": "http://127.0.0.1:9/ctx", "timeout_s": 4.5, "cache_ttl_s": 60,
                         "auth": {"type": "header", "header_name": "X-Api-Key", "header_value": "hv-secret-9876"}},
        phone={"provider": "twilio", "from_number": "+14155550100"},
        redact_pii=True, do_not_call_on_request=False,
    )
    r = save(browser, agent["id"], as_sent(editor_form(browser, agent["id"])))
    assert r.status_code == 303, html.unescape(r.text)[:2000]
    after = api.get(f"/v1/agents/{agent['id']}").json()
    assert after["version"] == 2
    assert settings_of(after) == settings_of(agent)
    assert after["dynamic_context"]["auth"]["header_value"] == "****9876"  # the stored secret, kept


def test_the_editor_saved_unchanged_keeps_every_setting_of_an_llm_agent(
    api: httpx.Client, browser: httpx.Client
) -> None:
    agent = create(
        api, dialogue={"engine": "llm", "model": "llama3", "temperature": 0.2, "base_url": "http://127.0.0.1:9/v1",
                       "max_tokens": 120, "timeout_s": 3.0, "fallback": {"model": "small", "message": "Sorry!"}},
        tools=[{"type": "end_call"}, {"type": "http", "name": "lookup", "url": "http://127.0.0.1:9/lookup",
                                      "auth": {"type": "bearer", "token": "tool-token-4321"}}],
    )
    r = save(browser, agent["id"], as_sent(editor_form(browser, agent["id"])))
    assert r.status_code == 303, html.unescape(r.text)[:2000]
    after = api.get(f"/v1/agents/{agent['id']}").json()
    assert settings_of(after) == settings_of(agent)


def test_a_changed_setting_is_saved_as_a_new_version(api: httpx.Client, browser: httpx.Client) -> None:
    agent = create(api)
    data = as_sent(editor_form(browser, agent["id"]), **{
        "voice.provider": "elevenlabs", "voice.voice_id": "Rachel", "transcriber.hints": "Acme\n\nwidget\n",
        "retry.backoff_minutes": "10, 20 40", "max_duration_s": "900",
    })
    assert save(browser, agent["id"], data).status_code == 303
    after = api.get(f"/v1/agents/{agent['id']}").json()
    assert (after["voice"]["provider"], after["voice"]["voice_id"]) == ("elevenlabs", "Rachel")
    assert after["transcriber"]["hints"] == ["Acme", "widget"]
    assert after["retry"]["backoff_minutes"] == [10, 20, 40]
    assert after["max_duration_s"] == 900
    assert [v["version"] for v in api.get(f"/v1/agents/{agent['id']}/versions").json()] == [2, 1]


def test_an_unticked_box_turns_its_setting_off(api: httpx.Client, browser: httpx.Client) -> None:
    agent = create(api)
    assert agent["do_not_call_on_request"] is True
    data = as_sent(editor_form(browser, agent["id"]), do_not_call_on_request=None, **{"retry.on": None})
    assert save(browser, agent["id"], data).status_code == 303
    after = api.get(f"/v1/agents/{agent['id']}").json()
    assert after["do_not_call_on_request"] is False
    assert after["retry"]["on"] == []


def test_an_out_of_range_setting_is_refused_next_to_its_field_and_nothing_is_saved(
    api: httpx.Client, browser: httpx.Client
) -> None:
    agent = create(api)
    r = save(browser, agent["id"], as_sent(editor_form(browser, agent["id"]), **{"voice.speed": "5",
                                                                                "max_duration_s": "soon"}))
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert '<p class="field-error">Speed: Input should be less than or equal to 2</p>' in text
    assert '<p class="field-error">Longest call (s): Input should be a valid integer</p>' in text
    assert 'name="voice.speed" value="5"' in text and 'name="max_duration_s" value="soon"' in text  # as typed
    assert api.get(f"/v1/agents/{agent['id']}").json()["version"] == 1


def test_a_flow_that_names_a_missing_node_is_refused_in_words(api: httpx.Client, browser: httpx.Client) -> None:
    agent = create(api, dialogue={"engine": "flow", "flow": FLOW})
    broken = {"start": "greet", "nodes": {**FLOW["nodes"], "greet": {"say": "Hello.", "next": "nowhere"}}}
    r = save(browser, agent["id"], as_sent(editor_form(browser, agent["id"]), **{"dialogue.flow": json.dumps(broken)}))
    assert r.status_code == 422
    assert "Flow, node 'greet', next: node 'nowhere' does not exist" in html.unescape(r.text)
    assert api.get(f"/v1/agents/{agent['id']}").json()["dialogue"]["flow"] == FLOW


def test_json_that_does_not_parse_is_refused_in_words(api: httpx.Client, browser: httpx.Client) -> None:
    agent = create(api)
    r = save(browser, agent["id"], as_sent(editor_form(browser, agent["id"]), tools='[{"type": '))
    assert r.status_code == 422
    assert "Tools (JSON list): not valid JSON" in r.text
    assert api.get(f"/v1/agents/{agent['id']}").json()["version"] == 1


def test_the_flow_check_gives_the_problems_of_a_draft_without_saving_it(
    api: httpx.Client, browser: httpx.Client
) -> None:
    agent = create(api, dialogue={"engine": "flow", "flow": FLOW})
    token = csrf_of(browser.get(f"/app/agents/{agent['id']}").text)
    url = f"/app/agents/{agent['id']}/flow-check"
    assert browser.post(url, json=FLOW, headers={"X-CSRF-Token": token}).json() == {"ok": True, "errors": []}
    bad = {"start": "greet", "nodes": {"greet": {"ask": "Ready?", "expect": "yes_no", "branches": {"maybe": "greet"}}}}
    result = browser.post(url, json=bad, headers={"X-CSRF-Token": token}).json()
    assert result["ok"] is False
    assert result["errors"] == [
        "Flow, node 'greet', branches → maybe: 'maybe' is not a possible answer; use one of yes, no or 'default'",
        "Flow, node 'greet', branches: no branch for yes, no: add those, a 'default' branch, or 'next'",
    ]
    assert browser.post(url, json=FLOW).status_code == 403
    assert api.get(f"/v1/agents/{agent['id']}").json()["version"] == 1


def test_the_chat_endpoint_holds_a_conversation_across_messages(api: httpx.Client, browser: httpx.Client) -> None:
    agent = create(api, dialogue={"engine": "flow", "flow": FLOW})
    token = csrf_of(browser.get(f"/app/agents/{agent['id']}").text)
    url = f"/app/agents/{agent['id']}/chat"
    first = browser.post(url, json={"text": ""}, headers={"X-CSRF-Token": token}).json()
    assert first["replies"] == ["Hello there.", "Can you come on Monday?"]
    assert (first["expecting"], first["ended"]) == ("yes_no", False)
    second = browser.post(url, json={"session_id": first["session_id"], "text": "no"},
                          headers={"X-CSRF-Token": token}).json()
    assert second["replies"] == ["Which day then?"]
    third = browser.post(url, json={"session_id": first["session_id"], "text": "friday"},
                         headers={"X-CSRF-Token": token}).json()
    assert (third["ended"], third["outcome"]) == (True, "completed")
    assert third["results"]["confirmed"] is False and third["results"]["day"] == "friday"


def test_the_chat_endpoint_refuses_without_the_csrf_token_and_explains_what_cannot_run(
    server: ApiServer, api: httpx.Client, browser: httpx.Client
) -> None:
    flow_agent = create(api, dialogue={"engine": "flow", "flow": FLOW})
    llm_agent = create(api, dialogue={"engine": "llm"})
    token = csrf_of(browser.get(f"/app/agents/{flow_agent['id']}").text)
    assert browser.post(f"/app/agents/{flow_agent['id']}/chat", json={"text": ""}).status_code == 403
    r = browser.post(f"/app/agents/{llm_agent['id']}/chat", json={"text": "hi"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 409 and "OPENAI_BASE_URL" in r.json()["error"]
    bad = browser.post(f"/app/agents/{flow_agent['id']}/chat", json={"text": 5}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 422 and "text" in bad.json()["error"]
    with closing(sign_in(server.base_url, new_key(server.db_url))) as stranger:
        other = csrf_of(stranger.get("/app/agents").text)
        r = stranger.post(f"/app/agents/{flow_agent['id']}/chat", json={"text": ""}, headers={"X-CSRF-Token": other})
        assert r.status_code == 404


def test_a_new_flow_agent_starts_from_an_example_flow(api: httpx.Client, browser: httpx.Client) -> None:
    token = csrf_of(browser.get("/app/agents").text)
    r = browser.post("/app/agents", data={"csrf_token": token, "name": "Starter", "engine": "flow"})
    assert r.status_code == 303
    agent = api.get(f"/v1/agents/{r.headers['location'].rsplit('/', 1)[1]}").json()
    assert agent["dialogue"]["engine"] == "flow" and len(agent["dialogue"]["flow"]["nodes"]) == 4
    page = browser.get(r.headers["location"]).text
    assert '<code class="node-id">confirm</code>' in page and "answer “no” → <code>bye</code>" in page
    refused = browser.post("/app/agents", data={"csrf_token": token, "name": "X", "engine": "magic"})
    assert refused.status_code == 422
