"""The LLM dialogue's conversation against a real HTTP server speaking OpenAI's protocol: the
greeting, streamed replies, the history the model is sent, and resuming from a snapshot."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings

from tests.dialogue.llm_support import KEY, PRIMARY, ScriptedTools, barge_in, http_tool, make, roles, run, said, timed
from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall

from callwright.dialogue.base import End, Listen, Say, ToolStarted, UserInput
from callwright.dialogue.inputs import DialogueDeps
from callwright.dialogue.llm import LlmDialogue
from callwright.dialogue.llm_endpoint import ModelServers
from callwright.domain.agent import EndCallTool
from callwright.domain.expectation import Expectation

LONG_REPLY = "Hi Maria, this is Riverside Dental. Can you still make it on Tuesday at ten?"


async def test_a_reply_is_spoken_in_fragments_as_it_streams() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text(LONG_REPLY, chunk_chars=8, chunk_delay_s=0.04))
        dialogue = make(fake)
        events = await timed(dialogue.start())
        await dialogue.aclose()
    says = [(at, event) for at, event in events if isinstance(event, Say)]
    assert len(says) >= 5
    assert "".join(event.text for _, event in says) == LONG_REPLY
    # Fragments: the session's splitter decides the sentences; the last one closes the reply.
    assert [event.complete for _, event in says] == [False] * (len(says) - 1) + [True]
    first_at, last_at = says[0][0], says[-1][0]
    assert last_at - first_at >= 0.15  # speech started while the model was still writing
    assert events[-1][1] == Listen(Expectation(kind="text"))


async def test_the_first_message_is_spoken_without_asking_the_model() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        dialogue = make(fake, first_message="Hello Maria, this is Riverside Dental.")
        events = await run(dialogue.start())
        assert fake.completions == []
        fake.script(Reply.text("Great, see you Tuesday."))
        await run(dialogue.respond(UserInput(text="Yes, I can make it.")))
        sent = fake.last["messages"]
        await dialogue.aclose()
    assert events == [Say("Hello Maria, this is Riverside Dental."), Listen(Expectation(kind="text"))]
    assert sent[1] == {"role": "assistant", "content": "Hello Maria, this is Riverside Dental."}
    assert sent[2] == {"role": "user", "content": "Yes, I can make it."}


async def test_without_a_first_message_the_model_opens_the_call() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello, this is Riverside Dental."))
        dialogue = make(fake)
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert said(events) == "Hello, this is Riverside Dental."
    assert roles(fake.last) == ["system"]
    assert fake.last["model"] == PRIMARY
    assert fake.last["stream"] is True


async def test_the_request_carries_the_configured_sampling_and_no_tools_when_there_are_none() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello."))
        dialogue = make(fake, temperature=0.2, max_tokens=120)
        await run(dialogue.start())
        await dialogue.aclose()
    assert fake.last["temperature"] == 0.2
    assert fake.last["max_tokens"] == 120
    assert "tools" not in fake.last


async def test_each_turn_sends_the_whole_conversation() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Can you make Tuesday?"), Reply.text("Which day suits you?"))
        dialogue = make(fake)
        await run(dialogue.start())
        await run(dialogue.respond(UserInput(text="No, I can't.")))
        await dialogue.aclose()
    assert fake.last["messages"][1:] == [
        {"role": "assistant", "content": "Can you make Tuesday?"},
        {"role": "user", "content": "No, I can't."},
    ]


async def test_keys_pressed_reach_the_model_with_the_words() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello."), Reply.text("Thanks."))
        dialogue = make(fake)
        await run(dialogue.start())
        await run(dialogue.respond(UserInput(dtmf="1234#")))
        await dialogue.aclose()
    assert fake.last["messages"][-1] == {"role": "user", "content": "(pressed on the keypad: 1234#)"}


async def test_heard_cuts_the_next_request_to_the_words_the_caller_heard() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Your balance is two hundred dollars. Would you like to pay it today?"))
        fake.script(Reply.text("Of course."))
        dialogue = make(fake)
        await run(dialogue.start())
        dialogue.heard("Your balance is two hundred dollars.", interrupted=True)
        await run(dialogue.respond(UserInput(text="Wait, what?")))
        await dialogue.aclose()
    assert fake.last["messages"][1:] == [
        {"role": "assistant", "content": "Your balance is two hundred dollars."},
        {"role": "user", "content": "Wait, what?"},
    ]


async def test_a_turn_the_caller_heard_nothing_of_is_left_out() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello there."), Reply.text("Sorry, go ahead."))
        dialogue = make(fake)
        await run(dialogue.start())
        dialogue.heard("", interrupted=True)
        await run(dialogue.respond(UserInput(text="Hi, who is this?")))
        await dialogue.aclose()
    assert roles(fake.last) == ["system", "user"]


async def test_the_greeting_turn_is_trimmed_too() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Okay."))
        dialogue = make(fake, first_message="Hello Maria, this is Riverside Dental calling about Tuesday.")
        await run(dialogue.start())
        dialogue.heard("Hello Maria,", interrupted=True)
        await run(dialogue.respond(UserInput(text="Who?")))
        await dialogue.aclose()
    assert fake.last["messages"][1] == {"role": "assistant", "content": "Hello Maria,"}


async def test_a_snapshot_resumes_the_conversation() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Can you make Tuesday?"), Reply.text("Great, see you then."))
        first = make(fake, retry_context={"collected_data": {"name": "Maria"}})
        await run(first.start())
        saved = json.loads(json.dumps(first.snapshot()))  # what text chat stores
        await first.aclose()
        second = LlmDialogue.restore(first.config, [], first.inputs, first.deps, saved)
        events = await run(second.respond(UserInput(text="Yes.")))
        await second.aclose()
    assert said(events) == "Great, see you then."
    assert fake.last["messages"][1:] == [
        {"role": "assistant", "content": "Can you make Tuesday?"},
        {"role": "user", "content": "Yes."},
    ]
    assert second.results == {"name": "Maria"}


async def test_collected_data_of_an_earlier_attempt_prefills_the_results() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        dialogue = make(fake, retry_context={"collected_data": {"confirmed": False, "new_day": "wednesday"}})
        await dialogue.aclose()
    assert dialogue.results == {"confirmed": False, "new_day": "wednesday"}


async def test_an_ended_conversation_answers_end_without_asking_the_model() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("end_call", {"closing_line": "Goodbye."}))
        dialogue = make(fake, tools=[EndCallTool(type="end_call")])
        await run(dialogue.start())
        asked = len(fake.completions)
        events = await run(dialogue.respond(UserInput(text="Hello?")))
        await dialogue.aclose()
    assert events == [End("completed")]
    assert len(fake.completions) == asked


async def test_each_request_is_timed_for_the_latency_record() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello.", delay_s=0.05), Reply.text("Okay."))
        dialogue = make(fake)
        await run(dialogue.start())
        await run(dialogue.respond(UserInput(text="Hi.")))
        await dialogue.aclose()
    assert [(r["model"], r["turn"], r["ok"]) for r in dialogue.requests] == [(PRIMARY, 0, True), (PRIMARY, 1, True)]
    first = dialogue.requests[0]
    assert 50 <= first["ttft_ms"] <= first["total_ms"]


async def test_a_dialogue_nobody_closed_goes_quietly() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello."))
        dialogue = make(fake)
        await run(dialogue.start())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del dialogue
            gc.collect()  # the client closes its connections on the running loop
            await asyncio.sleep(0.05)
            gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []



async def test_a_restored_conversation_that_had_ended_stays_ended() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tool_call("end_call", {}))
        first = make(fake, tools=[EndCallTool(type="end_call")])
        await run(first.start())
        await first.aclose()
        second = LlmDialogue.restore(first.config, [], first.inputs, first.deps, first.snapshot())
        events = await run(second.respond(UserInput(text="Hello?")))
        await second.aclose()
    assert events == [End("completed")]
    assert len(fake.completions) == 1


async def test_a_tool_running_when_the_snapshot_was_taken_is_answered_as_interrupted() -> None:
    caller = ScriptedTools(delay_s=0.3)
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.tools(ToolCall("lookup_balance", {"account_id": "A-7"}, id="call_1")))
        first = make(fake, tools=[http_tool(filler=None)], caller=caller)
        await barge_in(first.start(), lambda e: isinstance(e, ToolStarted))
        saved = first.snapshot()
        await first.aclose()
        second = LlmDialogue.restore(first.config, [http_tool()], first.inputs, first.deps, saved)
        fake.script(Reply.text("Sorry, where were we?"))
        await run(second.respond(UserInput(text="Hello?")))
        await second.aclose()
    tool = fake.last["messages"][-2]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "call_1"
    assert json.loads(tool["content"])["error"].startswith("interrupted")


async def test_a_model_server_the_client_cannot_use_is_a_model_error_not_an_exception() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        dialogue = make(fake)
        dialogue.deps = DialogueDeps(servers=ModelServers(default_base_url="http://[::1", default_api_key=KEY))
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert events[-1] == End("model_error", reason="model_error")
    assert dialogue.results["model_errors"][0]["model"] == PRIMARY
