"""Build the dialogue engine an agent is configured with."""

from __future__ import annotations

from typing import Any

from callwright.dialogue.base import Dialogue
from callwright.dialogue.flow import FlowDialogue
from callwright.domain.agent import AgentSettings, FlowDialogueConfig
from callwright.domain.flow import Flow

# An agent with no dialogue configured still holds a sensible conversation offline: it greets,
# takes a message, and says goodbye.
DEFAULT_FLOW: dict[str, Any] = {
    "start": "request",
    "nodes": {
        "request": {"ask": "How can I help you today?", "expect": "text", "save_as": "request",
                    "retries": 1, "next": "thanks", "fallback": "thanks"},
        "thanks": {"say": "Thank you. Someone will follow up with you soon. Goodbye.", "end": "completed"},
    },
}


class DialogueUnavailable(RuntimeError):
    pass


def build_dialogue(settings: AgentSettings, variables: dict[str, Any], first_message: str | None) -> Dialogue:
    config = settings.dialogue
    if config is None:
        return FlowDialogue(Flow.model_validate(DEFAULT_FLOW), variables, first_message)
    if isinstance(config, FlowDialogueConfig):
        return FlowDialogue(Flow.model_validate(config.flow), variables, first_message)
    raise DialogueUnavailable(
        "the llm dialogue engine needs an OpenAI-compatible server, which this installation does not configure"
    )
