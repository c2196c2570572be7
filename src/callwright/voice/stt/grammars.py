"""JSGF grammars built from an Expectation, so the recogniser only has to pick among likely answers.

Offline recognition of open speech is poor (64–76 % WER with the shipped model) but good on
small grammars. Each grammar also knows how to turn what was recognised into the text the
dialogue parses: yes/no phrases become ``yes`` or ``no``, a choice comes back exactly as the
flow spelled it, and ``oh`` in a digit string becomes ``zero``.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from callwright.domain.expectation import Expectation

YES_PHRASES: tuple[str, ...] = (
    "yes", "yeah", "yep", "yup", "sure", "correct", "right", "that's right", "that is right",
    "absolutely", "of course", "definitely", "okay", "yes please", "yes it is",
)  # fmt: skip
NO_PHRASES: tuple[str, ...] = (
    "no", "nope", "nah", "not really", "no thanks", "no thank you", "not at all",
    "incorrect", "wrong", "that's wrong",
)  # fmt: skip

DIGIT_WORDS: tuple[str, ...] = (
    "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)  # fmt: skip
UNITS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TEENS = (
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
)  # fmt: skip
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip
ORDINAL_UNITS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
ORDINAL_TEENS = (
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth",
)  # fmt: skip

_TOKEN = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class Grammar:
    """A compiled JSGF grammar plus the mapping from recognised phrases to returned text."""

    name: str
    jsgf: str
    words: frozenset[str]
    # Small grammars get a posterior confidence; on large ones computing it takes 100+ ms at finish.
    scored: bool = False
    canonical: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    word_map: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def interpret(self, hypothesis: str) -> str:
        """Text for the dialogue: a canonical phrase if known, else the words (mapped) as heard."""
        heard = " ".join(hypothesis.split())
        if not heard:
            return ""
        if heard in self.canonical:
            return self.canonical[heard]
        if self.canonical:
            return self._resolve_partial(heard)
        return " ".join(self.word_map.get(w, w) for w in heard.split())

    def _resolve_partial(self, heard: str) -> str:
        """The decoder returns a partial path when no phrase was completed ("no thank").

        Accept it only if every phrase it begins means the same thing; otherwise nothing was
        understood.
        """
        prefix = heard.split()
        meanings = {text for phrase, text in self.canonical.items() if phrase.split()[: len(prefix)] == prefix}
        return meanings.pop() if len(meanings) == 1 else ""


def tokenize(text: str) -> list[str]:
    """Lower-case dictionary tokens of a phrase; hyphens and punctuation separate words."""
    return _TOKEN.findall(text.lower().replace("’", "'"))


def _alts(items: Iterable[str]) -> str:
    return " | ".join(items)


def _compile(kind: str, rules: dict[str, str]) -> tuple[str, str, frozenset[str]]:
    """Render rules (``public`` first) as JSGF; name the grammar by a hash of its text."""
    lines = ["#JSGF V1.0;", "grammar g;"]
    for i, (rule, body) in enumerate(rules.items()):
        lines.append(f"{'public ' if i == 0 else ''}<{rule}> = {body};")
    text = "\n".join(lines) + "\n"
    words = frozenset(w for body in rules.values() for w in _TOKEN.findall(re.sub(r"<[^>]*>", " ", body)))
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    return f"{kind}_{digest}", text, words


@functools.cache
def yes_no_grammar() -> Grammar:
    name, jsgf, words = _compile("yes_no", {"answer": _alts(YES_PHRASES + NO_PHRASES)})
    canonical = {p: "yes" for p in YES_PHRASES} | {p: "no" for p in NO_PHRASES}
    return Grammar(name, jsgf, words, True, canonical)


def choice_grammar(choices: Iterable[str], known: Callable[[str], bool]) -> Grammar | None:
    """Alternatives for each choice; words missing from the dictionary are dropped from a choice.

    A choice with no known word left cannot be recognised and is left out; with no choice left
    the caller falls back to open vocabulary (returns None).
    """
    canonical: dict[str, str] = {}
    for choice in choices:
        spoken = " ".join(w for w in tokenize(choice) if known(w))
        if spoken and spoken not in canonical:
            canonical[spoken] = choice
    if not canonical:
        return None
    name, jsgf, words = _compile("choice", {"answer": _alts(canonical)})
    return Grammar(name, jsgf, words, True, canonical)


@functools.cache
def digits_grammar(length: int | None) -> Grammar:
    """A digit string, exactly ``length`` long when given; ``oh`` is returned as ``zero``."""
    body = " ".join(["<digit>"] * length) if length else "<digit>+"
    name, jsgf, words = _compile("digits", {"answer": body, "digit": _alts(DIGIT_WORDS)})
    return Grammar(name, jsgf, words, word_map={"oh": "zero"})


@functools.cache
def number_grammar() -> Grammar:
    """Cardinal numbers up to 999,999 spoken the usual way (``two hundred and five``)."""
    rules = {
        "answer": "zero | <below_million>",
        "below_million": "<below_thousand> [thousand [[and] <below_thousand>]] | a thousand",
        "below_thousand": "(<unit> | a) hundred [[and] <below_hundred>] | <below_hundred>",
        "below_hundred": "<unit> | <teen> | <tens> [<unit>]",
        "unit": _alts(UNITS),
        "teen": _alts(TEENS),
        "tens": _alts(TENS),
    }
    name, jsgf, words = _compile("number", rules)
    return Grammar(name, jsgf, words)


@functools.cache
def date_grammar() -> Grammar:
    """Relative days, weekdays and calendar dates (``the twenty first of march``)."""
    tens_ordinals = "twentieth | thirtieth | twenty <ord_unit> | thirty first"
    rules = {
        "answer": ("today | tomorrow | the day after tomorrow | [next | this] <weekday> | [<weekday>] <day>"),
        "day": "[the] <ordinal> [of <month>] | <month> [the] <ordinal>",
        "ordinal": f"<ord_unit> | {_alts(ORDINAL_TEENS)} | {tens_ordinals}",
        "ord_unit": _alts(ORDINAL_UNITS),
        "weekday": _alts(WEEKDAYS),
        "month": _alts(MONTHS),
    }
    name, jsgf, words = _compile("date", rules)
    return Grammar(name, jsgf, words)


_STATIC: dict[str, Callable[[], Grammar]] = {
    "yes_no": yes_no_grammar,
    "number": number_grammar,
    "date": date_grammar,
}


def grammar_for(expect: Expectation | None, known: Callable[[str], bool]) -> Grammar | None:
    """The grammar for what the dialogue expects, or None for open speech."""
    if expect is None or expect.kind == "text":
        return None
    if expect.kind == "choice":
        return choice_grammar(expect.choices, known)
    if expect.kind == "digits":
        return digits_grammar(expect.length)
    return _STATIC[expect.kind]()
