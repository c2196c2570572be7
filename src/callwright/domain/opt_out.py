"""Does the caller ask not to be called again? A small, deliberately conservative matcher over
what the caller said (never the agent's words).

Compliance needs a request to be honoured, but listing someone who asked for a call *back* is a
harm too, so only explicit requests count: "stop calling me", "take me off your list", "don't
call me again", "put me on your do-not-call list". Rescheduling ("don't call me back tomorrow,
call me next week") does not match, and an explicit request that is itself negated ("please
don't take me off your list", "I'm not asking you to stop calling") does not either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_WHO = r"(?:me|us|this number|my number|this phone|my phone|my cell|here)"
_LIST = r"(?:(?:your|the|this|our|a|that)\s+)?(?:(?:calling|call|phone|contact|mailing)\s+)?list"
_DNC = r"(?:do[\s-]*not[\s-]*call|don'?t[\s-]*call|no[\s-]*call|dnc)"

_REQUESTS = tuple(
    re.compile(p)
    for p in (
        # "stop calling me", "stop calling this number", "please stop calling."
        rf"\bstop\s+(?:calling|contacting|phoning|ringing|dialing)\s+{_WHO}\b",
        r"\bstop\s+(?:calling|contacting|phoning|ringing)\s*(?:[.!,;]|$|please\b|now\b|already\b)",
        # "take me off your list", "remove my number from your calling list"
        rf"\b(?:take|remove|delete|drop|get|scratch|cross|pull)\s+{_WHO}\s+(?:off|from|out\s+of)\s+{_LIST}\b",
        # "put me on your do not call list", "add my number to the DNC list"
        rf"\b(?:put|add|place|register)\s+{_WHO}\s+(?:on|to|in)\s+(?:(?:your|the|a)\s+)?{_DNC}\s+(?:list|registry)\b",
        # "opt me out", "I want to opt out", "unsubscribe me"
        r"\bopt\s+(?:me\s+)?out\b",
        r"\bunsubscribe\s+me\b",
    )
)
"""Requests phrased positively: they count unless their clause negates them."""

_FOR_NOW = r"(?!\s+(?:after|before|until|till|today|tonight|this|at|on|during|for\s+now|right\s+now)\b)"
"""Not "no more calls today" or "no calls before noon": limiting when is not refusing for good."""

_REFUSALS = tuple(
    re.compile(p)
    for p in (
        # "don't call me again", "do not ever call this number again", "never call me anymore"
        rf"\b(?:don'?t|do\s+not|never)\s+(?:ever\s+)?(?:call|contact|phone|ring|dial)\s+{_WHO}\s+"
        r"(?:back\s+)?(?:ever\s+)?(?:again|anymore|any\s+more|ever)\b",
        rf"\b(?:don'?t|do\s+not)\s+ever\s+(?:call|contact|phone|ring|dial)\s+{_WHO}\b",
        # "I don't want any more calls", "I don't want to be called again"
        r"\b(?:don'?t|do\s+not)\s+want\s+(?:any\s+more|anymore|any|these|your|more)\s+(?:phone\s+)?calls\b" + _FOR_NOW,
        r"\b(?:don'?t|do\s+not)\s+want\s+to\s+be\s+(?:called|contacted)\s+(?:again|anymore|any\s+more)\b",
        r"\b(?:don'?t|do\s+not)\s+want\s+you\s+(?:to\s+call|calling)\s+(?:me|us|here)\s+(?:again|anymore|any\s+more)\b",
        r"\bno\s+more\s+(?:phone\s+)?calls\b" + _FOR_NOW,
    )
)
"""Requests that are negative by nature: their own negation is the request."""

_NEGATION = re.compile(
    r"\b(?:not|never|no\s+need\s+to|don'?t|do\s+not|doesn'?t|didn'?t|won'?t|wouldn'?t|shouldn'?t|isn'?t|"
    r"aren'?t|wasn'?t|can'?t|cannot)\b"
)
_CLAUSE_BREAK = re.compile(r"[.!?;,]|\b(?:but|and|so|because|though)\b")


def _normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text).strip()


def _clause_before(text: str, start: int) -> str:
    """The words of the same clause that come before position ``start``."""
    before = text[:start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    return before[breaks[-1].end():] if breaks else before


def asks_not_to_be_called(text: str) -> bool:
    """Whether this utterance explicitly asks not to be called again."""
    said = _normalize(text)
    if any(p.search(said) for p in _REFUSALS):
        return True
    for pattern in _REQUESTS:
        for match in pattern.finditer(said):
            if not _NEGATION.search(_clause_before(said, match.start())):
                return True
    return False


def transcript_opts_out(transcript: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the caller (the user turns) asked not to be called again during the call."""
    return any(
        turn.get("role") == "user" and asks_not_to_be_called(str(turn.get("text") or "")) for turn in transcript
    )
