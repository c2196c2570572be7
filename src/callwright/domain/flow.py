"""The flow document (API.md "Flow dialogues") as pydantic models, validated before it is saved.

Every structural problem is a pydantic ``ValidationError`` whose ``loc`` points at the field
(``("nodes", "confirm", "next")``), so the API's 422 tells the author exactly what to fix.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from callwright.domain.common import JsonObject, Strict, given
from callwright.domain.expectation import Expectation, ExpectKind

SimpleExpect = Literal["yes_no", "digits", "number", "date", "text"]
DEFAULT_BRANCH = "default"
YES_NO = ("yes", "no")


class ChoiceExpect(Strict):
    """``{"choice": ["monday", "tuesday"]}``."""

    choice: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=50)]


class DigitsSpec(Strict):
    length: Annotated[int, Field(ge=1, le=32)] | None = None


class DigitsExpect(Strict):
    """``{"digits": {"length": 4}}``."""

    digits: DigitsSpec = Field(default_factory=DigitsSpec)


ExpectSpec = SimpleExpect | ChoiceExpect | DigitsExpect


def _error(loc: tuple[str | int, ...], kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


def _raise(title: str, errors: list[InitErrorDetails]) -> None:
    if errors:
        raise ValidationError.from_exception_data(title, errors)


def _absent_or(name: str, empty: JsonObject) -> JsonObject:
    return {"anyOf": [{"not": {"required": [name]}}, {"properties": {name: {"anyOf": [{"type": "null"}, empty]}}}]}


_ASK_ONLY: tuple[tuple[str, JsonObject], ...] = (
    ("expect", {"not": {}}), ("save_as", {"not": {}}), ("length", {"not": {}}),
    ("branches", {"type": "object", "maxProperties": 0}), ("fallback", {"type": "string", "maxLength": 0}),
)

NODE_SHAPE: JsonObject = {
    "allOf": [
        {"not": {"allOf": [given("say"), given("ask")]}},
        {"anyOf": [given("say"), given("ask"), given("end")]},
        {"anyOf": [{"not": given("ask")}, given("expect")]},
        {"anyOf": [given("ask"), {"allOf": [_absent_or(name, empty) for name, empty in _ASK_ONLY]}]},
        {"not": {"allOf": [given("end"), given("next")]}},
        {"anyOf": [given("end"), given("next"), given("fallback"),
                   {"required": ["branches"], "properties": {"branches": {"minProperties": 1}}}]},
    ]
}
"""The node rules of ``_check_shape`` in JSON Schema (the branch rules and node references are
checked too, but JSON Schema cannot say them)."""


class FlowNode(Strict):
    """One step: ``say`` something or ``ask`` and wait, then go ``next``, branch, or ``end``.
    Exactly one of ``say`` and ``ask`` (or neither, with ``end``); an ``ask`` needs ``expect``, and
    only an ``ask`` has ``expect``, ``save_as``, ``length``, ``branches`` and ``fallback``. Every
    node name it mentions (``next``, ``fallback``, ``branches`` values) must be a node of the flow;
    ``branches`` keys are answers (``yes``/``no``, a choice) or ``default``."""

    model_config = ConfigDict(json_schema_extra=NODE_SHAPE)

    say: str | None = None
    ask: str | None = None
    expect: ExpectSpec | None = None
    length: Annotated[int, Field(ge=1, le=32)] | None = None
    save_as: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    branches: dict[str, str] = Field(default_factory=dict)
    next: str | None = None
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    fallback: str | None = None
    end: Annotated[str, Field(min_length=1, max_length=100)] | None = None

    @property
    def kind(self) -> ExpectKind | None:
        if self.expect is None:
            return None
        if isinstance(self.expect, ChoiceExpect):
            return "choice"
        if isinstance(self.expect, DigitsExpect):
            return "digits"
        return self.expect

    def expectation(self) -> Expectation:
        """What this ask waits for; a say node expects open text."""
        if isinstance(self.expect, ChoiceExpect):
            return Expectation(kind="choice", choices=tuple(self.expect.choice))
        if isinstance(self.expect, DigitsExpect):
            return Expectation(kind="digits", length=self.expect.digits.length or self.length)
        if self.expect == "digits":
            return Expectation(kind="digits", length=self.length)
        return Expectation(kind=self.expect or "text")

    def targets(self) -> list[tuple[tuple[str, ...], str]]:
        """Every (field loc, node name) this node can go to."""
        found: list[tuple[tuple[str, ...], str]] = []
        if self.next is not None:
            found.append((("next",), self.next))
        if self.fallback is not None:
            found.append((("fallback",), self.fallback))
        found.extend((("branches", key), target) for key, target in self.branches.items())
        return found

    @model_validator(mode="after")
    def _check_shape(self) -> FlowNode:
        errors: list[InitErrorDetails] = []
        if self.say is not None and self.ask is not None:
            msg = "a node has either 'say' or 'ask', not both"
            errors.append(_error(("ask",), "flow_node", msg, self.ask))
        if self.say is None and self.ask is None and self.end is None:
            errors.append(_error(("say",), "flow_node", "a node needs 'say', 'ask' or 'end'", None))
        if self.ask is not None and self.expect is None:
            errors.append(_error(("expect",), "flow_node", "an 'ask' node needs 'expect'", None))
        if self.ask is None:
            for name in ("expect", "save_as", "branches", "fallback", "length"):
                if getattr(self, name):
                    errors.append(_error((name,), "flow_node", f"'{name}' only applies to 'ask' nodes", None))
        if self.end is not None and self.next is not None:
            msg = "a node with 'end' cannot also have 'next'"
            errors.append(_error(("next",), "flow_node", msg, self.next))
        if self.end is None and self.next is None and not self.branches and self.fallback is None:
            msg = "the node leads nowhere: add 'next', 'branches' or 'end'"
            errors.append(_error(("next",), "flow_node", msg, None))
        errors.extend(self._check_branches())
        _raise("FlowNode", errors)
        return self

    def _check_branches(self) -> list[InitErrorDetails]:
        if not self.branches or self.ask is None:
            return []
        kind = self.kind
        allowed: tuple[str, ...] | None = None
        if kind == "yes_no":
            allowed = YES_NO
        elif isinstance(self.expect, ChoiceExpect):
            allowed = tuple(self.expect.choice)
        errors: list[InitErrorDetails] = []
        if allowed is not None:
            for key in self.branches:
                if key != DEFAULT_BRANCH and key not in allowed:
                    msg = f"'{key}' is not a possible answer; use one of {', '.join(allowed)} or 'default'"
                    errors.append(_error(("branches", key), "flow_branch", msg, key))
        covered = DEFAULT_BRANCH in self.branches or self.next is not None or self.end is not None
        if not covered:
            missing = [v for v in allowed or ("other answers",) if v not in self.branches]
            if missing:
                msg = f"no branch for {', '.join(missing)}: add those, a 'default' branch, or 'next'"
                errors.append(_error(("branches",), "flow_branch", msg, self.branches))
        return errors


class Flow(Strict):
    """A whole flow: the ``start`` node name and the ``nodes`` by name (``start`` must be one of them)."""

    start: Annotated[str, Field(min_length=1)]
    nodes: Annotated[dict[str, FlowNode], Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _check_references(self) -> Flow:
        errors: list[InitErrorDetails] = []
        if self.start not in self.nodes:
            msg = f"start node '{self.start}' does not exist"
            errors.append(_error(("start",), "flow_reference", msg, self.start))
        for name, node in self.nodes.items():
            for loc, target in node.targets():
                if target not in self.nodes:
                    msg = f"node '{target}' does not exist"
                    errors.append(_error(("nodes", name, *loc), "flow_reference", msg, target))
        _raise("Flow", errors)
        return self

    def node(self, name: str) -> FlowNode:
        return self.nodes[name]

    def to_expectation(self, node: str | FlowNode) -> Expectation:
        """The ``Expectation`` for a node (by name or object), for the transcriber and the parser."""
        return (self.nodes[node] if isinstance(node, str) else node).expectation()
