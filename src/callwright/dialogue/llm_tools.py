"""An agent's tools as the model sees them (OpenAI function definitions), and the checks on what
the model asks for before anything happens on the call.

A model's request is never trusted: its arguments may not be JSON, may miss a required field,
may name a number the agent must not transfer to or keys a phone cannot press. Each check
answers a short reason that goes back to the model as the tool's result, so it can correct
itself and the call goes on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from callwright.dialogue.base import ToolKind
from callwright.dialogue.tools import MAX_RESULT_CHARS
from callwright.domain.agent import EndCallTool, HttpTool, PressDigitsTool, TransferCallTool
from callwright.domain.phones import PhoneNumberError, to_e164

AgentTool = HttpTool | EndCallTool | TransferCallTool | PressDigitsTool

MAX_DIGITS = 32
_DIGITS = re.compile(r"^[0-9*#ABCDw]{1,32}$")


class ToolRequestError(ValueError):
    """The model's tool call cannot run; the message is what the model is told."""


def function_definition(tool: AgentTool) -> dict[str, Any]:
    """The ``tools`` entry of a chat completion request for one agent tool."""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": parameters_schema(tool)},
    }


def parameters_schema(tool: AgentTool) -> dict[str, Any]:
    """The JSON Schema of the tool's arguments (always an object)."""
    if isinstance(tool, HttpTool):
        schema = dict(tool.parameters)
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        return schema
    if isinstance(tool, EndCallTool):
        return {
            "type": "object",
            "properties": {
                "closing_line": {"type": "string", "description": "A short goodbye said before hanging up."}
            },
        }
    if isinstance(tool, TransferCallTool):
        properties: dict[str, Any] = {}
        if tool.to is None:
            allowed = f" One of: {', '.join(tool.allowed_numbers)}." if tool.allowed_numbers else ""
            properties["number"] = {
                "type": "string",
                "description": f"The phone number to transfer to, with its country code (+1...).{allowed}",
            }
        properties["reason"] = {"type": "string", "description": "Why the caller is transferred."}
        return {"type": "object", "properties": properties, **({"required": ["number"]} if tool.to is None else {})}
    return {
        "type": "object",
        "properties": {
            "digits": {"type": "string", "description": "Keys to press: 0-9, * and #, A-D; w waits half a second."}
        },
        "required": ["digits"],
    }


def tool_kind(tool: AgentTool | None) -> ToolKind:
    """An unknown name counts as a custom (http) action: that is what the model thought it was."""
    return "http" if tool is None else tool.type


def parse_arguments(raw: str, tool: AgentTool) -> dict[str, Any]:
    """The model's argument text as an object with every required property present."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ToolRequestError(f"the arguments are not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ToolRequestError("the arguments must be a JSON object")
    required = parameters_schema(tool).get("required") or []
    missing = [name for name in required if isinstance(name, str) and value.get(name) in (None, "")]
    if missing:
        raise ToolRequestError(f"missing required argument(s): {', '.join(missing)}")
    return value


def normalize_digits(value: Any) -> str:
    """Keys a phone can press: 0-9 * # A-D and ``w`` (a pause); spaces and dashes are dropped."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ToolRequestError("digits must be a string such as '1' or '1234#'")
    text = re.sub(r"[\s\-]", "", str(value))
    text = "".join(ch if ch in "wW" else ch.upper() for ch in text).replace("W", "w")
    if not _DIGITS.match(text):
        raise ToolRequestError(
            f"digits must be 1 to {MAX_DIGITS} of 0-9, *, #, A-D or w (a pause); got {str(value)[:40]!r}"
        )
    return text


def transfer_target(tool: TransferCallTool, arguments: dict[str, Any]) -> str:
    """The E.164 number to transfer to: the tool's fixed one, or the model's if it is allowed."""
    if tool.to is not None:
        return tool.to
    raw = arguments.get("number")
    if not isinstance(raw, str) or not raw.strip():
        raise ToolRequestError("give the number to transfer to")
    try:
        number = to_e164(raw, None)
    except PhoneNumberError as exc:
        raise ToolRequestError(f"cannot transfer to {raw[:40]!r}: {exc}") from None
    if tool.allowed_numbers and number not in tool.allowed_numbers:
        raise ToolRequestError(
            f"{number} is not a number this agent may transfer to; allowed: {', '.join(tool.allowed_numbers)}"
        )
    return number


@dataclass(frozen=True)
class EncodedResult:
    """A tool result as the model reads it (JSON text, bounded) and as the session records it."""

    text: str
    value: Any


def encode_result(ok: bool, result: Any) -> EncodedResult:
    """``{"error": ...}`` for a failure; the text is cut to ``MAX_RESULT_CHARS`` (a cut result is
    recorded as its text, so the record stays bounded too)."""
    value = result if ok else {"error": result}
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:  # a circular structure from a misbehaving caller
        text = json.dumps({"error": "the tool's result could not be encoded"})
        return EncodedResult(text, json.loads(text))
    if len(text) <= MAX_RESULT_CHARS:
        return EncodedResult(text, value)
    cut = text[:MAX_RESULT_CHARS]
    return EncodedResult(cut, cut)


def error_result(reason: str) -> EncodedResult:
    return encode_result(False, reason)
