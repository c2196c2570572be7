"""Turn a collected value into the type its ``ResultField`` declares, or ``None``.

Values reach analysis from a flow (already parsed: ``bool`` for yes/no, ISO dates, digit
strings), from an LLM reply, or from free text, so the same rules serve every engine and a
webhook consumer always gets the declared JSON type or ``null``, never a surprise.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any

from callwright.dialogue.answers import parse_date, parse_number
from callwright.dialogue.base import UserInput
from callwright.domain.agent import ResultField

_TRUE = frozenset(
    """yes y yeah yep yup ya yea sure true t 1 correct right affirmative confirmed confirm ok okay
    absolutely definitely certainly agreed accepted accept done""".split()
)
_FALSE = frozenset(
    """no n nope nah false f 0 incorrect wrong negative declined decline denied deny rejected reject
    cancelled canceled never""".split()
)
_TRUE_PHRASES = ("that's right", "thats right", "of course", "i do", "i can", "i will", "uh huh", "all right")
_FALSE_PHRASES = ("not really", "i don't", "i dont", "i can't", "i cant", "i won't", "i wont", "no thanks")
_UNSURE = ("not sure", "don't know", "dont know", "maybe", "perhaps", "unsure", "no idea")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _words(text: str) -> str:
    text = text.lower().replace("’", "'").replace("_", " ").replace("-", " ")
    return " ".join(re.findall(r"[a-z0-9']+", text))


def to_bool(value: Any) -> bool | None:
    """``True``/``False`` from a bool, 0/1, or a clear yes/no word or phrase; ``None`` if unclear."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    if not isinstance(value, str):
        return None
    text = _words(value)
    if not text or any(p in text for p in _UNSURE):
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    padded = f" {text} "
    if any(f" {p} " in padded for p in _FALSE_PHRASES):
        return False
    if any(f" {p} " in padded for p in _TRUE_PHRASES):
        return True
    first = text.split()[0]  # "yes please", "no thank you"
    if first in _FALSE:
        return False
    if first in _TRUE:
        return True
    return None


def yes_no_word(value: str) -> bool | None:
    """``True``/``False`` only when the whole text is one yes/no word ("Yes", "false", "1")."""
    text = _words(value)
    return True if text in _TRUE else False if text in _FALSE else None


def to_number(value: Any) -> int | float | None:
    """A finite int/float from a number or its spoken/written form ("42", "$1,250", "forty two")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str) or not value.strip():
        return None
    parsed = parse_number(UserInput(text=value))
    if isinstance(parsed, float) and not math.isfinite(parsed):
        return None
    return parsed


def to_date(value: Any, now: datetime | None = None) -> str | None:
    """An ISO ``YYYY-MM-DD`` date; relative words ("next friday") resolve from ``now``."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if _ISO_DATE.fullmatch(text[:10]):
        try:
            return date.fromisoformat(text[:10]).isoformat()
        except ValueError:
            return None
    return parse_date(UserInput(text=text), now)


def to_text(value: Any) -> str | None:
    """A string: yes/no for booleans, ``42`` rather than ``42.0``; ``None`` when empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        parts = [t for v in value if (t := to_text(v))]
        return ", ".join(parts) or None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(str(value).split())
    return text or None


def to_choice(value: Any, options: list[str]) -> str | None:
    """The declared option (its own spelling) equal to ``value`` ignoring case and separators."""
    text = to_text(value)
    if text is None:
        return None
    wanted = _words(text)
    for option in options:
        if _words(option) == wanted:
            return option
    return None


def coerce_value(field: ResultField, value: Any, now: datetime | None = None) -> Any:
    """``value`` as ``field.type`` declares it, or ``None`` when missing or not convertible."""
    if value is None:
        return None
    if field.type == "number":
        return to_number(value)
    if field.type == "boolean":
        return to_bool(value)
    if field.type == "enum":
        return to_choice(value, field.enum or [])
    if field.type == "date":
        return to_date(value, now)
    return to_text(value)


def custom_data(plan_fields: list[ResultField], results: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """One entry per declared field, typed; fields the dialogue collected but the plan does not
    declare are left out (the plan is the webhook's contract)."""
    return {f.name: coerce_value(f, results.get(f.name), now) for f in plan_fields}
