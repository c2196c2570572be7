"""The OpenAI-compatible servers this installation can reach, from its settings and environment.

Agents name the setting that holds a key (``api_key_env``); it is looked up in the process
environment, so keys live with the operator, never in an agent.
"""

from __future__ import annotations

import os

from callwright.dialogue.llm_endpoint import ModelServers
from callwright.settings import Settings


def model_servers(settings: Settings) -> ModelServers:
    return ModelServers(
        default_base_url=settings.openai_base_url,
        default_api_key=settings.openai_api_key,
        environ=dict(os.environ),
    )
