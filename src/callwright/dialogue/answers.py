"""Turn what the caller said (or pressed) into the value an ``ask`` expects.

Pure functions: ``parse_answer`` returns the value, or ``None`` when the turn holds no usable
answer (the flow then asks again). Values: ``yes_no`` → ``bool``; ``choice`` → the configured
choice; ``digits`` → a string of digits (leading zeros matter); ``number`` → ``int`` (``float``
when spoken with a decimal point); ``date`` → ISO date string; ``text`` → the stripped text.
Recognition is deliberately forgiving: speech-to-text output is lower-case, unpunctuated and
often wrapped in filler ("tuesday please").
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, timedelta
from typing import Any

from callwright.dialogue.base import UserInput
from callwright.domain.expectation import Expectation

_YES_IDIOMS = ("no problem", "no worries", "why not", "not a problem")
_NO_PHRASES = (
    "no", "nope", "nah", "not really", "not", "negative", "never", "wrong", "incorrect", "cannot",
    "can't", "cant", "won't", "wont", "don't", "dont", "unfortunately", "no way", "not at all",
)
_YES_PHRASES = (
    "yes", "yeah", "yep", "yup", "ya", "yea", "sure", "correct", "that's right", "thats right", "right",
    "ok", "okay", "absolutely", "definitely", "of course", "affirmative", "certainly", "uh huh",
    "sounds good", "fine", "alright", "all right", "i can", "i will", "i do", "indeed", "perfect", "great",
)
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "a": 1,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec",
)


def normalize(text: str) -> str:
    """Lower-case, unify apostrophes, drop punctuation except apostrophes, squeeze spaces."""
    text = text.lower().replace("’", "'").replace("-", " ")
    text = re.sub(r"[^\w\s'/.,]", " ", text)
    text = re.sub(r"(?<!\d)[.,]|[.,](?!\d)", " ", text)
    return " ".join(text.split())


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w']){re.escape(phrase)}(?![\w'])", text) is not None


def parse_yes_no(user: UserInput) -> bool | None:
    """DTMF 1 = yes, 2 = no; otherwise negations win over affirmations ("that's not right")."""
    if user.dtmf:
        return {"1": True, "2": False}.get(user.dtmf.strip("#*")[:1])
    text = normalize(user.text)
    if any(_has_phrase(text, p) for p in _YES_IDIOMS):
        return True
    if any(_has_phrase(text, p) for p in _NO_PHRASES):
        return False
    if any(_has_phrase(text, p) for p in _YES_PHRASES):
        return True
    return None


def parse_choice(user: UserInput, choices: tuple[str, ...]) -> str | None:
    """DTMF n picks the n-th choice; speech matches a choice by words, then by ordinal, then fuzzily.

    Several different choices in one answer ("monday or tuesday") are ambiguous: ``None``.
    """
    if not choices:
        return None
    if user.dtmf:
        digits = user.dtmf.strip("#*")
        index = int(digits) if digits.isdigit() else 0
        return choices[index - 1] if 1 <= index <= len(choices) else None
    text = normalize(user.text)
    if not text:
        return None
    matched = {c for c in choices if _has_phrase(text, normalize(c))}
    if len(matched) == 1:
        return matched.pop()
    if matched:
        return None
    words = text.split()
    for word in words:
        if word in _ORDINALS and _ORDINALS[word] <= len(choices):
            return choices[_ORDINALS[word] - 1]
    by_norm = {normalize(c): c for c in choices}
    fuzzy = {
        by_norm[m] for w in words if len(w) > 2 for m in difflib.get_close_matches(w, by_norm, n=1, cutoff=0.8)
    }
    return fuzzy.pop() if len(fuzzy) == 1 else None


def parse_digits(user: UserInput, length: int | None = None) -> str | None:
    """Digits from DTMF, numerals or digit words ("oh" = 0, "double five" = 55); honours ``length``."""
    if user.dtmf:
        digits = re.sub(r"\D", "", user.dtmf)
    else:
        digits = ""
        repeat = 1
        for token in normalize(user.text).replace(",", " ").split():
            if token in ("double", "triple"):
                repeat = 2 if token == "double" else 3
                continue
            if re.fullmatch(r"\d+(?:\.\d+)*", token):  # Whisper writes digit runs as "5.051", "9.8.6"
                plain = token.replace(".", "")
                digits += plain * repeat if len(plain) == 1 else plain
            elif token in _DIGIT_WORDS:
                digits += _DIGIT_WORDS[token] * repeat
            repeat = 1
    if not digits or (length is not None and len(digits) != length):
        return None
    return digits


def _words_to_number(words: list[str]) -> int | None:
    total = current = 0
    seen = False
    for word in words:
        if word == "and" and seen:
            continue
        if word in _UNITS and not (word == "a" and seen):
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word in _SCALES and seen:
            scale = _SCALES[word]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
        else:
            break
        seen = True
    return total + current if seen else None


def _starts_number(words: list[str], i: int) -> bool:
    if words[i] == "a":  # "a hundred", but not the article
        return i + 1 < len(words) and words[i + 1] in _SCALES
    return words[i] in _UNITS or words[i] in _TENS


def parse_number(user: UserInput) -> int | float | None:
    """Numerals ("1,250", "$500", "2.5") or number words ("twenty five", "a hundred and ten")."""
    if user.dtmf:
        digits = re.sub(r"\D", "", user.dtmf)
        return int(digits) if digits else None
    text = normalize(user.text)
    numeral = re.search(r"-?\d[\d,]*(?:\.\d+)?", text)
    if numeral:
        raw = numeral.group(0).replace(",", "")
        return float(raw) if "." in raw else int(raw)
    words = text.split()
    for start in range(len(words)):
        if _starts_number(words, start):
            value = _words_to_number(words[start:])
            if value is not None:
                return -value if start and words[start - 1] in ("minus", "negative") else value
    return None


def _next_day_of_month(day: int, today: date) -> date | None:
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return None


def parse_date(user: UserInput, now: datetime | None = None) -> str | None:
    """A calendar date, resolved into the future from ``now`` (weekday names mean the next one)."""
    now = now or datetime.now()
    today = now.date()
    text = normalize(user.text)
    if not text:
        return None
    words = text.split()
    if "today" in words:
        return today.isoformat()
    if _has_phrase(text, "day after tomorrow"):
        return (today + timedelta(days=2)).isoformat()
    if "tomorrow" in words:
        return (today + timedelta(days=1)).isoformat()
    for word, number in _ORDINALS.items():
        text = re.sub(rf"\b{word}\b", str(number), text)
    text = re.sub(r"\b(\d{1,2})(?:st|nd|rd|th)\b", r"\1", text)
    has_month = any(w in _MONTHS for w in text.split()) or re.search(r"\d/\d", text) is not None
    if not has_month:
        weekdays = [i for i, name in enumerate(_WEEKDAYS) if name in words]
        if len(weekdays) == 1:
            ahead = (weekdays[0] - today.weekday() - 1) % 7 + 1
            return (today + timedelta(days=ahead)).isoformat()
        day = re.search(r"\bthe (\d{1,2})\b", text) or re.fullmatch(r"(?:on )?(\d{1,2})", text)
        if day:
            found = _next_day_of_month(int(day.group(1)), today)
            return found.isoformat() if found else None
    return _dateparser_date(text, now)


def _dateparser_date(text: str, now: datetime) -> str | None:
    import dateparser

    settings: Any = {
        "RELATIVE_BASE": now.replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    cleaned = re.sub(r"\b(please|how about|what about|let's say|lets say|maybe|i think|on|the|of)\b", " ", text)
    parsed = dateparser.parse(" ".join(cleaned.split()), languages=["en"], settings=settings)
    if parsed is None:
        from dateparser.search import search_dates

        found = search_dates(text, languages=["en"], settings=settings)
        parsed = found[0][1] if found else None
    return parsed.date().isoformat() if parsed else None


def parse_answer(expect: Expectation, user: UserInput, now: datetime | None = None) -> Any | None:
    """The value ``user`` gave for ``expect``, or ``None`` when there is no usable answer."""
    if expect.kind == "yes_no":
        return parse_yes_no(user)
    if expect.kind == "choice":
        return parse_choice(user, expect.choices)
    if expect.kind == "digits":
        return parse_digits(user, expect.length)
    if expect.kind == "number":
        return parse_number(user)
    if expect.kind == "date":
        return parse_date(user, now)
    text = user.text.strip()
    return text or user.dtmf.strip() or None
