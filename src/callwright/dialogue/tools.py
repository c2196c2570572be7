"""The seam between a dialogue engine and the custom HTTP tools it may call.

The engine decides *when* a tool runs and what the model is told; a ``ToolCaller`` (built by
the services layer, which holds the SSRF-safe client and the decrypted credentials) does the
request. A caller never raises for a tool's own failure (timeout, 500, junk): it answers
``ToolOutcome(ok=False, result="why")``, and the model is told so, and the call goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from callwright.domain.agent import HttpTool

MAX_RESULT_CHARS = 8000
"""A tool result is cut to this many characters before the model sees it (tokens cost time)."""


@dataclass(frozen=True)
class ToolOutcome:
    """``result``: the JSON-safe response (or the error message when not ``ok``)."""

    ok: bool
    result: Any
    status_code: int | None = None


class ToolCaller(Protocol):
    async def call(self, tool: HttpTool, arguments: dict[str, Any]) -> ToolOutcome: ...
