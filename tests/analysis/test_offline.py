"""The offline analysis engine: every answer from the call's signals, transcript and results."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from callwright.domain.agent import AnalysisPlan, ResultField
from callwright.services.analysis import WEBHOOK_FIELDS, AnalysisInput, OfflineAnalyzer
from callwright.services.analysis.sentiment import user_sentiment

DEMO_FIELDS = [
    ResultField(name="confirmed", type="boolean"),
    ResultField(name="new_day", type="enum", enum=["Tuesday", "Wednesday", "Thursday"]),
    ResultField(name="verification_code", type="string"),
]


def turns(*lines: tuple[str, str]) -> list[dict[str, Any]]:
    """Transcript turns two seconds apart."""
    return [
        {"role": role, "text": text, "start_ms": i * 2000, "end_ms": i * 2000 + 1500, "interrupted": False}
        for i, (role, text) in enumerate(lines)
    ]


def demo_call(**changes: Any) -> AnalysisInput:
    """The demo's appointment call: the patient cannot make Monday, picks Wednesday, keys 4567."""
    item = AnalysisInput(
        transcript=turns(
            ("agent", "Hi Maria, this is Riverside Dental calling about your appointment on Monday at 10 AM. "
             "Can you make it?"),
            ("user", "no"),
            ("agent", "No problem. Which day suits you better: Tuesday, Wednesday or Thursday?"),
            ("user", "wednesday please"),
            ("agent", "To confirm it is you, please enter the last four digits of your phone number."),
            ("user", "4567"),
            ("agent", "Thank you, Maria. You are all set for Wednesday. Goodbye."),
        ),
        results={"confirmed": False, "new_day": "wednesday", "verification_code": "4567", "outcome": "completed"},
        status="completed",
        end_reason="agent_hangup",
        answered_by="human",
        duration_ms=42_000,
        plan=AnalysisPlan(results=DEMO_FIELDS),
        prompt="You confirm dental appointments for Riverside Dental.",
    )
    return replace(item, **changes)


def caller(*said: str, **changes: Any) -> AnalysisInput:
    """A completed call where the caller said ``said`` (one turn each) after an agent greeting."""
    lines: list[tuple[str, str]] = [("agent", "Hello, this is Sam from Acme about your order.")]
    for text in said:
        lines += [("user", text), ("agent", "I see.")]
    return replace(demo_call(transcript=turns(*lines), results={}, plan=AnalysisPlan()), **changes)


def with_plan(item: AnalysisInput, **plan: Any) -> AnalysisInput:
    return replace(item, plan=item.plan.model_copy(update=plan))


async def analyze(item: AnalysisInput) -> dict[str, Any]:
    return (await OfflineAnalyzer().analyze(item)).to_dict()


async def test_demo_call_that_reached_its_end_is_complete_on_both_ratings() -> None:
    result = await analyze(demo_call())
    assert result["call_completion_rating"] == "Complete"
    assert result["agent_task_completion_rating"] == "Complete"
    assert result["in_voicemail"] is False
    assert (result["engine"], result["model"], result["error"]) == ("offline", None, None)


async def test_custom_data_holds_the_collected_values_in_their_declared_types() -> None:
    result = await analyze(demo_call())
    assert result["custom_analysis_data"] == {"confirmed": False, "new_day": "Wednesday", "verification_code": "4567"}


async def test_custom_data_coerces_each_type_from_text() -> None:
    fields = [
        ResultField(name="amount", type="number"),
        ResultField(name="words", type="number"),
        ResultField(name="agrees", type="boolean"),
        ResultField(name="refuses", type="boolean"),
        ResultField(name="plan", type="enum", enum=["Basic", "Premium"]),
        ResultField(name="when", type="date"),
        ResultField(name="code", type="string"),
    ]
    results = {
        "amount": "42", "words": "forty two", "agrees": "Yes", "refuses": "false", "plan": "premium",
        "when": "March 4, 2026", "code": 4567,
    }
    result = await analyze(demo_call(results=results, plan=AnalysisPlan(results=fields)))
    assert result["custom_analysis_data"] == {
        "amount": 42, "words": 42, "agrees": True, "refuses": False, "plan": "Premium", "when": "2026-03-04",
        "code": "4567",
    }


async def test_custom_data_is_null_when_missing_or_not_convertible() -> None:
    fields = [
        ResultField(name="amount", type="number"),
        ResultField(name="agrees", type="boolean"),
        ResultField(name="plan", type="enum", enum=["Basic", "Premium"]),
        ResultField(name="when", type="date"),
        ResultField(name="never_asked", type="string"),
    ]
    results = {"amount": "lots", "agrees": "not sure", "plan": "gold", "when": "whenever"}
    result = await analyze(demo_call(results=results, plan=AnalysisPlan(results=fields)))
    assert result["custom_analysis_data"] == dict.fromkeys(["amount", "agrees", "plan", "when", "never_asked"])


async def test_custom_data_leaves_out_values_the_plan_does_not_declare() -> None:
    plan = AnalysisPlan(results=[ResultField(name="confirmed", type="boolean")])
    result = await analyze(demo_call(plan=plan))
    assert result["custom_analysis_data"] == {"confirmed": False}


async def test_relative_dates_resolve_from_the_start_of_the_call() -> None:
    plan = AnalysisPlan(results=[ResultField(name="callback", type="date")])
    item = demo_call(results={"callback": "next friday"}, plan=plan, started_at=datetime(2026, 3, 2, 9, 0))  # Monday
    assert (await analyze(item))["custom_analysis_data"] == {"callback": "2026-03-06"}


@pytest.mark.parametrize(
    ("criteria", "successful"),
    [
        ("confirmed is yes", False),
        ("confirmed is no", True),
        ("confirmed", False),
        ("not confirmed", True),
        ("verification_code is collected", True),
        ("verification code is collected and new_day is set", True),
        ("new_day is tuesday or wednesday", True),
        ("new_day is tuesday or thursday", False),
        ("The call is successful if the outcome is completed.", True),
        ("outcome isn't flow_error", True),
        ("- verification_code is collected\n- confirmed is yes", False),
        ("new_day is missing", False),
        ("status: completed, end_reason = agent_hangup", True),
    ],
)
async def test_success_criteria_in_the_rule_language_are_evaluated_on_the_results(
    criteria: str, successful: bool
) -> None:
    item = with_plan(demo_call(), success_criteria=criteria)
    assert (await analyze(item))["call_successful"] is successful


async def test_numeric_criteria_compare_numbers() -> None:
    plan = AnalysisPlan(success_criteria="amount is at least 100", results=[ResultField(name="amount", type="number")])
    assert (await analyze(demo_call(results={"amount": "150"}, plan=plan)))["call_successful"] is True
    assert (await analyze(demo_call(results={"amount": "99"}, plan=plan)))["call_successful"] is False


async def test_success_criteria_confirmed_is_yes_on_a_call_where_the_patient_confirmed() -> None:
    plan = AnalysisPlan(
        success_criteria="confirmed is yes",
        results=[ResultField(name="confirmed", type="boolean"), ResultField(name="verification_code")],
    )
    item = demo_call(results={"confirmed": True, "verification_code": "4567", "outcome": "completed"}, plan=plan)
    result = await analyze(item)
    assert result["call_successful"] is True
    assert result["agent_task_completion_rating"] == "Complete"


async def test_free_text_criteria_fall_back_to_task_completion_on_a_completed_call() -> None:
    free_text = "The patient agreed to a new appointment time"
    assert (await analyze(with_plan(demo_call(), success_criteria=free_text)))["call_successful"] is True
    cut_short = demo_call(results={"confirmed": False, "outcome": "completed"})
    assert (await analyze(with_plan(cut_short, success_criteria=free_text)))["call_successful"] is False


async def test_without_criteria_a_completed_call_with_its_task_complete_is_successful() -> None:
    assert (await analyze(demo_call()))["call_successful"] is True
    assert (await analyze(demo_call(results={"confirmed": False})))["call_successful"] is False


@pytest.mark.parametrize(
    ("status", "end_reason", "answered_by"),
    [
        ("voicemail", None, None),
        ("completed", "voicemail_message", None),
        ("completed", "voicemail_hangup", "unknown"),
        ("completed", "agent_hangup", "machine_end_beep"),
        ("completed", "agent_hangup", "fax"),
    ],
)
async def test_voicemail_is_read_from_the_call_signals(
    status: str, end_reason: str | None, answered_by: str | None
) -> None:
    item = demo_call(status=status, end_reason=end_reason, answered_by=answered_by)
    assert (await analyze(item))["in_voicemail"] is True


async def test_voicemail_call_is_incomplete_and_not_successful() -> None:
    item = demo_call(
        transcript=turns(("agent", "Hi Maria, this is Riverside Dental. Please call us back.")),
        results={},
        status="voicemail",
        end_reason="voicemail_message",
        answered_by="machine_end_beep",
        duration_ms=31_000,
    )
    result = await analyze(item)
    assert result["in_voicemail"] is True
    assert result["call_completion_rating"] == "Incomplete"
    assert result["agent_task_completion_rating"] == "Incomplete"
    assert result["call_successful"] is False
    assert result["call_summary"] == (
        'The agent opened with: "Hi Maria, this is Riverside Dental. Please call us back." '
        "The call reached voicemail and the agent left a message after 31 s."
    )


async def test_unanswered_call_is_incomplete_with_a_one_line_summary() -> None:
    item = demo_call(transcript=[], results={}, status="no_answer", end_reason=None, answered_by=None, duration_ms=None)
    result = await analyze(item)
    assert result["call_summary"] == "No one answered."
    assert result["call_completion_rating"] == "Incomplete"
    assert result["agent_task_completion_rating"] == "Incomplete"
    assert result["call_successful"] is False
    assert result["in_voicemail"] is False
    assert result["user_sentiment"] == "Neutral"


async def test_caller_hanging_up_midway_makes_the_call_partial() -> None:
    item = demo_call(
        transcript=demo_call().transcript[:4],
        results={"confirmed": False, "new_day": "wednesday"},
        end_reason="user_hangup",
        duration_ms=20_000,
    )
    result = await analyze(item)
    assert result["call_completion_rating"] == "Partial"
    assert result["agent_task_completion_rating"] == "Partial"
    assert result["call_successful"] is False


@pytest.mark.parametrize("end_reason", ["silence_timeout", "max_duration"])
async def test_a_call_cut_short_by_a_limit_is_partial(end_reason: str) -> None:
    item = demo_call(end_reason=end_reason)
    assert (await analyze(item))["call_completion_rating"] == "Partial"


async def test_a_flow_that_failed_is_partial_even_though_the_agent_hung_up() -> None:
    item = demo_call(results={"confirmed": False, "outcome": "flow_error"})
    assert (await analyze(item))["call_completion_rating"] == "Partial"


async def test_a_caller_who_never_spoke_makes_the_call_incomplete() -> None:
    silent = turns(("agent", "Hello?"), ("agent", "Goodbye."))
    item = demo_call(transcript=silent, results={}, end_reason="silence_timeout")
    result = await analyze(item)
    assert result["call_completion_rating"] == "Incomplete"
    assert "The user did not speak." in result["call_summary"]


async def test_task_without_declared_fields_is_complete_when_the_flow_reached_its_end() -> None:
    plain = demo_call(plan=AnalysisPlan())
    assert (await analyze(plain))["agent_task_completion_rating"] == "Complete"
    failed = demo_call(plan=AnalysisPlan(), results={"outcome": "no_usable_answer"})
    assert (await analyze(failed))["agent_task_completion_rating"] == "Partial"


async def test_angry_caller_is_negative() -> None:
    item = caller("what is this about", "this is ridiculous, stop calling me", "I said no, leave me alone")
    assert (await analyze(item))["user_sentiment"] == "Negative"


async def test_happy_caller_is_positive() -> None:
    item = caller("oh yes hello", "that sounds great, thank you so much", "perfect, have a nice day")
    assert (await analyze(item))["user_sentiment"] == "Positive"


async def test_not_happy_is_negative() -> None:
    assert (await analyze(caller("yes", "I'm not happy with the service")))["user_sentiment"] == "Negative"


async def test_plain_answers_are_neutral() -> None:
    assert (await analyze(demo_call()))["user_sentiment"] == "Neutral"
    assert (await analyze(caller("yes", "okay", "sure", "yes", "right")))["user_sentiment"] == "Neutral"


async def test_no_before_a_word_is_an_answer_not_a_negation() -> None:
    assert user_sentiment(["no, wednesday is good, thanks"]) == "Positive"
    assert user_sentiment(["no good"]) != "Positive"


async def test_a_contrast_outweighs_what_came_before() -> None:
    assert user_sentiment(["thanks, but please stop calling me"]) == "Negative"


async def test_only_the_callers_words_count_for_sentiment() -> None:
    item = caller("yes")
    agent_only = turns(("agent", "Sorry for the terrible trouble, this is ridiculous, I hate it"), ("user", "okay"))
    assert (await analyze(replace(item, transcript=agent_only)))["user_sentiment"] == "Neutral"


async def test_sentiment_is_none_when_the_plan_does_not_ask() -> None:
    item = with_plan(caller("this is ridiculous"), sentiment=False)
    assert (await analyze(item))["user_sentiment"] is None


async def test_summary_names_the_opening_the_answers_and_the_ending() -> None:
    assert (await analyze(demo_call()))["call_summary"] == (
        'The agent opened with: "Hi Maria, this is Riverside Dental calling about your appointment on Monday '
        'at 10 AM. Can you make it?" The user\'s answers: confirmed: no; new_day: Wednesday; '
        'verification_code: 4567. The call ended when the agent hung up after 42 s, with outcome "completed".'
    )


async def test_summary_quotes_the_caller_when_nothing_was_collected() -> None:
    item = caller("I would like to change my delivery address please", end_reason="user_hangup", duration_ms=75_000)
    assert (await analyze(item))["call_summary"] == (
        'The agent opened with: "Hello, this is Sam from Acme about your order." The user said: '
        '"I would like to change my delivery address please." The user hung up after 1 min 15 s.'
    )


async def test_summary_is_none_when_the_plan_does_not_ask() -> None:
    assert (await analyze(with_plan(demo_call(), summary=False)))["call_summary"] is None


async def test_analysis_has_exactly_the_seed_003_fields_and_the_engine_fields() -> None:
    result = await analyze(demo_call())
    assert set(result) == {*WEBHOOK_FIELDS, "engine", "model", "error"}


async def test_the_same_call_always_gets_the_same_analysis() -> None:
    assert await analyze(demo_call()) == await analyze(demo_call())
