"""The agent's tools as functions the model calls: custom HTTP tools (with their filler and
their protection from barge-in), ending the call, transferring it, pressing keys; and every way
a model's request can be wrong, which the model is told about while the call goes on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.dialogue.llm_support import (
    KEY,
    ScriptedTools,
    barge_in,
    cancel_after,
    http_tool,
    make,
    run,
    said,
    tool_events,
)
from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall

from callwright.dialogue.base import (
    End,
    Listen,
    PressDigits,
    Say,
    ToolFinished,
    ToolStarted,
    Transfer,
    UserInput,
)
from callwright.dialogue.tools import MAX_RESULT_CHARS, ToolOutcome
from callwright.domain.agent import EndCallTool, PressDigitsTool, TransferCallTool

END_CALL = EndCallTool(type="end_call")
PRESS = PressDigitsTool(type="press_digits")
DESK = "+14155550100"


def transfer(**changes: Any) -> TransferCallTool:
    return TransferCallTool.model_validate({"type": "transfer_call", **changes})


def tool_message(body: dict[str, Any]) -> dict[str, Any]:
    """The last tool result the model was sent, parsed."""
    found = [m for m in body["messages"] if m["role"] == "tool"]
    assert found, f"no tool result in {body['messages']}"
    return json.loads(found[-1]["content"])  # type: ignore[no-any-return]


async def test_every_tool_is_offered_as_a_function() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello."))
        dialogue = make(fake, tools=[http_tool(), END_CALL, transfer(to=DESK), PRESS])
        await run(dialogue.start())
        await dialogue.aclose()
    functions = {t["function"]["name"]: t["function"] for t in fake.last["tools"]}
    assert {t["type"] for t in fake.last["tools"]} == {"function"}
    assert functions["lookup_balance"]["parameters"] == http_tool().parameters
    assert functions["lookup_balance"]["description"] == "Look up the customer's balance."
    assert set(functions["end_call"]["parameters"]["properties"]) == {"closing_line"}
    assert set(functions["transfer_call"]["parameters"]["properties"]) == {"reason"}  # the number is fixed
    assert functions["press_digits"]["parameters"]["required"] == ["digits"]


async def test_a_transfer_without_a_fixed_number_asks_the_model_for_one() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello."))
        dialogue = make(fake, tools=[transfer(allowed_numbers=[DESK])])
        await run(dialogue.start())
        await dialogue.aclose()
    parameters = fake.last["tools"][0]["function"]["parameters"]
    assert set(parameters["properties"]) == {"number", "reason"}
    assert DESK in parameters["properties"]["number"]["description"]


async def test_an_http_tool_gets_the_models_arguments_and_its_result_goes_back() -> None:
    caller = ScriptedTools(ToolOutcome(ok=True, result={"balance": "$120.00"}))
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(
            Reply.tools(ToolCall("lookup_balance", {"account_id": "A-7"}, id="call_1"), content="Let me look."),
            Reply.text("You owe one hundred twenty dollars."),
        )
        dialogue = make(fake, tools=[http_tool()], caller=caller)
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert caller.calls == [("lookup_balance", {"account_id": "A-7"})]
    started, finished = tool_events(events)
    assert started == ToolStarted("call_1", "lookup_balance", "http", {"account_id": "A-7"})
    assert isinstance(finished, ToolFinished)
    assert (finished.ok, finished.result) == (True, {"balance": "$120.00"})
    assert said(events) == "Let me look. You owe one hundred twenty dollars."
    messages = fake.last["messages"]
    assert messages[-2]["tool_calls"][0]["function"] == {"name": "lookup_balance", "arguments": '{"account_id": "A-7"}'}
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": '{"balance": "$120.00"}'}
    assert events[-1] == Listen(events[-1].expect)  # type: ignore[union-attr]


async def test_the_words_before_a_tool_call_are_complete_before_the_tool_runs() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(
            Reply.tools(ToolCall("lookup_balance", {"account_id": "A-7"}), content="Let me look that up."),
            Reply.text("Found it."),
        )
        dialogue = make(fake, tools=[http_tool()], caller=ScriptedTools())
        events = await run(dialogue.start())
        await dialogue.aclose()
    before = events[: next(i for i, e in enumerate(events) if isinstance(e, ToolStarted))]
    assert said(before) == "Let me look that up."
    assert isinstance(before[-1], Say) and before[-1].complete  # the session speaks it now, not after the tool


async def test_a_failed_tool_is_reported_to_the_model_as_an_error() -> None:
    caller = ScriptedTools(ToolOutcome(ok=False, result="HTTP 500 from the tool"))
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", {"account_id": "A-7"}), Reply.text("Sorry, I can't see it."))
        dialogue = make(fake, tools=[http_tool()], caller=caller)
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert tool_message(fake.last) == {"error": "HTTP 500 from the tool"}
    assert [e.ok for e in tool_events(events) if isinstance(e, ToolFinished)] == [False]


async def test_a_tool_caller_that_raises_counts_as_a_failed_tool() -> None:
    caller = ScriptedTools(error=RuntimeError("bug in the caller"))
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", {"account_id": "A-7"}), Reply.text("Sorry."))
        dialogue = make(fake, tools=[http_tool()], caller=caller)
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert tool_message(fake.last) == {"error": "the tool failed (RuntimeError)"}
    assert said(events) == "Sorry."


async def test_without_a_tool_caller_the_model_hears_that_tools_are_unavailable() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", {"account_id": "A-7"}), Reply.text("Sorry."))
        dialogue = make(fake, tools=[http_tool()], caller=None)
        await run(dialogue.start())
        await dialogue.aclose()
    assert "not available" in tool_message(fake.last)["error"]


async def test_a_large_result_is_cut_before_the_model_sees_it() -> None:
    caller = ScriptedTools(ToolOutcome(ok=True, result={"rows": "x" * (3 * MAX_RESULT_CHARS)}))
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", {"account_id": "A-7"}), Reply.text("Done."))
        dialogue = make(fake, tools=[http_tool()], caller=caller)
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert len(fake.last["messages"][-1]["content"]) == MAX_RESULT_CHARS
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert finished[0].result == fake.last["messages"][-1]["content"]  # the record is bounded too


async def test_a_slow_tool_gets_its_filler_spoken_while_it_runs() -> None:
    caller = ScriptedTools(delay_s=0.3)
    tool = http_tool(filler="One moment while I check that.", filler_after_s=0.05)
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", {"account_id": "A-7"}), Reply.text("It is paid."))
        dialogue = make(fake, tools=[tool], caller=caller)
        events = await run(dialogue.start())
        await dialogue.aclose()
    kinds = [type(e).__name__ for e in events]
    assert kinds[:3] == ["ToolStarted", "Say", "ToolFinished"]
    assert events[1] == Say("One moment while I check that.")
    # The caller heard it, so the model knows it said it.
    assert fake.last["messages"][-2]["content"] == "One moment while I check that."


async def test_a_quick_tool_gets_no_filler() -> None:
    tool = http_tool(filler="One moment while I check that.", filler_after_s=0.5)
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", {"account_id": "A-7"}), Reply.text("It is paid."))
        dialogue = make(fake, tools=[tool], caller=ScriptedTools())
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert said(events) == "It is paid."


async def test_a_tool_call_survives_a_barge_in_and_its_result_reaches_the_next_request() -> None:
    caller = ScriptedTools(ToolOutcome(ok=True, result={"booked": True}), delay_s=0.3)
    tool = http_tool(name="book", filler=None, parameters={"type": "object", "properties": {}})
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello."), Reply.tools(ToolCall("book", {}, id="call_book"), content="Booking it now."))
        dialogue = make(fake, tools=[tool], caller=caller)
        await run(dialogue.start())
        seen = await barge_in(dialogue.respond(UserInput(text="Book me in.")), lambda e: isinstance(e, ToolStarted))
        dialogue.heard("Booking it", interrupted=True)
        await asyncio.wait_for(caller.finished.wait(), 2)  # the side effect went on regardless
        fake.script(Reply.text("You are booked."))
        events = await run(dialogue.respond(UserInput(text="Sorry, go on.")))
        await dialogue.aclose()
    assert not any(isinstance(e, ToolFinished) for e in seen)
    assert isinstance(events[0], ToolFinished)
    assert (events[0].call_id, events[0].ok, events[0].result) == ("call_book", True, {"booked": True})
    assert events[0].duration_ms >= 300
    assert said(events) == "You are booked."
    assert [(m["role"], m.get("content")) for m in fake.last["messages"][-3:]] == [
        ("assistant", "Booking it"),
        ("tool", '{"booked": true}'),
        ("user", "Sorry, go on."),
    ]


async def test_a_barge_in_while_an_earlier_tool_finishes_loses_neither_words_nor_history() -> None:
    caller = ScriptedTools(ToolOutcome(ok=True, result={"booked": True}), delay_s=0.4)
    tool = http_tool(name="book", filler=None, parameters={"type": "object", "properties": {}})
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tools(ToolCall("book", {}, id="call_book"), content="Booking it now."))
        dialogue = make(fake, tools=[tool], caller=caller)
        await barge_in(dialogue.start(), lambda e: isinstance(e, ToolStarted))
        dialogue.heard("Booking it now.", interrupted=True)
        await cancel_after(dialogue.respond(UserInput(text="For Tuesday.")), 0.05)  # still waiting on the tool
        dialogue.heard("", interrupted=True)
        await asyncio.wait_for(caller.finished.wait(), 2)
        fake.script(Reply.text("Done, Tuesday it is."))
        await run(dialogue.respond(UserInput(text="Hello?")))
        await dialogue.aclose()
    assert [(m["role"], m.get("content")) for m in fake.last["messages"][1:]] == [
        ("assistant", "Booking it now."),
        ("tool", '{"booked": true}'),
        ("user", "For Tuesday."),
        ("user", "Hello?"),
    ]


async def test_a_tool_still_running_when_the_call_closes_is_waited_for() -> None:
    caller = ScriptedTools(delay_s=0.2)
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tools(ToolCall("lookup_balance", {"account_id": "A-7"}, id="call_1")))
        dialogue = make(fake, tools=[http_tool(filler=None)], caller=caller)
        await barge_in(dialogue.start(), lambda e: isinstance(e, ToolStarted))
        await dialogue.aclose()
    assert caller.finished.is_set()
    assert dialogue.messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": '{"balance": "$120.00"}'}


async def test_an_unknown_tool_is_an_error_for_the_model_and_the_turn_goes_on() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("refund_everything", {}), Reply.text("I can't do that, sorry."))
        dialogue = make(fake, tools=[END_CALL])
        events = await run(dialogue.start())
        await dialogue.aclose()
    finished = [e for e in events if isinstance(e, ToolFinished)]
    assert [(e.name, e.ok) for e in finished] == [("refund_everything", False)]
    assert "no tool named 'refund_everything'" in tool_message(fake.last)["error"]
    assert said(events) == "I can't do that, sorry."


async def test_arguments_that_are_not_json_are_an_error_for_the_model() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", '{"account_id": "A-7"'), Reply.text("Let me try again."))
        dialogue = make(fake, tools=[http_tool()], caller=ScriptedTools())
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert "not valid JSON" in tool_message(fake.last)["error"]
    assert said(events) == "Let me try again."
    # The history keeps arguments a server can parse; the model was told what was wrong.
    assert fake.last["messages"][-2]["tool_calls"][0]["function"]["arguments"] == "{}"


async def test_arguments_that_are_not_an_object_are_an_error_for_the_model() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", "[1, 2]"), Reply.text("Hmm."))
        dialogue = make(fake, tools=[http_tool()], caller=ScriptedTools())
        await run(dialogue.start())
        await dialogue.aclose()
    assert tool_message(fake.last) == {"error": "the arguments must be a JSON object"}


async def test_a_missing_required_argument_is_an_error_for_the_model() -> None:
    caller = ScriptedTools()
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("lookup_balance", {}), Reply.text("What is your account number?"))
        dialogue = make(fake, tools=[http_tool()], caller=caller)
        await run(dialogue.start())
        await dialogue.aclose()
    assert tool_message(fake.last) == {"error": "missing required argument(s): account_id"}
    assert caller.calls == []


async def test_end_call_says_the_closing_line_and_hangs_up() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("end_call", {"closing_line": "Thanks for your time. Goodbye."}))
        dialogue = make(fake, tools=[END_CALL])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert events[-2:] == [Say("Thanks for your time. Goodbye."), End("completed")]
    assert dialogue.results["outcome"] == "completed"
    assert [type(e).__name__ for e in events[:2]] == ["ToolStarted", "ToolFinished"]


async def test_a_valid_transfer_normalises_the_number_and_says_the_hold_message() -> None:
    tool = transfer(message="Please hold while I transfer you.")
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("transfer_call", {"number": "+1 (415) 555-0100", "reason": "billing"}))
        dialogue = make(fake, tools=[tool])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert events[-2:] == [Say("Please hold while I transfer you."), Transfer(DESK)]
    assert dialogue.results["transferred_to"] == DESK
    assert dialogue.results["outcome"] == "transferred"


async def test_the_models_own_words_replace_the_hold_message() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tools(ToolCall("transfer_call", {}), content="Connecting you to billing now."))
        dialogue = make(fake, tools=[transfer(to=DESK)])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert said(events) == "Connecting you to billing now."
    assert events[-1] == Transfer(DESK)


async def test_a_number_that_cannot_be_dialed_is_refused_and_the_model_is_told() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("transfer_call", {"number": "555-0100"}), Reply.text("Let me check that number."))
        dialogue = make(fake, tools=[transfer()])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert not any(isinstance(e, Transfer) for e in events)
    assert "cannot transfer to '555-0100'" in tool_message(fake.last)["error"]
    assert said(events) == "Let me check that number."
    assert "transferred_to" not in dialogue.results


async def test_a_number_outside_the_allowed_list_is_refused() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("transfer_call", {"number": "+14155550199"}), Reply.text("I can't."))
        dialogue = make(fake, tools=[transfer(allowed_numbers=[DESK])])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert not any(isinstance(e, Transfer) for e in events)
    assert tool_message(fake.last)["error"].startswith("+14155550199 is not a number this agent may transfer to")


async def test_an_allowed_number_is_transferred_to() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("transfer_call", {"number": "+1 415 555 0100"}))
        dialogue = make(fake, tools=[transfer(allowed_numbers=[DESK])])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert events[-1] == Transfer(DESK)


async def test_press_digits_keys_the_digits_and_waits_for_the_menu() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("press_digits", {"digits": "1-2 #"}), Reply.text(""))
        dialogue = make(fake, tools=[PRESS])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert PressDigits("12#") in events
    assert tool_message(fake.last) == {"pressed": "12#"}
    assert isinstance(events[-1], Listen)
    assert len(fake.completions) == 2


async def test_keys_a_phone_cannot_press_are_an_error_for_the_model() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("press_digits", {"digits": "12x"}), Reply.text("Hmm."))
        dialogue = make(fake, tools=[PRESS])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert not any(isinstance(e, PressDigits) for e in events)
    assert "digits must be" in tool_message(fake.last)["error"]


async def test_a_model_that_keeps_calling_tools_is_stopped_after_five_rounds() -> None:
    async with FakeOpenAIServer(api_key=KEY, default=Reply.tool_call("press_digits", {"digits": "1"})) as fake:
        dialogue = make(fake, tools=[PRESS])
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert len(fake.completions) == 5
    assert isinstance(events[-1], Listen)


async def test_a_turn_the_caller_heard_nothing_of_keeps_its_tool_calls() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(
            Reply.tools(ToolCall("lookup_balance", {"account_id": "A-7"}, id="call_1"), content="Checking."),
            Reply.text("You owe one hundred twenty dollars."),
            Reply.text("Okay."),
        )
        dialogue = make(fake, tools=[http_tool()], caller=ScriptedTools())
        await run(dialogue.start())
        dialogue.heard("", interrupted=True)
        await run(dialogue.respond(UserInput(text="Hello?")))
        await dialogue.aclose()
    assert [(m["role"], m.get("content")) for m in fake.last["messages"][1:]] == [
        ("assistant", None),
        ("tool", '{"balance": "$120.00"}'),
        ("user", "Hello?"),
    ]
    assert fake.last["messages"][1]["tool_calls"][0]["id"] == "call_1"
