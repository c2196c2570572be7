"""The agent editor in a real browser: a flow built node by node and saved, a refused flow
explained in words, the dynamic-context Test button against a real endpoint, the chat panel, and
user text that never runs as script."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Dashboard
from tests.context_endpoint import ContextEndpoint

PAYLOAD = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'

SHORT_FLOW: dict[str, Any] = {
    "start": "greet",
    "nodes": {
        "greet": {"say": "Hello, this is the front desk.", "next": "confirm"},
        "confirm": {"ask": "Shall I book you in?", "expect": "yes_no", "save_as": "booked",
                    "branches": {"yes": "done", "no": "bye"}},
        "done": {"say": "Booked. Goodbye.", "end": "completed"},
        "bye": {"say": "Maybe next time. Goodbye.", "end": "completed"},
    },
}


def new_agent(dashboard: Dashboard, **fields: Any) -> dict[str, Any]:
    r = dashboard.api.post("/v1/agents", json={"name": "Front desk", **fields})
    assert r.status_code == 201, r.text
    agent: dict[str, Any] = r.json()
    return agent


def open_agent(dashboard: Dashboard, page: Any, agent_id: str) -> None:
    page.goto(f"{dashboard.base_url}/app/agents/{agent_id}")
    expect(page.locator("#flow-editor")).to_be_attached()


def node(page: Any, node_id: str) -> Any:
    return page.locator(f'#flow-editor li.node[data-node="{node_id}"]')


def test_a_flow_agent_made_in_the_editor_is_saved_with_its_new_node_and_branch(
    dashboard: Dashboard, page: Any
) -> None:
    page.goto(f"{dashboard.base_url}/app/agents")
    page.fill("#new-agent input[name=name]", "Appointment reminder")
    page.select_option("#new-agent select[name=engine]", "flow")
    page.click("#new-agent button[type=submit]")
    page.wait_for_url(re.compile(r"/app/agents/[0-9a-f-]{36}$"))
    agent_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#flow-editor li.node")).to_have_count(4)
    dashboard.screenshot(page, "agent-editor")

    page.fill("#flow-new-id", "later")
    page.select_option("#flow-new-kind", "say")
    page.click("#flow-add")
    node(page, "later").locator("textarea[data-field=text]").fill("We will call you back later.")
    node(page, "confirm").locator('select[data-branch="no"]').select_option("later")
    node(page, "greet").locator("textarea[data-field=text]").fill("Hi {{ first_name||there }}, Riverside Dental here.")
    expect(page.locator("#flow-errors li")).to_have_count(0)
    node(page, "confirm").scroll_into_view_if_needed()
    dashboard.screenshot(page, "agent-flow")
    page.click("#save")
    page.wait_for_load_state()

    saved = dashboard.api.get(f"/v1/agents/{agent_id}").json()
    assert saved["version"] == 2
    nodes = saved["dialogue"]["flow"]["nodes"]
    assert nodes["confirm"]["branches"] == {"yes": "thanks", "no": "later"}
    assert nodes["later"] == {"say": "We will call you back later.", "end": "completed"}
    assert nodes["greet"]["say"] == "Hi {{ first_name||there }}, Riverside Dental here."
    expect(node(page, "later").locator("textarea[data-field=text]")).to_have_value("We will call you back later.")


def test_a_flow_that_names_a_missing_node_is_refused_in_words_and_not_saved(
    dashboard: Dashboard, page: Any
) -> None:
    agent = new_agent(dashboard, dialogue={"engine": "flow", "flow": SHORT_FLOW})
    open_agent(dashboard, page, agent["id"])
    node(page, "done").locator("button.remove").click()
    problem = "Flow, node 'confirm', branches → yes: node 'done' does not exist"
    expect(page.locator("#flow-errors")).to_contain_text(problem)  # checked live, before saving
    page.click("#save")
    page.wait_for_load_state()
    expect(page.locator("#form-errors")).to_contain_text(problem)
    expect(page.locator("#flow-errors")).to_contain_text(problem)
    expect(node(page, "confirm")).to_have_class(re.compile(r"\bbad\b"))
    assert dashboard.api.get(f"/v1/agents/{agent['id']}").json()["version"] == 1


def test_dynamic_context_is_set_in_the_editor_and_its_test_shows_status_latency_and_variables(
    dashboard: Dashboard, page: Any
) -> None:
    agent = new_agent(dashboard, prompt="Greet {{ first_name }}.")
    with ContextEndpoint() as endpoint:
        endpoint.reply({"first_name": "Ana", "tier": "gold"})
        open_agent(dashboard, page, agent["id"])
        page.check("input[name='dynamic_context.enabled']")
        page.fill("input[name='dynamic_context.url']", endpoint.url)
        expect(page.locator("input[name='dynamic_context.auth.token']")).to_be_hidden()
        page.select_option("select[name='dynamic_context.auth.type']", "bearer")
        page.fill("input[name='dynamic_context.auth.token']", "tok_secret_1234")
        page.click("#save")
        page.wait_for_load_state()
        assert page.locator("#form-errors").count() == 0
        expect(page.locator("input[name='dynamic_context.auth.token']")).to_have_value("****1234")
        page.click("#context-test")
        result = page.locator("#context-result")
        expect(result).to_contain_text(re.compile(r"OK · HTTP 200 · [0-9.]+ ms"))
        expect(result).to_contain_text('"tier": "gold"')
        result.scroll_into_view_if_needed()
        dashboard.screenshot(page, "context-test")
        assert endpoint.requests[-1].headers["authorization"] == "Bearer tok_secret_1234"
    saved = dashboard.api.get(f"/v1/agents/{agent['id']}").json()["dynamic_context"]
    assert (saved["enabled"], saved["url"], saved["auth"]["token"]) == (True, endpoint.url, "****1234")


def test_a_failing_dynamic_context_test_shows_the_error(dashboard: Dashboard, page: Any) -> None:
    with ContextEndpoint() as endpoint:
        endpoint.reply({"detail": "down"}, status=503)
        agent = new_agent(dashboard, dynamic_context={"enabled": True, "url": endpoint.url})
        open_agent(dashboard, page, agent["id"])
        page.click("#context-test")
        result = page.locator("#context-result")
        expect(result).to_contain_text("Failed · HTTP 503")
        expect(result).to_have_class(re.compile(r"\bbad\b"))


def test_the_chat_panel_talks_to_the_agent_and_keeps_its_session(dashboard: Dashboard, page: Any) -> None:
    agent = new_agent(dashboard, prompt="You book appointments for {{ company }}.",
                      dialogue={"engine": "flow", "flow": SHORT_FLOW})
    open_agent(dashboard, page, agent["id"])
    page.click("#chat-send")  # starts the conversation: the greeting and the first question
    log = page.locator("#chat-log")
    expect(log).to_contain_text("Shall I book you in?")
    expect(page.locator("#chat-status")).to_contain_text("yes_no")
    page.fill("#chat-text", "yes please")
    page.click("#chat-send")
    expect(log).to_contain_text("Booked. Goodbye.")  # the same conversation: it answered the question
    ended = 'Ended (completed). Results: {"booked":true,"outcome":"completed"}'
    expect(page.locator("#chat-status")).to_contain_text(ended)
    assert log.locator("li").count() == 4  # greeting, question, the user, the goodbye
    dashboard.screenshot(page, "agent-chat")
    page.click("#chat-reset")
    expect(log.locator("li")).to_have_count(0)


def test_an_llm_agent_without_a_model_server_says_so_in_the_chat(dashboard: Dashboard, page: Any) -> None:
    agent = new_agent(dashboard, dialogue={"engine": "llm"})
    open_agent(dashboard, page, agent["id"])
    page.click("#chat-send")
    expect(page.locator("#chat-status")).to_have_class(re.compile(r"\bbad\b"))
    expect(page.locator("#chat-status")).to_contain_text("OPENAI_BASE_URL")


def test_the_agent_page_links_to_talking_to_the_agent(dashboard: Dashboard, page: Any) -> None:
    agent = new_agent(dashboard)
    open_agent(dashboard, page, agent["id"])
    link = page.get_by_role("link", name="Talk to this agent")
    assert link.get_attribute("href") == f"/app/agents/{agent['id']}/talk"


def test_script_in_a_name_a_flow_text_and_a_chat_message_is_shown_as_text(
    dashboard: Dashboard, page: Any
) -> None:
    flow = {"start": "hi", "nodes": {
        "hi": {"ask": PAYLOAD, "expect": "text", "save_as": "said", "next": "bye"},
        "bye": {"say": "Goodbye.", "end": "completed"}}}
    agent = new_agent(dashboard, dialogue={"engine": "flow", "flow": flow})
    dashboard.api.patch(f"/v1/agents/{agent['id']}", json={"name": PAYLOAD}).raise_for_status()
    page.goto(f"{dashboard.base_url}/app/agents")
    expect(page.get_by_role("link", name=PAYLOAD)).to_be_visible()
    open_agent(dashboard, page, agent["id"])
    expect(page.locator("h1")).to_have_text(PAYLOAD)
    expect(node(page, "hi").locator("textarea[data-field=text]")).to_have_value(PAYLOAD)
    page.click("#chat-send")
    expect(page.locator("#chat-log li").first).to_contain_text(PAYLOAD)
    page.fill("#chat-text", PAYLOAD)
    page.click("#chat-send")
    expect(page.locator("#chat-log")).to_contain_text("Goodbye.")
    expect(page.locator("#chat-log li.turn-user")).to_contain_text(PAYLOAD)
    assert page.locator("#chat-log img, #chat-log script, h1 img, #flow-editor img").count() == 0
    assert page.evaluate("window.__pwned") is None
