"""The variables a call's templates see, and the context sections of the assistant's instructions.

Layers, later ones winning (API.md "Templates and variables"): built-ins, the contact, the
campaign, dynamic context, the call. A ``None`` value never overrides an earlier defined value
and never defines a variable, so ``{{ last_name | default('sir') }}`` still works for a contact
without a last name (and a bare ``{{ last_name }}`` renders empty). The whole ``contact`` object
keeps its ``None`` fields, which render empty too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CONTACT_FIELDS = ("first_name", "last_name", "phone_number", "email", "external_id")


def builtin_variables(
    *,
    agent_id: str,
    direction: str,
    medium: str = "phone",
    agent_number: str | None = None,
    contact_number: str | None = None,
    timezone: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The built-in layer; ``current_datetime`` is ISO 8601 in the callee's time zone (UTC if unknown)."""
    try:
        zone = ZoneInfo(timezone) if timezone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    moment = (now or datetime.now(zone)).astimezone(zone)
    return {
        "agent_id": agent_id,
        "agent_uuid": agent_id,
        "direction": direction,
        "medium": medium,
        "agent_number": agent_number,
        "contact_number": contact_number,
        "current_datetime": moment.isoformat(timespec="seconds"),
        "timezone": zone.key,
    }


def _merge(into: dict[str, Any], layer: Mapping[str, Any] | None) -> None:
    for key, value in (layer or {}).items():
        if value is not None:
            into[str(key)] = value


def _contact_layer(contact: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes first, so a standard field wins over an attribute of the same name."""
    layer: dict[str, Any] = {}
    attributes = contact.get("attributes")
    if isinstance(attributes, Mapping):
        _merge(layer, attributes)
    _merge(layer, {field: contact.get(field) for field in CONTACT_FIELDS})
    whole = dict(contact)
    whole.setdefault("attributes", {})
    layer["contact"] = whole
    return layer


def compose_variables(
    *,
    builtins: Mapping[str, Any] | None = None,
    contact: Mapping[str, Any] | None = None,
    campaign: Mapping[str, Any] | None = None,
    campaign_row: Mapping[str, Any] | None = None,
    dynamic: Mapping[str, Any] | None = None,
    call_variables: Mapping[str, Any] | None = None,
    call_context: str | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge the layers into one mapping for the templates.

    ``campaign`` contributes its ``context``; ``campaign_row`` is the row's extra CSV columns.
    ``agent_id`` and ``agent_uuid`` are kept in step whichever one the built-ins carry.
    """
    variables: dict[str, Any] = {}
    _merge(variables, builtins)
    agent = variables.get("agent_id", variables.get("agent_uuid"))
    if agent is not None:
        variables["agent_id"] = variables["agent_uuid"] = agent
    if contact is not None:
        _merge(variables, _contact_layer(contact))
    if campaign is not None:
        _merge(variables, {"context": campaign.get("context")})
    _merge(variables, campaign_row)
    _merge(variables, dynamic)
    _merge(variables, call_variables)
    _merge(variables, {"context": call_context})
    return variables


def format_context(context: str | Mapping[str, Any] | list[Any] | Any, indent: int = 0) -> str:
    """Readable text for a context: strings as is, objects as indented ``key: value`` lines."""
    pad = "  " * indent
    if isinstance(context, str):
        return "\n".join(pad + line for line in context.strip().splitlines())
    if isinstance(context, Mapping):
        lines = []
        for key, value in context.items():
            if isinstance(value, (Mapping, list)) and value:
                lines.append(f"{pad}{key}:")
                lines.append(format_context(value, indent + 1))
            else:
                lines.append(f"{pad}{key}: {_scalar(value)}")
        return "\n".join(lines)
    if isinstance(context, list):
        lines = []
        for item in context:
            if isinstance(item, (Mapping, list)) and item:
                lines.append(f"{pad}-")
                lines.append(format_context(item, indent + 1))
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return "\n".join(lines)
    return pad + _scalar(context)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _has_content(context: Any) -> bool:
    if context is None:
        return False
    if isinstance(context, str):
        return bool(context.strip())
    if isinstance(context, (Mapping, list)):
        return bool(context)
    return True


def compose_instructions(
    prompt_rendered: str,
    campaign_context: str | Mapping[str, Any] | None,
    call_context: str | Mapping[str, Any] | None,
) -> str:
    """The assistant's instructions: the rendered prompt, then the campaign and call context.

    The contexts get their own sections whether or not the prompt already mentions them, so an
    integrator can rely on the assistant seeing them.
    """
    sections = [prompt_rendered.rstrip()] if prompt_rendered.strip() else []
    if _has_content(campaign_context):
        sections.append("## Campaign context\n" + format_context(campaign_context))
    if _has_content(call_context):
        sections.append("## Call context\n" + format_context(call_context))
    return "\n\n".join(sections)
