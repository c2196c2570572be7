"""Parsing caller answers per expectation."""

from __future__ import annotations

from datetime import datetime

import pytest

from callwright.dialogue.answers import parse_answer
from callwright.dialogue.base import UserInput
from callwright.domain.expectation import Expectation

MONDAY = datetime(2026, 3, 2, 10, 0)  # a Monday
DAYS = Expectation(kind="choice", choices=("monday", "tuesday", "wednesday"))


def said(text: str) -> UserInput:
    return UserInput(text=text)


def pressed(dtmf: str) -> UserInput:
    return UserInput(dtmf=dtmf)


@pytest.mark.parametrize("text", ["yes", "Yeah.", "sure", "correct", "That's right", "yep, I can", "no problem"])
def test_yes_words(text: str) -> None:
    assert parse_answer(Expectation(kind="yes_no"), said(text)) is True


@pytest.mark.parametrize("text", ["no", "Nope", "not really", "that's not right", "I can't"])
def test_no_words(text: str) -> None:
    assert parse_answer(Expectation(kind="yes_no"), said(text)) is False


def test_yes_no_unrelated_text_is_no_answer() -> None:
    assert parse_answer(Expectation(kind="yes_no"), said("what is this about")) is None


def test_yes_no_dtmf() -> None:
    assert parse_answer(Expectation(kind="yes_no"), pressed("1")) is True
    assert parse_answer(Expectation(kind="yes_no"), pressed("2")) is False
    assert parse_answer(Expectation(kind="yes_no"), pressed("5")) is None


def test_choice_with_filler_words() -> None:
    assert parse_answer(DAYS, said("Tuesday please")) == "tuesday"


def test_choice_keeps_configured_spelling() -> None:
    assert parse_answer(Expectation(kind="choice", choices=("Sales", "Support")), said("support")) == "Support"


def test_choice_dtmf_picks_nth() -> None:
    assert parse_answer(DAYS, pressed("3")) == "wednesday"


def test_choice_dtmf_out_of_range() -> None:
    assert parse_answer(DAYS, pressed("7")) is None


def test_choice_by_ordinal() -> None:
    assert parse_answer(DAYS, said("the second one")) == "tuesday"


def test_choice_tolerates_misrecognition() -> None:
    assert parse_answer(DAYS, said("wensday")) == "wednesday"


def test_choice_ambiguous_answer_is_no_answer() -> None:
    assert parse_answer(DAYS, said("monday or tuesday")) is None


def test_digits_from_words() -> None:
    assert parse_answer(Expectation(kind="digits", length=4), said("one two three four")) == "1234"


def test_digits_oh_and_double() -> None:
    assert parse_answer(Expectation(kind="digits"), said("oh four double five")) == "0455"


def test_digits_from_numerals_in_text() -> None:
    assert parse_answer(Expectation(kind="digits"), said("my pin is 12 34")) == "1234"


def test_digits_from_dtmf_ignores_terminator() -> None:
    assert parse_answer(Expectation(kind="digits", length=4), pressed("0042#")) == "0042"


def test_digits_wrong_length_is_no_answer() -> None:
    assert parse_answer(Expectation(kind="digits", length=4), said("one two")) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("twenty five", 25),
        ("a hundred and ten dollars", 110),
        ("two thousand three hundred forty five", 2345),
        ("$1,250", 1250),
        ("about 2.5", 2.5),
        ("nineteen", 19),
    ],
)
def test_numbers(text: str, value: float) -> None:
    assert parse_answer(Expectation(kind="number"), said(text)) == value


def test_number_from_dtmf() -> None:
    assert parse_answer(Expectation(kind="number"), pressed("42#")) == 42


def test_no_number_is_no_answer() -> None:
    assert parse_answer(Expectation(kind="number"), said("I have a dog")) is None


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Tuesday please", "2026-03-03"),
        ("monday", "2026-03-09"),
        ("tomorrow", "2026-03-03"),
        ("the day after tomorrow", "2026-03-04"),
        ("the 3rd", "2026-03-03"),
        ("on the first", "2026-04-01"),
        ("march fifth", "2026-03-05"),
        ("April 1st", "2026-04-01"),
    ],
)
def test_dates(text: str, iso: str) -> None:
    assert parse_answer(Expectation(kind="date"), said(text), now=MONDAY) == iso


def test_unparseable_date_is_no_answer() -> None:
    assert parse_answer(Expectation(kind="date"), said("banana"), now=MONDAY) is None


def test_text_is_stripped() -> None:
    assert parse_answer(Expectation(kind="text"), said("  call me later ")) == "call me later"


def test_empty_text_is_no_answer() -> None:
    assert parse_answer(Expectation(kind="text"), said("   ")) is None


def test_digits_written_with_dots_are_digits() -> None:
    """Whisper writes a digit string as a decimal ("5.051", "9.8.7.6")."""
    assert parse_answer(Expectation(kind="digits", length=4), said("5.051.")) == "5051"
    assert parse_answer(Expectation(kind="digits", length=4), said("9.8.7.6")) == "9876"
