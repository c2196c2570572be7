"""SentenceSplitter: whole texts and token streams must give the same sentences."""

from __future__ import annotations

import pytest

from callwright.voice.sentences import SentenceSplitter


def whole(text: str) -> list[str]:
    splitter = SentenceSplitter()
    return splitter.push(text) + splitter.flush()


def streamed(text: str, size: int) -> list[str]:
    splitter = SentenceSplitter()
    out: list[str] = []
    for i in range(0, len(text), size):
        out += splitter.push(text[i : i + size])
    return out + splitter.flush()


CASES = [
    ("Hello there. How are you? I'm fine!", ["Hello there.", "How are you?", "I'm fine!"]),
    ("First part; second part.", ["First part;", "second part."]),
    ("Line one\nLine two\n\nLine three", ["Line one", "Line two", "Line three"]),
    ("It is 3.5 miles away. Drive safely.", ["It is 3.5 miles away.", "Drive safely."]),
    ("You owe $500.00 today. Pay now.", ["You owe $500.00 today.", "Pay now."]),
    ("That is $1,250.50. Thanks.", ["That is $1,250.50.", "Thanks."]),
    ("Dr. Smith and Mr. Jones are in. Come by.", ["Dr. Smith and Mr. Jones are in.", "Come by."]),
    ("Bring fruit, e.g. apples. Or i.e. pears.", ["Bring fruit, e.g. apples.", "Or i.e. pears."]),
    ("J. R. Smith called. Call back.", ["J. R. Smith called.", "Call back."]),
    ("See you at 5 p.m. tomorrow. Bye.", ["See you at 5 p.m. tomorrow.", "Bye."]),
    ("We open at 9 a.m. See you then.", ["We open at 9 a.m.", "See you then."]),
    ("1. First item\n2. Second item", ["1. First item", "2. Second item"]),
    ("Wait... what? Really?! Yes.", ["Wait... what?", "Really?!", "Yes."]),
    ('He said "call me." Then he left.', ['He said "call me."', "Then he left."]),
    ("Visit example.com for details. Thanks", ["Visit example.com for details.", "Thanks"]),
    ("No. I can't.", ["No.", "I can't."]),
    ("No trailing terminator", ["No trailing terminator"]),
    ("   ", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_whole_text(text: str, expected: list[str]) -> None:
    assert whole(text) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 7])
@pytest.mark.parametrize(("text", "expected"), CASES)
def test_streamed_text_gives_the_same_sentences(text: str, expected: list[str], size: int) -> None:
    assert streamed(text, size) == expected


def test_llm_tokens_release_each_sentence_with_the_next_token() -> None:
    tokens = ["Sure", ",", " your", " balance", " is", " $", "500", ".", "00", ".", " Would", " you", " like", "?", " "]
    splitter = SentenceSplitter()
    released = [splitter.push(t) for t in tokens]
    # "." after 500 might be a decimal point: nothing until "00" shows it was one.
    assert released[7] == []
    assert released[9] == []  # the sentence's own "." could still be "5.5": wait for the next token
    assert released[10] == ["Sure, your balance is $500.00."]
    assert released[14] == ["Would you like?"]
    assert splitter.flush() == []


def test_question_mark_is_released_on_the_following_space() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("Is that right?") == []
    assert splitter.push(" ") == ["Is that right?"]


def test_flush_returns_the_rest_and_empties_the_splitter() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("One.") == []
    assert splitter.push(" Two") == ["One."]
    assert splitter.push(" three") == []
    assert splitter.flush() == ["Two three"]
    assert splitter.flush() == []
    assert splitter.push("Again. ") == []
    assert splitter.push("Yes") == ["Again."]
