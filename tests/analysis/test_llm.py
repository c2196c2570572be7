"""The LLM analysis engine against a real HTTP server speaking OpenAI's protocol."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from openai import AsyncOpenAI
from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall

from callwright.domain.agent import AnalysisPlan, ResultField
from callwright.services.analysis import (
    AnalysisInput,
    LlmAnalysisError,
    LlmAnalyzer,
    OfflineAnalyzer,
    choose_analyzer,
)

MODEL = "analysis-model"
FIELDS = [
    ResultField(name="confirmed", type="boolean", description="Did the patient keep the appointment?"),
    ResultField(name="new_day", type="enum", enum=["Tuesday", "Wednesday", "Thursday"]),
    ResultField(name="visits", type="number"),
    ResultField(name="callback_on", type="date"),
    ResultField(name="notes", type="string"),
]


def call(**changes: Any) -> AnalysisInput:
    item = AnalysisInput(
        transcript=[
            {"role": "agent", "text": "Hi Maria, can you make it on Monday?", "start_ms": 0, "end_ms": 2000,
             "interrupted": False},
            {"role": "user", "text": "No, sorry.", "start_ms": 2500, "end_ms": 3500, "interrupted": False},
            {"role": "agent", "text": "Which day suits you better?", "start_ms": 4000, "end_ms": 5000,
             "interrupted": False},
            {"role": "user", "text": "Wednesday, thanks.", "start_ms": 5500, "end_ms": 6500, "interrupted": False},
        ],
        results={"confirmed": False, "new_day": "wednesday", "outcome": "completed"},
        status="completed",
        end_reason="agent_hangup",
        answered_by="human",
        duration_ms=30_000,
        plan=AnalysisPlan(success_criteria="The patient picked a new day.", results=FIELDS),
        prompt="You confirm dental appointments for Riverside Dental.",
    )
    return replace(item, **changes)


def model_answer(**changes: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "call_summary": "Maria could not make Monday and moved her appointment to Wednesday.",
        "user_sentiment": "Positive",
        "call_successful": True,
        "in_voicemail": False,
        "agent_task_completion_rating": "Complete",
        "call_completion_rating": "Complete",
        "custom_analysis_data": {
            "confirmed": False, "new_day": "Wednesday", "visits": 3, "callback_on": None, "notes": "prefers mornings",
        },
    }
    answer.update(changes)
    return answer


@pytest.fixture
def fake() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(api_key="sk-analysis") as server:
        yield server


def analyzer(fake: FakeOpenAIServer, **options: Any) -> LlmAnalyzer:
    settings: dict[str, Any] = {"timeout_s": 5.0, "max_retries": 0, **options}
    return LlmAnalyzer(fake.base_url, "sk-analysis", MODEL, **settings)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_the_request_asks_for_strict_json_at_temperature_zero(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.json(model_answer()))
    await analyzer(fake).analyze(call())
    sent = fake.last
    assert sent["model"] == MODEL
    assert sent["temperature"] == 0
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == "call_analysis"
    assert sent["response_format"]["json_schema"]["strict"] is True


async def test_the_schema_sent_types_each_custom_field(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.json(model_answer()))
    await analyzer(fake).analyze(call())
    schema = fake.last["response_format"]["json_schema"]["schema"]
    custom = schema["properties"]["custom_analysis_data"]
    assert custom["properties"] == {
        "confirmed": {"type": ["boolean", "null"], "description": "Did the patient keep the appointment?"},
        "new_day": {"type": ["string", "null"], "enum": ["Tuesday", "Wednesday", "Thursday", None]},
        "visits": {"type": ["number", "null"]},
        "callback_on": {"type": ["string", "null"], "description": "(an ISO date, YYYY-MM-DD)"},
        "notes": {"type": ["string", "null"]},
    }
    assert custom["required"] == ["confirmed", "new_day", "visits", "callback_on", "notes"]
    assert custom["additionalProperties"] is False
    assert schema["properties"]["user_sentiment"]["enum"] == ["Positive", "Neutral", "Negative"]
    assert schema["properties"]["call_completion_rating"]["enum"] == ["Complete", "Partial", "Incomplete"]
    assert set(schema["required"]) == set(schema["properties"])
    assert schema["additionalProperties"] is False


async def test_the_schema_leaves_out_summary_and_sentiment_when_the_plan_does_not_ask(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.json({k: v for k, v in model_answer().items() if k not in ("call_summary", "user_sentiment")}))
    plan = AnalysisPlan(summary=False, sentiment=False, results=FIELDS)
    result = await analyzer(fake).analyze(call(plan=plan))
    properties = fake.last["response_format"]["json_schema"]["schema"]["properties"]
    assert "call_summary" not in properties and "user_sentiment" not in properties
    assert (result.engine, result.call_summary, result.user_sentiment) == ("llm", None, None)


async def test_the_request_carries_transcript_results_and_criteria(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.json(model_answer()))
    await analyzer(fake).analyze(call())
    record = fake.last["messages"][-1]["content"]
    assert "Agent: Hi Maria, can you make it on Monday?\nUser: No, sorry.\n" in record
    assert '"new_day": "wednesday"' in record
    assert "Success criteria: The patient picked a new day." in record
    assert "- new_day (enum) [one of: Tuesday, Wednesday, Thursday]" in record
    assert "status=completed; end_reason=agent_hangup" in record


async def test_a_valid_reply_is_used(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.json(model_answer()))
    result = await analyzer(fake).analyze(call())
    assert (result.engine, result.model, result.error) == ("llm", MODEL, None)
    assert result.call_summary == "Maria could not make Monday and moved her appointment to Wednesday."
    assert result.user_sentiment == "Positive"
    assert result.call_successful is True
    assert result.custom_analysis_data == {
        "confirmed": False, "new_day": "Wednesday", "visits": 3, "callback_on": None, "notes": "prefers mornings",
    }


async def test_the_bearer_key_is_sent(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.json(model_answer()))
    await analyzer(fake).analyze(call())
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-analysis"


@pytest.mark.parametrize(("status", "answered_by", "model_says", "expected"), [
    ("completed", "human", True, False),
    ("voicemail", "machine_end_beep", False, True),
])
async def test_in_voicemail_comes_from_the_signals_not_the_model(
    fake: FakeOpenAIServer, status: str, answered_by: str, model_says: bool, expected: bool
) -> None:
    fake.script(Reply.json(model_answer(in_voicemail=model_says)))
    result = await analyzer(fake).analyze(call(status=status, answered_by=answered_by))
    assert result.engine == "llm"
    assert result.in_voicemail is expected


async def test_collected_values_win_and_the_model_fills_the_gaps(fake: FakeOpenAIServer) -> None:
    data = {"confirmed": True, "new_day": "Thursday", "visits": "four", "callback_on": "2026-05-01", "notes": 12}
    fake.script(Reply.json(model_answer(custom_analysis_data=data)))
    result = await analyzer(fake).analyze(call())
    assert result.custom_analysis_data == {
        "confirmed": False, "new_day": "Wednesday", "visits": 4, "callback_on": "2026-05-01", "notes": "12",
    }


async def test_a_custom_value_outside_its_enum_becomes_null(fake: FakeOpenAIServer) -> None:
    data = {"confirmed": None, "new_day": "Someday", "visits": None, "callback_on": None, "notes": None}
    fake.script(Reply.json(model_answer(custom_analysis_data=data)))
    result = await analyzer(fake).analyze(call(results={}))
    assert result.engine == "llm"
    assert result.custom_analysis_data["new_day"] is None


async def test_ratings_and_sentiment_are_accepted_in_any_case(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.json(model_answer(user_sentiment="negative", call_completion_rating="partial")))
    result = await analyzer(fake).analyze(call())
    assert (result.user_sentiment, result.call_completion_rating) == ("Negative", "Partial")


async def test_a_fenced_json_reply_is_accepted(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.text("```json\n" + json.dumps(model_answer()) + "\n```"))
    assert (await analyzer(fake).analyze(call())).engine == "llm"


async def assert_offline_fallback(fake: FakeOpenAIServer, reply: Reply, reason: str, **options: Any) -> None:
    fake.script(reply)
    item = call()
    result = await analyzer(fake, **options).analyze(item)
    offline = await OfflineAnalyzer().analyze(item)
    assert (result.engine, result.model) == ("offline", None)
    assert result.error is not None and reason in result.error
    assert replace(result, error=None) == offline


async def test_a_reply_that_is_not_json_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    await assert_offline_fallback(fake, Reply.text("The call went well."), "not JSON")


async def test_a_response_body_that_is_not_json_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    await assert_offline_fallback(fake, Reply.invalid_json(), "not JSON")


async def test_a_sentiment_outside_the_enum_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    await assert_offline_fallback(fake, Reply.json(model_answer(user_sentiment="Happy")), "user_sentiment")


async def test_a_rating_outside_the_enum_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    await assert_offline_fallback(fake, Reply.json(model_answer(call_completion_rating="Done")), "call_completion")


async def test_a_missing_field_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    answer = model_answer()
    del answer["call_successful"]
    await assert_offline_fallback(fake, Reply.json(answer), "call_successful")


async def test_a_reply_that_is_not_an_object_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    await assert_offline_fallback(fake, Reply.json([model_answer()]), "not a JSON object")


async def test_a_server_error_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    await assert_offline_fallback(fake, Reply.error(500), "HTTP 500")


async def test_a_rate_limit_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    await assert_offline_fallback(fake, Reply.error(429), "HTTP 429")


async def test_a_wrong_key_falls_back_to_offline(fake: FakeOpenAIServer) -> None:
    item = call()
    result = await LlmAnalyzer(fake.base_url, "sk-wrong", MODEL, max_retries=0).analyze(item)
    assert (result.engine, result.error) == ("offline", "model server answered HTTP 401")


async def test_a_server_that_hangs_falls_back_to_offline_after_the_timeout(fake: FakeOpenAIServer) -> None:
    started = time.monotonic()
    await assert_offline_fallback(fake, Reply.hang(), "timeout after 0.5 s", timeout_s=0.5)
    assert time.monotonic() - started < 5


async def test_an_unreachable_server_falls_back_to_offline() -> None:
    result = await LlmAnalyzer(closed_port_url(), "key", MODEL, max_retries=0).analyze(call())
    assert (result.engine, result.error) == ("offline", "cannot connect to the model server")


async def test_one_retry_recovers_from_a_passing_server_error(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.error(500, headers={"retry-after-ms": "10"}), Reply.json(model_answer()))
    result = await analyzer(fake, max_retries=1).analyze(call())
    assert (result.engine, len(fake.completions)) == ("llm", 2)


async def test_without_a_fallback_a_failure_raises(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.error(500))
    with pytest.raises(LlmAnalysisError, match="HTTP 500"):
        await analyzer(fake, fallback=None).analyze(call())


async def test_a_call_with_an_empty_transcript_is_not_sent(fake: FakeOpenAIServer) -> None:
    item = call(transcript=[], results={}, status="no_answer", end_reason=None, answered_by=None)
    result = await analyzer(fake).analyze(item)
    assert fake.completions == []
    assert (result.engine, result.error, result.call_summary) == ("offline", None, "No one answered.")


def test_choose_analyzer_takes_the_llm_engine_only_with_a_server() -> None:
    chosen = choose_analyzer("http://127.0.0.1:9/v1", "key", "some-model")
    assert isinstance(chosen, LlmAnalyzer) and chosen.model == "some-model"
    assert isinstance(choose_analyzer("", "key", "some-model"), OfflineAnalyzer)
    assert isinstance(choose_analyzer("  ", "", ""), OfflineAnalyzer)


# The fake itself: the protocol details the LLM dialogue will rely on.


async def test_the_fake_streams_text_in_chunks_ending_with_usage(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.text("Hello there, how can I help?"))
    client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-analysis", max_retries=0)
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "Hello there, how can I help?" and len(pieces) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    await client.close()


async def test_the_fake_streams_tool_calls_as_deltas(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.tools(ToolCall("lookup", {"order": 7}, id="call_1"), content="One moment."))
    client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-analysis", max_retries=0)
    stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    name, arguments, finish = "", "", None
    async for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            assert delta.function is not None
            name += delta.function.name or ""
            arguments += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (name, json.loads(arguments), finish) == ("lookup", {"order": 7}, "tool_calls")
    await client.close()


async def test_the_fake_answers_tool_calls_in_a_whole_completion(fake: FakeOpenAIServer) -> None:
    fake.script(Reply.tool_call("end_call"))
    client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-analysis", max_retries=0)
    completion = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "bye"}])
    calls = completion.choices[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls if c.type == "function"] == [("end_call", "{}")]
    assert completion.choices[0].finish_reason == "tool_calls"
    await client.close()


async def test_the_fake_lists_its_models_and_refuses_a_wrong_key(fake: FakeOpenAIServer) -> None:
    client = AsyncOpenAI(base_url=fake.base_url, api_key="sk-analysis", max_retries=0)
    assert [m.id async for m in client.models.list()] == ["fake-model"]
    await client.close()
    fake.script(Reply.text("never sent"))
    wrong = AsyncOpenAI(base_url=fake.base_url, api_key="nope", max_retries=0)
    with pytest.raises(Exception, match="401"):
        await wrong.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    await wrong.close()
    assert fake.pending == 1 and fake.completions == []
