"""When the model server fails (an error status, a hang, a stream that drops or stalls, a body
that is not JSON): the same request once on the fallback model, else an apology and a hang-up;
never an exception out of the dialogue, and every failure on the record."""

from __future__ import annotations

import time

import pytest
from tests.dialogue.llm_support import BACKUP, KEY, PRIMARY, make, roles, run, said
from tests.fakes.openai_server import FakeOpenAIServer, Reply

from callwright.dialogue.base import End, Listen, Say, UserInput
from callwright.domain.agent import DEFAULT_APOLOGY

GREETING = "Hello, this is Riverside Dental calling about your appointment."

FAILURES = {
    "server error": Reply.error(500),
    "rate limited": Reply.error(429),
    "hang": Reply.hang(),
    "dropped stream": Reply.text(GREETING, break_after_chunks=3),
    "stalled stream": Reply.text(GREETING, chunk_delay_s=2.0),
    "invalid json": Reply.invalid_json(),
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
async def test_a_failing_model_hands_the_request_to_the_fallback_model(failure: Reply) -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(failure, Reply.text("Sorry about that. How can I help?"))
        dialogue = make(fake, fallback=BACKUP)
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert [body["model"] for body in fake.completions] == [PRIMARY, BACKUP]
    assert said(events).endswith("Sorry about that. How can I help?")
    assert isinstance(events[-1], Listen)
    assert [(e["model"], e["turn"]) for e in dialogue.results["model_errors"]] == [(PRIMARY, 0)]
    assert [(r["model"], r["ok"]) for r in dialogue.requests] == [(PRIMARY, False), (BACKUP, True)]


async def test_without_a_fallback_the_agent_apologises_and_hangs_up() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.error(503))
        dialogue = make(fake)
        events = await run(dialogue.start())
        await dialogue.aclose()
    assert events == [Say(DEFAULT_APOLOGY), End("model_error", reason="model_error")]
    assert dialogue.results["outcome"] == "model_error"
    assert dialogue.results["model_errors"] == [{"model": PRIMARY, "error": "HTTP 503: fake error 503", "turn": 0}]


async def test_the_configured_apology_is_said_when_the_fallback_fails_too() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Hello."), Reply.error(500), Reply.error(502))
        dialogue = make(fake, fallback={"model": BACKUP, "message": "Sorry, we will call you back."})
        await run(dialogue.start())
        events = await run(dialogue.respond(UserInput(text="Hi.")))
        await dialogue.aclose()
    assert events == [Say("Sorry, we will call you back."), End("model_error", reason="model_error")]
    assert [(e["model"], e["turn"]) for e in dialogue.results["model_errors"]] == [(PRIMARY, 1), (BACKUP, 1)]


async def test_the_words_spoken_before_a_drop_stay_said_for_the_fallback() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text(GREETING, chunk_chars=6, break_after_chunks=4), Reply.text("Can you make it?"))
        dialogue = make(fake, fallback=BACKUP)
        events = await run(dialogue.start())
        await dialogue.aclose()
    spoken_before = "Hello, this is Riv"  # the role chunk, then three of six characters made it
    assert said(events) == spoken_before + " Can you make it?"
    assert fake.last["messages"][1:] == [{"role": "assistant", "content": spoken_before}]


async def test_nothing_is_said_for_longer_than_both_timeouts() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.hang(), Reply.hang())
        dialogue = make(fake, fallback=BACKUP, timeout_s=0.3)
        started = time.monotonic()
        events = await run(dialogue.start())
        elapsed = time.monotonic() - started
        await dialogue.aclose()
    assert events[-1] == End("model_error", reason="model_error")
    assert 0.6 <= elapsed < 1.2


async def test_the_api_key_never_reaches_the_record() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.error(500, f"upstream refused key {KEY} and sk-proj-abcdef123456"))
        dialogue = make(fake)
        await run(dialogue.start())
        await dialogue.aclose()
    error = dialogue.results["model_errors"][0]["error"]
    assert KEY not in error
    assert "sk-proj-abcdef123456" not in error
    assert error.startswith("HTTP 500: upstream refused key ****")


async def test_a_model_error_mid_call_keeps_the_conversation_so_far() -> None:
    async with FakeOpenAIServer(api_key=KEY) as fake:
        fake.script(Reply.text("Can you make Tuesday?"), Reply.error(500), Reply.text("Great."))
        dialogue = make(fake, fallback=BACKUP)
        await run(dialogue.start())
        events = await run(dialogue.respond(UserInput(text="Yes.")))
        await dialogue.aclose()
    assert said(events) == "Great."
    assert roles(fake.last) == ["system", "assistant", "user"]
    assert "outcome" not in dialogue.results
