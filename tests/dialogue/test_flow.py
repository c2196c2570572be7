"""The flow engine driven through the API.md example and variations."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from callwright.dialogue.base import Dialogue, DialogueEvent, End, Listen, Say, UserInput
from callwright.dialogue.flow import FlowDialogue
from callwright.domain.expectation import Expectation
from callwright.domain.flow import Flow

EXAMPLE: dict[str, Any] = {
    "start": "greet",
    "nodes": {
        "greet": {"say": "Hi {{ first_name | default('there') }}, this is Acme.", "next": "confirm"},
        "confirm": {
            "ask": "Can you make your appointment on {{ date }}?",
            "expect": "yes_no",
            "save_as": "confirmed",
            "branches": {"yes": "thanks", "no": "reschedule"},
        },
        "reschedule": {
            "ask": "Which day suits you: Monday, Tuesday or Wednesday?",
            "expect": {"choice": ["monday", "tuesday", "wednesday"]},
            "save_as": "new_day",
            "next": "bye",
        },
        "thanks": {"say": "Great, see you then.", "next": "bye"},
        "bye": {"say": "Goodbye{{ ', see you ' ~ new_day if new_day }}.", "end": "completed"},
    },
}
VARS = {"first_name": "Ann", "date": "Friday"}


def make(doc: dict[str, Any] = EXAMPLE, variables: dict[str, Any] = VARS, **kw: Any) -> FlowDialogue:
    return FlowDialogue(Flow.model_validate(doc), variables, **kw)


async def start(dialogue: Dialogue) -> list[DialogueEvent]:
    return [event async for event in dialogue.start()]


async def reply(dialogue: Dialogue, text: str = "", dtmf: str = "") -> list[DialogueEvent]:
    return [event async for event in dialogue.respond(UserInput(text=text, dtmf=dtmf))]


def said(events: list[DialogueEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, Say)]


def ask_flow(node: dict[str, Any]) -> dict[str, Any]:
    return {"start": "q", "nodes": {"q": {**node, "save_as": "answer", "next": "done"}, "done": {"end": "completed"}}}


async def test_start_greets_and_asks() -> None:
    events = await start(make())
    assert said(events) == ["Hi Ann, this is Acme.", "Can you make your appointment on Friday?"]
    assert events[-1] == Listen(Expectation(kind="yes_no"), node="confirm")


async def test_says_carry_their_node() -> None:
    events = await start(make())
    assert [e.node for e in events if isinstance(e, Say)] == ["greet", "confirm"]


async def test_first_message_is_rendered_before_the_flow() -> None:
    events = await start(make(first_message="Hello {{ last_name||friend }}."))
    assert said(events)[0] == "Hello friend."


async def test_template_defaults_render_in_flow_texts() -> None:
    events = await start(make(variables={}))
    assert said(events)[0] == "Hi there, this is Acme."


async def test_yes_path_completes() -> None:
    dialogue = make()
    await start(dialogue)
    events = await reply(dialogue, "yes")
    assert said(events) == ["Great, see you then.", "Goodbye."]
    assert events[-1] == End("completed")
    assert dialogue.results == {"confirmed": True, "outcome": "completed"}


async def test_no_path_asks_for_a_day_and_saves_it() -> None:
    dialogue = make()
    await start(dialogue)
    events = await reply(dialogue, "no, sorry")
    assert said(events) == ["Which day suits you: Monday, Tuesday or Wednesday?"]
    events = await reply(dialogue, "tuesday please")
    assert said(events) == ["Goodbye, see you tuesday."]
    assert dialogue.results == {"confirmed": False, "new_day": "tuesday", "outcome": "completed"}


async def test_unusable_answer_is_asked_again() -> None:
    dialogue = make()
    await start(dialogue)
    events = await reply(dialogue, "what?")
    assert said(events) == ["Can you make your appointment on Friday?"]
    assert isinstance(events[-1], Listen)


async def test_unusable_answers_then_fallback() -> None:
    doc = {
        "start": "q",
        "nodes": {
            "q": {"ask": "Yes or no?", "expect": "yes_no", "retries": 1, "fallback": "human", "next": "done"},
            "human": {"say": "Let me get someone.", "end": "transfer"},
            "done": {"end": "completed"},
        },
    }
    dialogue = make(doc)
    await start(dialogue)
    assert said(await reply(dialogue, "banana")) == ["Yes or no?"]
    events = await reply(dialogue, "banana")
    assert said(events) == ["Let me get someone."]
    assert dialogue.results["outcome"] == "transfer"


async def test_default_retries_allow_two_reasks() -> None:
    dialogue = make()
    await start(dialogue)
    await reply(dialogue, "hmm")
    events = await reply(dialogue, "hmm")
    assert isinstance(events[-1], Listen)
    assert isinstance((await reply(dialogue, "hmm"))[-1], End)


async def test_no_fallback_ends_with_no_usable_answer() -> None:
    dialogue = make()
    await start(dialogue)
    for _ in range(3):
        events = await reply(dialogue, "hmm")
    assert events[-1] == End("no_usable_answer")


async def test_digits_via_dtmf() -> None:
    dialogue = make(ask_flow({"ask": "Your PIN?", "expect": {"digits": {"length": 4}}}))
    await start(dialogue)
    await reply(dialogue, dtmf="0042")
    assert dialogue.results["answer"] == "0042"


async def test_digits_via_words() -> None:
    dialogue = make(ask_flow({"ask": "Your PIN?", "expect": "digits", "length": 4}))
    await start(dialogue)
    await reply(dialogue, "one two three four")
    assert dialogue.results["answer"] == "1234"


async def test_digits_listen_carries_length() -> None:
    events = await start(make(ask_flow({"ask": "PIN?", "expect": "digits", "length": 4})))
    assert events[-1] == Listen(Expectation(kind="digits", length=4), node="q")


async def test_date_answer_is_iso() -> None:
    dialogue = make(ask_flow({"ask": "Which day?", "expect": "date"}), now=lambda: datetime(2026, 3, 2, 10))
    await start(dialogue)
    await reply(dialogue, "tomorrow")
    assert dialogue.results["answer"] == "2026-03-03"


async def test_saved_answer_is_a_template_variable() -> None:
    doc = {
        "start": "q",
        "nodes": {
            "q": {"ask": "How many?", "expect": "number", "save_as": "count", "next": "ok"},
            "ok": {"say": "{{ count }} it is.", "end": "completed"},
        },
    }
    dialogue = make(doc)
    await start(dialogue)
    assert said(await reply(dialogue, "twenty five")) == ["25 it is."]


async def test_default_branch_taken_for_other_values() -> None:
    doc = {
        "start": "q",
        "nodes": {
            "q": {"ask": "Pick", "expect": {"choice": ["a", "b"]}, "branches": {"a": "x", "default": "y"}},
            "x": {"end": "got_a"},
            "y": {"end": "other"},
        },
    }
    dialogue = make(doc)
    await start(dialogue)
    assert (await reply(dialogue, "b"))[-1] == End("other")


async def test_say_cycle_ends_with_flow_error() -> None:
    doc = {"start": "a", "nodes": {"a": {"say": "A", "next": "b"}, "b": {"say": "B", "next": "a"}}}
    events = await start(make(doc))
    assert said(events) == ["A", "B"]
    assert events[-1] == End("flow_error")


async def test_reply_after_end_repeats_end() -> None:
    dialogue = make()
    await start(dialogue)
    await reply(dialogue, "yes")
    assert await reply(dialogue, "hello?") == [End("completed")]


async def test_history_records_both_sides() -> None:
    dialogue = make()
    await start(dialogue)
    await reply(dialogue, "yes")
    assert dialogue.history[2] == ("user", "yes")
    assert dialogue.history[0] == ("agent", "Hi Ann, this is Acme.")


async def test_snapshot_is_json_safe_and_restores_mid_flow() -> None:
    dialogue = make()
    await start(dialogue)
    await reply(dialogue, "no")
    snapshot = json.loads(json.dumps(dialogue.snapshot()))
    restored = FlowDialogue.restore(Flow.model_validate(EXAMPLE), VARS, snapshot)
    events = await reply(restored, "wednesday")
    assert said(events) == ["Goodbye, see you wednesday."]
    assert restored.results == {"confirmed": False, "new_day": "wednesday", "outcome": "completed"}
    assert len(restored.history) == len(dialogue.history) + 2


async def test_restore_keeps_retry_count() -> None:
    dialogue = make()
    await start(dialogue)
    await reply(dialogue, "hmm")
    await reply(dialogue, "hmm")
    restored = FlowDialogue.restore(Flow.model_validate(EXAMPLE), VARS, dialogue.snapshot())
    assert (await reply(restored, "hmm"))[-1] == End("no_usable_answer")


async def test_restore_with_vanished_node_ends_as_flow_error() -> None:
    snapshot = {"started": True, "current": "gone", "results": {}, "history": []}
    restored = FlowDialogue.restore(Flow.model_validate(EXAMPLE), VARS, snapshot)
    assert await reply(restored, "yes") == [End("flow_error")]


async def test_current_expectation_follows_the_ask() -> None:
    dialogue = make()
    await start(dialogue)
    await reply(dialogue, "no")
    assert dialogue.current_expectation() == Expectation(kind="choice", choices=("monday", "tuesday", "wednesday"))


async def test_broken_template_does_not_break_the_flow() -> None:
    doc = {"start": "a", "nodes": {"a": {"say": "Hi {{ first_name }} {{ oops }", "end": "completed"}}}
    assert said(await start(make(doc))) == ["Hi Ann"]


async def test_the_history_keeps_only_what_the_caller_heard_of_a_turn() -> None:
    dialogue = make()
    await start(dialogue)
    dialogue.heard("Hi Ann, this is", True)
    await reply(dialogue, "yes")
    dialogue.heard("Great, see you then. Goodbye.", False)
    assert dialogue.history == [
        ("agent", "Hi Ann, this is"),
        ("user", "yes"),
        ("agent", "Great, see you then. Goodbye."),
    ]


async def test_a_turn_heard_not_at_all_leaves_no_agent_words_in_the_history() -> None:
    dialogue = make()
    await start(dialogue)
    dialogue.heard("", True)
    assert dialogue.history == []


async def test_a_follow_up_starts_at_the_stage_its_retry_context_names() -> None:
    dialogue = make(start_at="reschedule")
    assert said(await start(dialogue)) == ["Which day suits you: Monday, Tuesday or Wednesday?"]


async def test_an_unknown_stage_starts_the_flow_from_the_beginning() -> None:
    dialogue = make(start_at="no-such-node")
    assert said(await start(dialogue))[0] == "Hi Ann, this is Acme."
