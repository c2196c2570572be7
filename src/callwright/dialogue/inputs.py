"""What a dialogue engine is given for one conversation, and what it may use from outside."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callwright.dialogue.llm_clients import ModelClients
from callwright.dialogue.llm_endpoint import ModelServers
from callwright.dialogue.tools import ToolCaller


@dataclass(frozen=True)
class DialogueInputs:
    """The conversation's rendered texts (API.md "Templates and variables").

    ``instructions`` is the rendered prompt followed by the campaign and call context sections;
    ``retry_context`` is a follow-up call's memory of the previous attempt (``collected_data``,
    ``opening_message``, ``language``, ``stage_id``, ``previous_call_id``).
    """

    variables: Mapping[str, Any] = field(default_factory=dict)
    first_message: str | None = None
    instructions: str = ""
    retry_context: Mapping[str, Any] | None = None
    language: str = "en-US"


@dataclass(frozen=True)
class DialogueDeps:
    """Resolved by the services layer: the model servers, their clients and the custom-tool caller."""

    servers: ModelServers = field(default_factory=ModelServers)
    tools: ToolCaller | None = None
    clients: ModelClients | None = None
    """The process's shared model clients; None gives each conversation its own."""
