"""A small rule language so success criteria written about result fields work without a model.

The offline engine cannot read free text, but most criteria name the values the agent collects
("confirmed is yes and verification_code is collected"). ``evaluate`` understands:

- clauses joined by ``and``, ``,``, ``;``, ``&&`` or new lines: all must hold; an optional
  preamble such as "The call is successful if" is ignored, as are list bullets;
- alternatives inside a clause joined by ``or`` / ``||``: one must hold; a bare value continues
  the previous comparison ("new_day is tuesday or wednesday");
- each condition starts with a field name (underscores, hyphens or spaces: "verification code"),
  one of the collected results or ``outcome``, ``status``, ``end_reason``, ``answered_by``,
  ``in_voicemail``; then one of
  - nothing: the field is true (a yes/no answer, a boolean) or has any other value;
    ``not <field>`` / ``no <field>`` is the opposite;
  - ``is collected|set|given|provided|present|filled|captured|known|recorded|answered|available``
    (or ``is not ...``): the field has a value, whatever it is (``False`` counts);
  - ``is missing|empty|blank|unknown|absent|null|none``: it has none;
  - ``is|was|=|==|equals|:`` *value* and ``is not|!=`` *value*: equality, ignoring case; yes/no
    words compare with booleans ("confirmed is yes"), numbers numerically;
  - ``>``, ``>=``, ``<``, ``<=``, ``at least``, ``at most``, ``more|greater than``,
    ``less|fewer than``, ``over``, ``under``, ``above``, ``below`` *number*.

Any comparison with a missing value is false. If any part of the text is not understood,
``evaluate`` returns ``None`` and the caller falls back to its own rule: half-understood criteria
could flip the answer ("... and the caller did not complain").
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from callwright.services.analysis.coerce import to_bool, to_number, yes_no_word

_PREAMBLE = re.compile(
    r"^(?:(?:the\s+)?call\s+(?:is|was|counts\s+as)\s+(?:a\s+)?success(?:ful)?|success(?:ful)?|"
    r"it\s+is\s+(?:a\s+)?success(?:ful)?)\s*(?:if|when|means|means\s+that|requires|:)\s*:?\s*"
)
_CLAUSE_SPLIT = re.compile(r"\s*(?:;|,|\n|&&|\band\b)\s*")
_OR_SPLIT = re.compile(r"\s+(?:or|\|\|)\s+")
_BULLET = re.compile(r"^(?:[-*•]|\d+[.)])\s+")
_COPULA = r"(?:is|was|are|were|has\s+been|have\s+been)"
_PRESENT = r"(?:collected|set|given|provided|present|filled(?:\s+in)?|captured|known|recorded|answered|available)"
_ABSENT = r"(?:missing|empty|blank|unknown|absent|null|none)"
_RE_PRESENT = re.compile(rf"^(?:{_COPULA}\s+)?(not\s+)?{_PRESENT}$")
_RE_ABSENT = re.compile(rf"^(?:{_COPULA}\s+)?(not\s+)?{_ABSENT}$")
_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "at least": operator.ge, "greater than or equal to": operator.ge,
    "<=": operator.le, "at most": operator.le, "less than or equal to": operator.le,
    ">": operator.gt, "more than": operator.gt, "greater than": operator.gt, "over": operator.gt,
    "above": operator.gt,
    "<": operator.lt, "less than": operator.lt, "fewer than": operator.lt, "under": operator.lt,
    "below": operator.lt,
}
_RE_NUMERIC = re.compile(
    rf"^(?:{_COPULA}\s+)?("
    + "|".join(re.escape(op) for op in sorted(_NUMERIC_OPS, key=len, reverse=True))
    + r")\s*(.+)$"
)
_RE_NOT_EQUAL = re.compile(rf"^(?:{_COPULA}\s+not(?:\s+equal\s+to)?|!=|<>|does\s+not\s+equal|not\s+equal\s+to)\s*(.+)$")
_RE_EQUAL = re.compile(
    rf"^(?:{_COPULA}\s+(?:equal\s+to|set\s+to)|{_COPULA}|==|=|equals|:|set\s+to|equal\s+to)\s*(.+)$"
)

Condition = Callable[[Mapping[str, Any]], bool]


class _NotUnderstood(Exception):
    pass


def _norm(text: str) -> str:
    text = text.lower().replace("’", "'").replace("_", " ").replace("-", " ")
    text = re.sub(r"\b(is|was|are|were|has|have|does|did)n't\b", r"\1 not", text)
    return " ".join(text.split())


def _has_value(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _truthy(value: Any) -> bool:
    if not _has_value(value):
        return False
    as_bool = to_bool(value)
    return as_bool if as_bool is not None else True


def _equals(actual: Any, expected: str) -> bool:
    if not _has_value(actual):
        return False
    expected = expected.strip().strip("\"'")
    if isinstance(actual, bool):
        return to_bool(expected) is actual
    if isinstance(actual, str) and (said := yes_no_word(actual)) is not None:
        meant = yes_no_word(expected)
        if meant is not None:
            return said is meant
    if isinstance(actual, int | float):
        number = to_number(expected)
        return number is not None and float(number) == float(actual)
    return _norm(str(actual)) == _norm(expected)


def _compare(actual: Any, op: Callable[[float, float], bool], expected: str) -> bool:
    left, right = to_number(actual), to_number(expected)
    return left is not None and right is not None and op(float(left), float(right))


class _Parser:
    def __init__(self, names: list[str]) -> None:
        # Longest first, so "new_day_reason" is not read as "new_day" + "reason".
        self.names = sorted(((_norm(n), n) for n in names), key=lambda p: len(p[0]), reverse=True)

    def field(self, atom: str) -> tuple[str, str] | None:
        for normal, name in self.names:
            if atom == normal:
                return name, ""
            if atom.startswith(normal) and not atom[len(normal)].isalnum():
                return name, atom[len(normal) :].strip()
        return None

    def atom(self, atom: str, previous: tuple[str, str] | None) -> tuple[Condition, tuple[str, str] | None]:
        """A condition, and (field, comparison) a following bare value may continue."""
        negate = False
        if atom.startswith(("not ", "no ")):
            negate, atom = True, atom.split(" ", 1)[1]
        atom = atom.removeprefix("the ")
        found = self.field(atom)
        if found is None:
            if previous is not None and not negate:
                name, kind = previous
                return self._comparison(name, kind, atom), previous
            raise _NotUnderstood(atom)
        name, rest = found
        if negate:
            if rest:
                raise _NotUnderstood(atom)
            return (lambda v: not _truthy(v.get(name))), None
        if not rest:
            return (lambda v: _truthy(v.get(name))), None
        if m := _RE_PRESENT.match(rest):
            want = m.group(1) is None
            return (lambda v: _has_value(v.get(name)) == want), None
        if m := _RE_ABSENT.match(rest):
            want = m.group(1) is not None
            return (lambda v: _has_value(v.get(name)) == want), None
        if m := _RE_NUMERIC.match(rest):
            if to_number(m.group(2)) is None:
                raise _NotUnderstood(atom)
            return self._comparison(name, m.group(1), m.group(2)), (name, m.group(1))
        if m := _RE_NOT_EQUAL.match(rest):
            return self._comparison(name, "!=", m.group(1)), None
        if m := _RE_EQUAL.match(rest):
            return self._comparison(name, "==", m.group(1)), (name, "==")
        raise _NotUnderstood(atom)

    @staticmethod
    def _comparison(name: str, kind: str, expected: str) -> Condition:
        if kind == "==":
            return lambda v: _equals(v.get(name), expected)
        if kind == "!=":
            return lambda v: _has_value(v.get(name)) and not _equals(v.get(name), expected)
        if to_number(expected) is None:
            raise _NotUnderstood(expected)
        op = _NUMERIC_OPS[kind]
        return lambda v: _compare(v.get(name), op, expected)


def parse(criteria: str, names: list[str]) -> list[list[Condition]] | None:
    """The criteria as clauses of alternatives, or ``None`` if any part is not understood."""
    lines = [_norm(line) for line in criteria.strip().splitlines()]
    text = _PREAMBLE.sub("", "\n".join(line for line in lines if line))
    clauses: list[list[Condition]] = []
    parser = _Parser(names)
    try:
        for raw in _CLAUSE_SPLIT.split(text):
            clause = _BULLET.sub("", raw).strip(" .!")
            if not clause:
                continue
            alternatives: list[Condition] = []
            previous: tuple[str, str] | None = None
            for atom in _OR_SPLIT.split(clause):
                condition, previous = parser.atom(atom.strip(" .!"), previous)
                alternatives.append(condition)
            clauses.append(alternatives)
    except _NotUnderstood:
        return None
    return clauses or None


def evaluate(criteria: str, values: Mapping[str, Any]) -> bool | None:
    """Whether ``values`` meet ``criteria``; ``None`` when the text is not in the rule language."""
    clauses = parse(criteria, list(values))
    if clauses is None:
        return None
    return all(any(condition(values) for condition in alternatives) for alternatives in clauses)
