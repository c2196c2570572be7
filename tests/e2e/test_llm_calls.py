"""Phone calls with the LLM engine, end to end: the server dials through the simulated carrier,
the callee talks over a real Media Streams WebSocket, and the agent's model is a local server
speaking OpenAI's Chat Completions protocol (streamed).

The callee's lines are real audio; the scripted transcriber hands the agent their exact words,
so the model's side can answer by what it was told. Each test's agent names a model of its own,
and the test gives it a ``brain``: the function that answers that model's conversation
requests by their messages. So the module's calls are all placed at once (they run at real-time
pace, and did nothing but wait in turn); each test then waits for its own and checks it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from tests.e2e.conftest import VoiceServer, voice_settings
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fakes.tool_endpoint import ToolEndpoint
from tests.support import client_for, new_key, running_server

SEED_004_PROMPT = (
    "You are a collections agent. The customer owes {{amount}} due by {{due_date}}.\n"
    "Be professional and offer payment plan options if the customer cannot pay in full."
)
SEED_004_RENDERED = (
    "You are a collections agent. The customer owes $1,200.00 due by February 1, 2026.\n"
    "Be professional and offer payment plan options if the customer cannot pay in full."
)
GUARDRAIL = "Do not mention late fees. If the customer asks about penalties, redirect to their account portal."

Brain = Callable[[dict[str, Any]], Reply]


class Model:
    """The fake model server and each model name's brain; analysis requests (not streamed) get a
    503, so post-call analysis falls back to its rules and never takes a conversation's reply."""

    def __init__(self) -> None:
        self.server = FakeOpenAIServer(api_key="sk-e2e", default=self._answer)
        self.brains: dict[str, Brain] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}

    def _answer(self, body: dict[str, Any]) -> Reply:
        if not body.get("stream"):
            return Reply.error(503, "analysis is not scripted in these tests")
        name = str(body["model"])
        self.conversations.setdefault(name, []).append(body)
        return self.brains[name](body)

    def serve(self, name: str, brain: Brain) -> str:
        """Answer the model ``name`` with ``brain``; returns the name for the agent to use."""
        self.brains[name] = brain
        return name

    def conversation(self, name: str) -> list[dict[str, Any]]:
        return self.conversations.get(name, [])


@dataclass
class Endpoints:
    """Customer tool endpoints, up for the whole module: one answers, one never does."""

    orders: ToolEndpoint
    hanging_orders: ToolEndpoint


Placer = Callable[[VoiceServer, Model, Endpoints], str]
PLACERS: dict[str, Placer] = {}


def placed_up_front(placer: Placer) -> Placer:
    """Mark a function that sets up one test's model and agent and places its call (returning the
    call's ID); the module places them all at once, before its first test."""
    PLACERS[placer.__name__] = placer
    return placer


@pytest.fixture(scope="module")
def model() -> Iterator[Model]:
    m = Model()
    with m.server:
        yield m


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory, model: Model) -> Iterator[VoiceServer]:
    settings = voice_settings(
        tmp_path_factory.mktemp("llm"), openai_base_url=model.server.base_url, openai_api_key="sk-e2e"
    )
    with running_server(settings) as base:
        with client_for(base, new_key(settings.database_url)) as client:
            yield VoiceServer(base, settings.database_url, client)


def last_user(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message["role"] == "user":
            return str(message.get("content") or "")
    return ""


def last_tool_result(body: dict[str, Any]) -> Any:
    message = body["messages"][-1]
    return json.loads(message["content"]) if message["role"] == "tool" else None


def agent(server: VoiceServer, model_name: str, **fields: Any) -> str:
    says = fields.pop("callee_lines", None)
    body: dict[str, Any] = {
        "name": "LLM agent",
        "dialogue": {"engine": "llm", "model": model_name, "timeout_s": 5},
        "transcriber": {"provider": "scripted", "hints": says or ["yes"]},
        "end_call_after_silence_s": 8,
        **fields,
    }
    r = server.api.post("/v1/agents", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["warnings"] == []
    return str(r.json()["id"])


def place(server: VoiceServer, agent_id: str, says: list[str], **fields: Any) -> str:
    r = server.api.post("/v1/calls", json={
        "agent_id": agent_id, "to": "+15550100001", "simulated_callee": {"says": says}, **fields,
    })
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def endpoints() -> Iterator[Endpoints]:
    with ToolEndpoint() as orders, ToolEndpoint() as hanging_orders:
        orders.body = json.dumps({"status": "out for delivery"}).encode()
        hanging_orders.hang = True
        try:
            yield Endpoints(orders, hanging_orders)
        finally:
            hanging_orders.release.set()


@pytest.fixture(scope="module")
def placed(llm_server: VoiceServer, model: Model, endpoints: Endpoints) -> dict[str, str]:
    """Every test's call, placed at once: the placer's name -> the call's ID."""
    return {name: placer(llm_server, model, endpoints) for name, placer in PLACERS.items()}


def ended(server: VoiceServer, placed: dict[str, str], placer: Placer) -> dict[str, Any]:
    return server.wait_for_end(placed[placer.__name__], timeout_s=90)


def agent_lines(call_record: dict[str, Any]) -> str:
    return " ".join(t["text"] for t in call_record["transcript"] if t["role"] == "agent")


@placed_up_front
def seed_004_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    def brain(body: dict[str, Any]) -> Reply:
        heard = last_user(body)
        if "how much" in heard.lower():
            return Reply.text("You owe one thousand two hundred dollars, due by February first. Can you pay that?")
        return Reply.tool_call("end_call", {"closing_line": "Thank you for your time. Goodbye."})

    lines = ["How much do I owe?", "I will pay next week."]
    agent_id = agent(server, model.serve("seed-004", brain), prompt=SEED_004_PROMPT,
                     first_message="Hi {{ first_name || there }}, this is Acme.", callee_lines=lines)
    r = server.api.post("/ai/phone-calls/action/call", json={
        "numberToCall": "+15550100001", "firstName": "Jane", "aiSettingsTemplateId": agent_id,
        "promptTags": {"amount": "$1,200.00", "due_date": "February 1, 2026", "guardrail": GUARDRAIL},
    })
    assert r.status_code == 201, r.text
    # The compat route takes no simulated_callee: the default callee answers "yes" each turn, and
    # the scripted transcriber hears the lines above.
    return str(r.json()["id"])


def test_the_seed_004_collections_prompt_reaches_the_model_substituted_and_answers_the_caller(
    llm_server: VoiceServer, model: Model, placed: dict[str, str]
) -> None:
    record = ended(llm_server, placed, seed_004_call)
    assert record["status"] == "completed", record
    system = model.conversation("seed-004")[0]["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith(SEED_004_RENDERED)
    assert GUARDRAIL in system["content"]


@placed_up_front
def prompt_tags_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    def brain(body: dict[str, Any]) -> Reply:
        heard = last_user(body)
        if heard == "How much do I owe?":
            return Reply.text("You owe $500.00, due by January 15. Would you like a payment plan?")
        if heard == "No thanks.":
            return Reply.tool_call("end_call", {"closing_line": "Thank you, goodbye."})
        return Reply.text("Sorry, could you say that again?")

    lines = ["How much do I owe?", "No thanks."]
    agent_id = agent(server, model.serve("prompt-tags", brain), prompt=SEED_004_PROMPT,
                     first_message="Hello, this is Acme.", callee_lines=lines)
    return place(server, agent_id, lines, variables={"amount": "$500.00", "due_date": "January 15, 2026"})


def test_the_model_answers_a_question_from_its_prompt_tags_and_ends_the_call_with_a_closing_line(
    llm_server: VoiceServer, model: Model, placed: dict[str, str]
) -> None:
    record = ended(llm_server, placed, prompt_tags_call)
    assert record["status"] == "completed", record
    assert record["end_reason"] == "agent_hangup"
    assert "You owe $500.00, due by January 15." in agent_lines(record)
    assert agent_lines(record).endswith("Thank you, goodbye.")
    assert model.conversation("prompt-tags")[0]["messages"][0]["content"].startswith(
        "You are a collections agent. The customer owes $500.00 due by January 15, 2026."
    )
    assert [c["name"] for c in record["tool_calls"]] == ["end_call"]
    assert record["results"]["outcome"] == "completed"


@placed_up_front
def http_tool_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    def brain(body: dict[str, Any]) -> Reply:
        result = last_tool_result(body)
        if result is not None and "status" in result:
            return Reply.text(f"Your order is {result['status']}.")
        if last_user(body) == "Where is my order?":
            return Reply.tool_call("order_status", {"order_id": "A-17"})
        return Reply.tool_call("end_call", {"closing_line": "Goodbye."})

    lines = ["Where is my order?", "Thanks."]
    agent_id = agent(
        server, model.serve("http-tool", brain), first_message="Hello, this is Acme.", callee_lines=lines,
        tools=[{"name": "order_status", "url": endpoints.orders.url + "/orders", "method": "POST",
                "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                               "required": ["order_id"]}},
               {"type": "end_call"}],
    )
    return place(server, agent_id, lines)


def test_the_model_calls_a_custom_http_tool_and_speaks_its_result(
    llm_server: VoiceServer, endpoints: Endpoints, placed: dict[str, str]
) -> None:
    record = ended(llm_server, placed, http_tool_call)
    assert [r.json() for r in endpoints.orders.requests] == [{"order_id": "A-17"}]
    assert "Your order is out for delivery." in agent_lines(record)
    lookup = record["tool_calls"][0]
    assert (lookup["name"], lookup["kind"], lookup["ok"]) == ("order_status", "http", True)
    assert lookup["result"] == {"status": "out for delivery"}


LONG_REPLY = (
    "Thanks for asking. Our plans start with a basic tier that covers the essentials for most homes. "
    "The premium tier adds weekend service, priority scheduling and a dedicated technician. "
    "The business tier adds invoicing, multiple sites and a named account manager for your team."
)


@placed_up_front
def interrupted_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    def brain(body: dict[str, Any]) -> Reply:
        if last_user(body) == "Tell me about your plans.":
            return Reply.text(LONG_REPLY)
        return Reply.tool_call("end_call", {"closing_line": "Goodbye."})

    lines = ["Tell me about your plans.", "Sorry, who is this?", "Bye."]
    # A greeting under 0.8 s: the simulated callee barges in once, into the first long reply.
    agent_id = agent(server, model.serve("interrupted", brain), first_message="Hi.", callee_lines=lines)
    r = server.api.post("/v1/calls", json={
        "agent_id": agent_id, "to": "+15550100001", "simulated_callee": {"says": lines, "interrupts": True},
    })
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_after_an_interruption_the_next_request_holds_only_what_the_caller_heard(
    llm_server: VoiceServer, model: Model, placed: dict[str, str]
) -> None:
    record = ended(llm_server, placed, interrupted_call)
    interrupted = [t for t in record["transcript"] if t["role"] == "agent" and t["interrupted"]]
    assert interrupted, record["transcript"]
    after = next(b for b in model.conversation("interrupted") if last_user(b) == "Sorry, who is this?")
    assistant = [m["content"] for m in after["messages"] if m["role"] == "assistant" and m.get("content")]
    heard = assistant[-1]
    assert interrupted[0]["text"] in heard
    assert len(heard) < len(LONG_REPLY)


@placed_up_front
def transfer_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    def brain(body: dict[str, Any]) -> Reply:
        if last_user(body) == "I want a person.":
            return Reply.tool_call("transfer_call", {"number": "+1 (415) 555-2671", "reason": "asked for a human"})
        return Reply.text("How can I help?")

    lines = ["I want a person."]
    agent_id = agent(server, model.serve("transfer", brain), first_message="Hello, this is Acme.", callee_lines=lines,
                     tools=[{"type": "transfer_call", "message": "Please hold while I transfer you."}])
    return place(server, agent_id, lines)


def test_the_model_transfers_the_call_through_the_carrier(llm_server: VoiceServer, placed: dict[str, str]) -> None:
    record = ended(llm_server, placed, transfer_call)
    assert record["status"] == "completed", record
    assert record["end_reason"] == "transfer"
    assert record["transferred_to"] == "+14155552671"
    assert agent_lines(record).endswith("Please hold while I transfer you.")
    assert record["tool_calls"][0]["name"] == "transfer_call"


MENU = "Thank you for calling Acme Bank. For billing, press 1. For support, press 2."
BILLING = "You have reached billing. Please hold for the next agent."


@placed_up_front
def phone_menu_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    def brain(body: dict[str, Any]) -> Reply:
        heard = last_user(body)
        result = last_tool_result(body)
        if result is not None and "pressed" in result:
            return Reply.text("")
        if "press 1" in heard:
            return Reply.tool_call("press_digits", {"digits": "1"})
        if "billing" in heard:
            return Reply.tool_call("end_call", {})
        return Reply.text("")

    agent_id = agent(server, model.serve("phone-menu", brain), callee_lines=[MENU, BILLING],
                     tools=[{"type": "press_digits"}, {"type": "end_call"}],
                     prompt="You call banks for the customer and get to the billing department.")
    r = server.api.post("/v1/calls", json={"agent_id": agent_id, "to": "+15550100009"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_the_model_presses_digits_to_get_through_a_phone_menu(llm_server: VoiceServer, placed: dict[str, str]) -> None:
    record = ended(llm_server, placed, phone_menu_call)
    press = next(c for c in record["tool_calls"] if c["name"] == "press_digits")
    assert press["arguments"] == {"digits": "1"} and press["ok"] is True
    users = [t["text"] for t in record["transcript"] if t["role"] == "user"]
    assert users[:2] == [MENU, BILLING]


@placed_up_front
def follow_up_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    name = model.serve("follow-up", lambda body: Reply.tool_call("end_call", {"closing_line": "Great, see you then."}))
    lines = ["Yes, Tuesday works."]
    agent_id = agent(server, name, first_message="Hello from Acme.", callee_lines=lines)
    return place(server, agent_id, lines, retry_context={
        "opening_message": "Hi again, we spoke yesterday about moving your appointment.",
        "collected_data": {"preferred_day": "tuesday"},
        "language": "es-ES",
        "previous_call_id": "8d3c3e0c-3a43-4c49-9c55-3d2f7c0f3a11",
    })


def test_a_follow_up_call_resumes_from_its_retry_context(
    llm_server: VoiceServer, model: Model, placed: dict[str, str]
) -> None:
    record = ended(llm_server, placed, follow_up_call)
    assert agent_lines(record).startswith("Hi again, we spoke yesterday about moving your appointment.")
    system = model.conversation("follow-up")[0]["messages"][0]["content"]
    assert '{"preferred_day":"tuesday"}' in system
    assert "8d3c3e0c-3a43-4c49-9c55-3d2f7c0f3a11" in system
    assert "es-ES" in system
    assert record["results"]["preferred_day"] == "tuesday"


@placed_up_front
def failing_model_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    name = model.serve("crashing-model", lambda body: Reply.error(500, "the model crashed"))
    lines = ["Hello?"]
    return place(server, agent(server, name, first_message="Hello from Acme.", callee_lines=lines), lines)


def test_a_model_server_that_fails_mid_call_ends_it_politely_and_says_why(
    llm_server: VoiceServer, placed: dict[str, str]
) -> None:
    record = ended(llm_server, placed, failing_model_call)
    lasted = datetime.fromisoformat(record["ended_at"]) - datetime.fromisoformat(record["created_at"])
    assert lasted.total_seconds() < 60
    assert record["status"] == "completed", record
    assert record["end_reason"] == "model_error"
    assert "having trouble" in agent_lines(record)
    assert record["results"]["model_errors"][0]["model"] == "crashing-model"


@placed_up_front
def hanging_tool_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    def brain(body: dict[str, Any]) -> Reply:
        result = last_tool_result(body)
        if result is not None and "error" in result:
            return Reply.text("Sorry, I cannot reach our order system right now.")
        if last_user(body) == "Where is my order?":
            return Reply.tool_call("order_status", {"order_id": "A-17"})
        return Reply.tool_call("end_call", {"closing_line": "Goodbye."})

    lines = ["Where is my order?", "Okay."]
    agent_id = agent(
        server, model.serve("hanging-tool", brain), first_message="Hello, this is Acme.", callee_lines=lines,
        tools=[{"name": "order_status", "url": endpoints.hanging_orders.url + "/orders", "timeout_s": 2,
                "filler": "One moment while I check that.", "filler_after_s": 0.5,
                "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}],
    )
    return place(server, agent_id, lines)


def test_a_hanging_tool_gets_a_filler_line_and_the_model_is_told_while_the_call_goes_on(
    llm_server: VoiceServer, placed: dict[str, str]
) -> None:
    record = ended(llm_server, placed, hanging_tool_call)
    spoken = agent_lines(record)
    assert record["status"] == "completed" and record["end_reason"] == "agent_hangup", record
    assert spoken.index("One moment while I check that.") < spoken.index("Sorry, I cannot reach our order system")
    (lookup,) = [c for c in record["tool_calls"] if c["name"] == "order_status"]
    assert lookup["ok"] is False and "2" in str(lookup["result"])


@placed_up_front
def latency_call(server: VoiceServer, model: Model, endpoints: Endpoints) -> str:
    name = model.serve(
        "timed-model", lambda body: Reply.tool_call("end_call", {"closing_line": "Goodbye."}, delay_s=0.2)
    )
    lines = ["Bye."]
    return place(server, agent(server, name, first_message="Hello.", callee_lines=lines), lines)


def test_the_latency_record_holds_each_model_request_with_its_time_to_first_token(
    llm_server: VoiceServer, placed: dict[str, str]
) -> None:
    record = ended(llm_server, placed, latency_call)
    (request,) = record["latency"]["model_requests"]
    assert request["model"] == "timed-model" and request["ok"] is True and request["turn"] == 1
    assert 200 <= request["ttft_ms"] < 2000
