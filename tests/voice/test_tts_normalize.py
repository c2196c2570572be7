"""speakable(): numbers, money, phone numbers and times the way a person says them."""

from __future__ import annotations

import pytest

from callwright.voice.tts.normalize import number_to_words, ordinal_to_words, speakable, year_to_words


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (40, "forty"),
        (21, "twenty one"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (1250, "one thousand two hundred fifty"),
        (1_000_001, "one million one"),
        (2_500_000_000, "two billion five hundred million"),
        (-12, "minus twelve"),
    ],
)
def test_number_to_words(n: int, words: str) -> None:
    assert number_to_words(n) == words


@pytest.mark.parametrize(
    ("n", "words"),
    [(1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (12, "twelfth"), (20, "twentieth"),
     (22, "twenty second"), (100, "one hundredth"), (111, "one hundred eleventh")],
)  # fmt: skip
def test_ordinal_to_words(n: int, words: str) -> None:
    assert ordinal_to_words(n) == words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        # money
        ("$500.00", "five hundred dollars"),
        ("$1,250.50", "one thousand two hundred fifty dollars and fifty cents"),
        ("$1", "one dollar"),
        ("$1.01", "one dollar and one cent"),
        ("$0.50", "fifty cents"),
        ("$3.5", "three dollars and fifty cents"),
        ("$2.5 million", "two point five million dollars"),
        ("-$20", "minus twenty dollars"),
        ("£3.50", "three pounds and fifty pence"),
        ("€15.99", "fifteen euros and ninety nine cents"),
        ("Your balance is $500.00.", "Your balance is five hundred dollars."),
        # phone numbers: digits in groups
        ("+15551234567", "five five five, one two three, four five six seven"),
        ("(555) 123-4567", "five five five, one two three, four five six seven"),
        ("555-123-4567", "five five five, one two three, four five six seven"),
        ("Call 555-1234.", "Call five five five, one two three four."),
        ("1-800-555-0199", "one, eight zero zero, five five five, zero one nine nine"),
        ("+44 20 7123 4567", "zero two zero, seven one two three, four five six seven"),
        ("+442071234567", "zero two zero, seven one two three, four five six seven"),
        # times
        ("3:30 pm", "three thirty p m"),
        ("See you at 3:30 PM.", "See you at three thirty p m."),
        ("at 3:05 p.m. tomorrow", "at three oh five p m tomorrow"),
        ("at 3pm", "at three p m"),
        ("at 9:00", "at nine o'clock"),
        ("at 15:45", "at three forty five p m"),
        ("at 12:00 am", "at twelve a m"),
        # ordinals, percentages, dates
        ("the 1st, 2nd, 3rd and 22nd", "the first, second, third and twenty second"),
        ("50% off", "fifty percent off"),
        ("3.5% APR", "three point five percent APR"),
        ("on May 21st", "on May twenty first"),
        ("March 3, 2024", "March third, twenty twenty four"),
        ("due 2024-03-15", "due March fifteenth, twenty twenty four"),
        ("in 2005", "in two thousand five"),
        # plain numbers
        ("I have 3 cats", "I have three cats"),
        ("1,200 people", "one thousand two hundred people"),
        ("pi is 3.14", "pi is three point one four"),
        ("0.5", "zero point five"),
        ("-5 degrees", "minus five degrees"),
        ("5-10 minutes", "five to ten minutes"),
        ("Room 12B", "Room twelve B"),
        ("version 2.0.1", "version two point zero point one"),
        ("zip 02134", "zip zero two one, three four"),
        ("account 123456789", "account one two three, four five six, seven eight nine"),
        ("card 4111 1111 1111 1111", "card four one one one, one one one one, one one one one, one one one one"),
        # left alone
        ("No numbers here.", "No numbers here."),
        ("Tom & Jerry", "Tom and Jerry"),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


def test_years() -> None:
    assert year_to_words(1999) == "nineteen ninety nine"
    assert year_to_words(1900) == "nineteen hundred"
    assert year_to_words(2000) == "two thousand"
    assert year_to_words(2024) == "twenty twenty four"
    assert year_to_words(1905) == "nineteen oh five"


def test_output_has_no_digits_left() -> None:
    text = "Pay $1,250.50 by 3:30 pm on the 1st; call +15551234567 or (555) 123-4567, 99.5% sure, 42 items."
    spoken = speakable(text)
    assert not any(c.isdigit() for c in spoken), spoken
