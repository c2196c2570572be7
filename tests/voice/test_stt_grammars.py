"""Grammars built from expectations: parseable by pocketsphinx, in the dictionary, mapped back."""

from __future__ import annotations

import pocketsphinx as ps
import pytest

from callwright.domain.expectation import Expectation
from callwright.voice.stt.grammars import (
    choice_grammar,
    date_grammar,
    digits_grammar,
    grammar_for,
    number_grammar,
    yes_no_grammar,
)
from callwright.voice.stt.pocketsphinx import Lexicon

LEXICON = Lexicon()
KNOWN = LEXICON.__contains__


@pytest.mark.parametrize(
    "grammar", [yes_no_grammar(), digits_grammar(4), digits_grammar(None), number_grammar(), date_grammar()]
)
def test_every_word_of_a_fixed_grammar_is_in_the_dictionary(grammar: object) -> None:
    assert hasattr(grammar, "words")
    missing = [w for w in grammar.words if w not in LEXICON]
    assert missing == []


@pytest.mark.parametrize("grammar", [yes_no_grammar(), digits_grammar(4), number_grammar(), date_grammar()])
def test_pocketsphinx_parses_the_grammar(grammar: object) -> None:
    decoder = ps.Decoder(lm=None, loglevel="FATAL")
    decoder.add_jsgf_string("g", grammar.jsgf)  # type: ignore[attr-defined]


def test_yes_no_phrases_map_to_yes_or_no() -> None:
    g = yes_no_grammar()
    assert [g.interpret(p) for p in ("that's right", "absolutely", "nope", "not really")] == ["yes", "yes", "no", "no"]


def test_a_partial_path_counts_only_when_unambiguous() -> None:
    g = yes_no_grammar()
    assert (g.interpret("no thank"), g.interpret("that's")) == ("no", "")


def test_choice_returns_the_choice_as_the_flow_spelled_it() -> None:
    g = choice_grammar(["New York", "Los Angeles"], KNOWN)
    assert g is not None and g.interpret("los angeles") == "Los Angeles"


def test_choice_drops_words_missing_from_the_dictionary() -> None:
    g = choice_grammar(["Zzyzxqv Street", "Qwxzvj"], KNOWN)
    assert g is not None and g.canonical == {"street": "Zzyzxqv Street"}


def test_choice_with_no_known_word_falls_back_to_open_vocabulary() -> None:
    assert grammar_for(Expectation("choice", ("Qwxzvj",)), KNOWN) is None


def test_digits_of_fixed_length_repeat_the_digit_rule() -> None:
    assert "public <answer> = <digit> <digit> <digit> <digit>;" in digits_grammar(4).jsgf


def test_spoken_oh_is_returned_as_zero() -> None:
    assert digits_grammar(None).interpret("five oh nine") == "five zero nine"


def test_open_speech_has_no_grammar() -> None:
    assert (grammar_for(None, KNOWN), grammar_for(Expectation("text"), KNOWN)) == (None, None)
