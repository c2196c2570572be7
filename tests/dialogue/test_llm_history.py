"""The LLM conversation's history kept true to the call: cut to the heard words, every tool call
answered, and requests without assistant messages that said and did nothing."""

from __future__ import annotations

import json
from typing import Any

from callwright.dialogue.llm_history import answer_unanswered, insert_tool_result, request_messages, trim_to_heard

CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}


def turn() -> list[dict[str, Any]]:
    """A caller's question, then a turn of two model rounds around a tool call (with its filler)."""
    return [
        {"role": "user", "content": "What do I owe?"},
        {"role": "assistant", "content": "Let me check. One moment please.", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"balance": 120}'},
        {"role": "assistant", "content": "You owe one hundred twenty dollars."},
    ]


def test_heard_words_are_given_back_to_the_rounds_in_the_order_they_were_said() -> None:
    messages = turn()
    trim_to_heard(messages, 1, "Let me check. One moment please. You owe")
    assert [m.get("content") for m in messages] == [
        "What do I owe?",
        "Let me check. One moment please.",
        '{"balance": 120}',
        "You owe",
    ]


def test_a_round_the_caller_heard_nothing_of_is_dropped_unless_it_called_a_tool() -> None:
    messages = turn()
    trim_to_heard(messages, 1, "")
    assert [(m["role"], m.get("content")) for m in messages] == [
        ("user", "What do I owe?"),
        ("assistant", ""),
        ("tool", '{"balance": 120}'),
    ]
    assert messages[1]["tool_calls"] == [CALL]


def test_earlier_turns_are_left_alone() -> None:
    messages = [{"role": "assistant", "content": "Hello there."}, *turn()]
    trim_to_heard(messages, 2, "Let me")
    assert messages[0] == {"role": "assistant", "content": "Hello there."}


def test_heard_words_beyond_what_was_generated_are_kept() -> None:
    messages = [{"role": "assistant", "content": "Hello."}]
    trim_to_heard(messages, 0, "Hello. Hello again.")
    assert messages == [{"role": "assistant", "content": "Hello. Hello again."}]


def test_a_late_tool_result_goes_right_after_its_call() -> None:
    messages = [*turn()[:2], {"role": "user", "content": "Hello?"}]
    insert_tool_result(messages, "call_1", '{"balance": 120}')
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "user"]


def test_every_unanswered_tool_call_gets_an_error() -> None:
    second = {**CALL, "id": "call_2"}
    messages = [{"role": "assistant", "content": "", "tool_calls": [CALL, second]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{}"}]
    answer_unanswered(messages, "interrupted")
    assert messages[2] == {"role": "tool", "tool_call_id": "call_2", "content": json.dumps({"error": "interrupted"})}


def test_a_request_leaves_out_assistant_messages_with_nothing_in_them() -> None:
    messages = [
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
    ]
    sent = request_messages("Be brief.", messages)
    assert sent == [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
    ]
