"""Which OpenAI-compatible server (and key) an LLM agent talks to.

An agent names a server (``base_url``) and the *name* of the setting that holds its key
(``api_key_env``), never the key. Absent, the server's ``OPENAI_BASE_URL`` and
``OPENAI_API_KEY`` apply. Without any server an LLM agent cannot run; ``unavailable`` says why
in words a user can act on (the agent's ``warnings``, a 409 on a call or chat, a failed call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from callwright.domain.agent import LlmDialogueConfig

NO_KEY = "not-needed"
"""Sent as the key to servers that need none (Ollama, a local vLLM)."""


@dataclass(frozen=True)
class ModelEndpoint:
    base_url: str
    api_key: str
    model: str


@dataclass(frozen=True)
class ModelServers:
    """The server's defaults and the environment that ``api_key_env`` names are read from."""

    default_base_url: str = ""
    default_api_key: str = ""
    environ: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, model: str, base_url: str | None, api_key_env: str | None) -> ModelEndpoint | str:
        """The endpoint, or the reason there is none."""
        url = (base_url or self.default_base_url).strip()
        if not url:
            return (
                "this agent uses the llm dialogue engine, which needs an OpenAI-compatible server: set "
                "OPENAI_BASE_URL on the Callwright server (or give the agent a dialogue.base_url)"
            )
        if api_key_env:
            key = self.environ.get(api_key_env)
            if not key:
                return (
                    f"dialogue.api_key_env names the setting {api_key_env}, which is not set on the Callwright server"
                )
        else:
            key = self.default_api_key
        return ModelEndpoint(base_url=url, api_key=key or NO_KEY, model=model)

    def primary(self, config: LlmDialogueConfig) -> ModelEndpoint | str:
        return self.resolve(config.model, str(config.base_url) if config.base_url else None, config.api_key_env)

    def fallback(self, config: LlmDialogueConfig) -> ModelEndpoint | None:
        """The fallback model's endpoint (its server defaults to the primary's), or None."""
        fb = config.fallback
        if fb.model is None:
            return None
        base = fb.base_url or config.base_url
        found = self.resolve(fb.model, str(base) if base else None, fb.api_key_env or config.api_key_env)
        return found if isinstance(found, ModelEndpoint) else None

    def unavailable(self, config: LlmDialogueConfig) -> str | None:
        found = self.primary(config)
        return found if isinstance(found, str) else None
