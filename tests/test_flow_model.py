"""Flow document validation: precise locations for every structural mistake."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

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
        "bye": {"say": "Goodbye.", "end": "completed"},
    },
}


def errors_for(doc: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as info:
        Flow.model_validate(doc)
    return [(tuple(e["loc"]), e["msg"]) for e in info.value.errors()]


def locs_for(doc: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {loc for loc, _ in errors_for(doc)}


def with_node(name: str, node: dict[str, Any]) -> dict[str, Any]:
    return {"start": "greet", "nodes": {**EXAMPLE["nodes"], name: node}}


def test_api_example_is_valid() -> None:
    assert Flow.model_validate(EXAMPLE).start == "greet"


def test_retries_default_to_two() -> None:
    assert Flow.model_validate(EXAMPLE).node("confirm").retries == 2


def test_round_trips_through_json() -> None:
    flow = Flow.model_validate(EXAMPLE)
    assert Flow.model_validate_json(flow.model_dump_json()) == flow


def test_missing_start_node() -> None:
    assert locs_for({**EXAMPLE, "start": "nope"}) == {("start",)}


def test_missing_next_target_names_the_field() -> None:
    assert locs_for(with_node("thanks", {"say": "x", "next": "gone"})) == {("nodes", "thanks", "next")}


def test_missing_branch_target_names_the_branch() -> None:
    node = {"ask": "q", "expect": "yes_no", "branches": {"yes": "bye", "no": "gone"}}
    assert locs_for(with_node("confirm", node)) == {("nodes", "confirm", "branches", "no")}


def test_missing_fallback_target() -> None:
    node = {"ask": "q", "expect": "text", "next": "bye", "fallback": "gone"}
    assert locs_for(with_node("extra", node)) == {("nodes", "extra", "fallback")}


def test_say_and_ask_together_rejected() -> None:
    assert ("nodes", "x", "ask") in locs_for(with_node("x", {"say": "a", "ask": "b", "expect": "text", "next": "bye"}))


def test_ask_needs_expect() -> None:
    assert locs_for(with_node("x", {"ask": "b", "next": "bye"})) == {("nodes", "x", "expect")}


def test_node_must_lead_somewhere() -> None:
    assert locs_for(with_node("x", {"say": "dead end"})) == {("nodes", "x", "next")}


def test_end_only_node_is_valid() -> None:
    assert Flow.model_validate(with_node("x", {"end": "done"})).node("x").end == "done"


def test_extra_keys_forbidden() -> None:
    assert locs_for(with_node("x", {"say": "a", "next": "bye", "sya": "typo"})) == {("nodes", "x", "sya")}


def test_yes_no_branch_key_must_be_yes_or_no() -> None:
    node = {"ask": "q", "expect": "yes_no", "branches": {"yes": "bye", "maybe": "bye", "default": "bye"}}
    assert locs_for(with_node("x", node)) == {("nodes", "x", "branches", "maybe")}


def test_choice_branch_key_must_be_a_choice() -> None:
    node = {"ask": "q", "expect": {"choice": ["a", "b"]}, "branches": {"c": "bye"}, "next": "bye"}
    assert locs_for(with_node("x", node)) == {("nodes", "x", "branches", "c")}


def test_uncovered_branches_need_default_or_next() -> None:
    node = {"ask": "q", "expect": {"choice": ["a", "b"]}, "branches": {"a": "bye"}}
    (loc, msg), = errors_for(with_node("x", node))
    assert loc == ("nodes", "x", "branches") and "b" in msg


def test_branches_on_say_node_rejected() -> None:
    assert ("nodes", "x", "branches") in locs_for(with_node("x", {"say": "a", "branches": {"yes": "bye"}}))


def test_end_and_next_conflict() -> None:
    assert locs_for(with_node("x", {"say": "a", "next": "bye", "end": "done"})) == {("nodes", "x", "next")}


def test_unknown_expect_kind_rejected() -> None:
    locs = locs_for(with_node("x", {"ask": "q", "expect": "colour", "next": "bye"}))
    assert all(loc[:3] == ("nodes", "x", "expect") for loc in locs)


def test_choice_expectation() -> None:
    flow = Flow.model_validate(EXAMPLE)
    assert flow.to_expectation("reschedule") == Expectation(kind="choice", choices=("monday", "tuesday", "wednesday"))


def test_digits_expectation_with_nested_length() -> None:
    flow = Flow.model_validate(with_node("pin", {"ask": "PIN?", "expect": {"digits": {"length": 4}}, "next": "bye"}))
    assert flow.to_expectation("pin") == Expectation(kind="digits", length=4)


def test_digits_expectation_with_sibling_length() -> None:
    flow = Flow.model_validate(with_node("pin", {"ask": "PIN?", "expect": "digits", "length": 6, "next": "bye"}))
    assert flow.to_expectation("pin") == Expectation(kind="digits", length=6)
