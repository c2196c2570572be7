"""Build the dialogue engine an agent is configured with: one factory for phone calls and
text chat, fresh or resumed from a snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callwright.dialogue.base import Dialogue
from callwright.dialogue.flow import FlowDialogue
from callwright.dialogue.inputs import DialogueDeps, DialogueInputs
from callwright.dialogue.llm import LlmDialogue
from callwright.domain.agent import AgentSettings, EndCallTool, LlmDialogueConfig, Tool
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
    """The agent's engine cannot run on this server; the message says what to configure."""


def unavailable_reason(settings: AgentSettings, deps: DialogueDeps) -> str | None:
    """Why this agent's dialogue cannot run here, or None when it can."""
    config = settings.dialogue
    if isinstance(config, LlmDialogueConfig):
        return deps.servers.unavailable(config)
    return None


def llm_tools(settings: AgentSettings) -> list[Tool]:
    """The agent's tools, plus ``end_call`` when it declares none: a prompted conversation must
    always be able to end (declaring ``end_call`` is how to change its description)."""
    tools = list(settings.tools)
    if not any(isinstance(tool, EndCallTool) for tool in tools) and all(t.name != "end_call" for t in tools):
        tools.append(EndCallTool(type="end_call"))
    return tools


def build_dialogue(
    settings: AgentSettings,
    inputs: DialogueInputs,
    deps: DialogueDeps | None = None,
    snapshot: Mapping[str, Any] | None = None,
) -> Dialogue:
    """A new conversation, or the one ``snapshot`` (from ``Dialogue.snapshot``) saved."""
    deps = deps or DialogueDeps()
    config = settings.dialogue
    if isinstance(config, LlmDialogueConfig):
        reason = deps.servers.unavailable(config)
        if reason is not None:
            raise DialogueUnavailable(reason)
        tools = llm_tools(settings)
        if snapshot is not None:
            return LlmDialogue.restore(config, tools, inputs, deps, snapshot)
        return LlmDialogue(config, tools, inputs, deps)
    flow = Flow.model_validate(config.flow if config is not None else DEFAULT_FLOW)
    if snapshot is not None:
        return FlowDialogue.restore(flow, inputs.variables, snapshot, inputs.first_message)
    stage = (inputs.retry_context or {}).get("stage_id")
    start_at = stage if isinstance(stage, str) else None
    return FlowDialogue(flow, inputs.variables, inputs.first_message, start_at=start_at)
