"""``placeholders_data`` (seed 003): each placeholder the agent's templates use, as written
(``last_name||sir``), with the value it rendered to on this call."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from callwright.domain.agent import AgentSettings, FlowDialogueConfig
from callwright.templating import render_safe

_TAG = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
MAX_PLACEHOLDERS = 100


def _flow_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("say", "ask") and isinstance(item, str):
                yield item
            else:
                yield from _flow_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _flow_texts(item)


def templates_of(settings: AgentSettings, first_message: str | None) -> list[str]:
    texts = [settings.first_message or "", settings.prompt]
    if isinstance(settings.dialogue, FlowDialogueConfig):
        texts.extend(_flow_texts(settings.dialogue.flow))
    if settings.voicemail.message:
        texts.append(settings.voicemail.message)
    return [t for t in texts if t]


def placeholders_data(settings: AgentSettings, variables: dict[str, Any], first_message: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for text in templates_of(settings, first_message):
        for match in _TAG.finditer(text):
            expr = match.group(1)
            if not expr or expr in out:
                continue
            if len(out) >= MAX_PLACEHOLDERS:
                return out
            out[expr] = render_safe("{{ " + expr + " }}", variables)
    return out
