"""Redaction of payment-card and US social-security numbers from free text.

Callers read numbers out loud, so a transcript (and anything built from it: results, webhooks,
logs) can hold a card or a social-security number. ``redact`` replaces them:

- a card number becomes ``[card ending 1234]``: the last four digits are what a support agent or
  a receiving system needs to tell cards apart, and PCI DSS allows showing them;
- a social-security number becomes ``[ssn redacted]``.

What counts:

- A *run* is a sequence of digit groups (``4111 1111-1111 1111``) or recognised digit words
  (``four one one one``, ``oh`` for zero, ``double five``) separated by spaces or dashes (words
  also by commas). A run never starts or ends inside a word, so IDs such as ``ord4111…`` or hex
  trace IDs are left alone. Only whole groups are combined, so a 20-digit reference is never cut
  down to a 16-digit card. Written groups must be laid out as cards are (one block, single
  digits, fours, 4-6-5 or 4-6-4), so a list of unrelated numbers is not read as one card.
- A card is 13–19 consecutive digits of a run, not starting with 0, that pass the Luhn check (an
  order number that happens to be 16 digits long is kept, unless it is Luhn-valid).
- A social-security number is ``123-45-6789`` or ``123 45 6789`` anywhere; a run of exactly nine
  digits only when "social", "social security", "ssn" (or "s.s.n.") comes at most four words
  before it. Impossible numbers are kept: area 000, 666 or 9xx, group 00, serial 0000.
- The first group after a ``+`` is a phone number in E.164 and is never redacted.

Number words beyond single digits ("forty-one") are not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CARD_MIN_DIGITS = 13
CARD_MAX_DIGITS = 19
SSN_REDACTED = "[ssn redacted]"

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
_MULTIPLIERS = {"double": 2, "triple": 3}
# The same words as a prefix tree: the regex engine tries far fewer branches per character.
_WORD = r"(?:z(?:ero)|o(?:h|ne)|t(?:wo|hree|riple)|f(?:our|ive)|s(?:ix|even)|eight|nine|double)"
_TOKEN = rf"(?:[0-9]+|{_WORD}\b)"
_SEP = r"(?:[ \t]*[,\-][ \t]*|[ \t]+)"
# Not preceded by a word character: ``ord4111…`` or the tail of a hex ID is not a run.
_RUN = re.compile(rf"(?<!\w)(?:{_TOKEN}(?:{_SEP}{_TOKEN})*)(?!\w)", re.IGNORECASE)
_TOKENS = re.compile(_TOKEN, re.IGNORECASE)
_NUMERAL_SEP = re.compile(r"[ \t]*-[ \t]*|[ \t]+")
_SSN_CONTEXT = re.compile(
    r"(?:\b(?:social(?:[ \t]+security)?|ssn)\b|\bs\.s\.n\.?)(?:\W+[A-Za-z']+){0,4}\W*$", re.IGNORECASE
)
_CONTEXT_WINDOW = 80
# Nothing shorter than nine digits is redacted; the digits right after a "+" or another digit
# are never where one starts. The pattern begins with a character class so the engine skips
# ahead quickly: about 1-5 µs for a log line.
_LONG_NUMBER = re.compile(r"[0-9](?<![+0-9][0-9])(?:[ \t,\-]*[0-9]){8}")
# Five digit words in a row ("triple one" is three digits), tested on lower-cased text.
_DIGIT_WORD_RUN = re.compile(rf"\b{_WORD}\b(?:[ \t,\-]+{_WORD}\b){{4}}")


@dataclass(slots=True)
class _Group:
    """Digits of one token (or of ``double five``) and where they sit in the text."""

    digits: str
    start: int
    end: int
    numeral: bool
    sep_before: str


def has_long_number(text: str) -> bool:
    """A cheap test that rules out most log lines: no nine digits in a row (spaces and dashes
    allowed), no card or social-security number in numerals."""
    return _LONG_NUMBER.search(text) is not None


def might_contain_pii(text: str) -> bool:
    """``has_long_number``, or a run of spoken digit words as a recogniser writes them."""
    return has_long_number(text) or _DIGIT_WORD_RUN.search(text.lower()) is not None


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def valid_ssn(digits: str) -> bool:
    """The Social Security Administration never issues these, so they are not real numbers."""
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def card_redacted(digits: str) -> str:
    return f"[card ending {digits[-4:]}]"


def _segments(text: str, match: re.Match[str]) -> list[list[_Group]]:
    """Split a run into segments of groups. A comma between numerals ("1,234") ends a segment,
    and so does a ``double`` that no digit word follows."""
    segments: list[list[_Group]] = [[]]
    multiplier: tuple[int, int] | None = None  # (times, start) of a pending "double"/"triple"
    prev_end = match.start()
    for tok in _TOKENS.finditer(text, match.start(), match.end()):
        raw, sep = tok.group().lower(), text[prev_end : tok.start()]
        prev_end = tok.end()
        current = segments[-1]
        numeral = raw[0] in "0123456789"
        if raw in _MULTIPLIERS or numeral:
            broken = multiplier is not None or (
                numeral and bool(current) and current[-1].numeral and not _NUMERAL_SEP.fullmatch(sep)
            )
            if broken and current:
                segments.append([])
            multiplier = (_MULTIPLIERS[raw], tok.start()) if not numeral else None
            if numeral:
                segments[-1].append(_Group(raw, tok.start(), tok.end(), True, sep))
            continue
        digit, start = _DIGIT_WORDS[raw], tok.start()
        if multiplier is not None:
            digit, start = digit * multiplier[0], multiplier[1]
            multiplier = None
        current.append(_Group(digit, start, tok.end(), False, sep))
    return [s for s in segments if s]


_CARD_LAYOUTS = {(4, 6, 5), (4, 6, 4)}  # American Express, Diners Club


def _card_layout(groups: list[_Group]) -> bool:
    """Whether written groups are laid out as cards are printed or typed: one block, single
    digits, fours (the last group shorter), or 4-6-5 / 4-6-4. Spoken digits may come in any
    grouping. This keeps a list of unrelated numbers from being read as one card."""
    if len(groups) == 1 or not all(g.numeral for g in groups):
        return True
    sizes = tuple(len(g.digits) for g in groups)
    return (
        all(n == 1 for n in sizes)
        or (all(n == 4 for n in sizes[:-1]) and sizes[-1] <= 4)
        or sizes in _CARD_LAYOUTS
    )


def _find_cards(groups: list[_Group], first: int) -> list[tuple[int, int]]:
    """Group ranges [i, j) that read as a card: leftmost first, the longest one at each start."""
    found: list[tuple[int, int]] = []
    i = first
    while i < len(groups):
        best: int | None = None
        if groups[i].digits[0] != "0":
            digits = ""
            candidates: list[tuple[int, str]] = []
            for j in range(i, len(groups)):
                digits += groups[j].digits
                if len(digits) > CARD_MAX_DIGITS:
                    break
                if len(digits) >= CARD_MIN_DIGITS and _card_layout(groups[i : j + 1]):
                    candidates.append((j + 1, digits))
            best = next((end for end, number in reversed(candidates) if luhn_valid(number)), None)
        if best is None:
            i += 1
        else:
            found.append((i, best))
            i = best
    return found


def _find_ssns(text: str, groups: list[_Group], first: int, taken: set[int]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for i in range(first, len(groups) - 2):
        a, b, c = groups[i : i + 3]
        if (
            a.numeral and b.numeral and c.numeral
            and (len(a.digits), len(b.digits), len(c.digits)) == (3, 2, 4)
            and b.sep_before.strip() == c.sep_before.strip()
            and not taken.intersection(range(i, i + 3))
            and valid_ssn(a.digits + b.digits + c.digits)
        ):
            found.append((i, i + 3))
    if found or first > 0:
        return found
    digits = "".join(g.digits for g in groups)
    if len(digits) == 9 and not taken and valid_ssn(digits):
        start = groups[0].start
        if _SSN_CONTEXT.search(text, max(0, start - _CONTEXT_WINDOW), start):
            found.append((0, len(groups)))
    return found


def redact(text: str) -> str:
    """``text`` with card and social-security numbers replaced (see the module's rules)."""
    if not might_contain_pii(text):
        return text
    spans: list[tuple[int, int, str]] = []
    for match in _RUN.finditer(text):
        after_plus = match.start() > 0 and text[match.start() - 1] == "+"
        for groups in _segments(text, match):
            first = 1 if after_plus and groups[0].start == match.start() else 0
            cards = _find_cards(groups, first)
            taken = {k for i, j in cards for k in range(i, j)}
            for i, j in cards:
                number = "".join(g.digits for g in groups[i:j])
                spans.append((groups[i].start, groups[j - 1].end, card_redacted(number)))
            for i, j in _find_ssns(text, groups, first, taken):
                spans.append((groups[i].start, groups[j - 1].end, SSN_REDACTED))
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end, replacement in spans:
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact_obj(value: Any) -> Any:
    """A copy of a JSON-like value (transcript, results) with every string redacted. Keys are
    kept. An integer that is a card number becomes the redacted string, since a flow may have
    parsed a spoken card number as a number."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_obj(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_obj(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        digits = str(value)
        if CARD_MIN_DIGITS <= len(digits) <= CARD_MAX_DIGITS and luhn_valid(digits):
            return card_redacted(digits)
    return value
