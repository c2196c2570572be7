"""The dashboard, mounted at ``/app``: server-rendered HTML over the same services the API uses,
every query scoped to the session's organization. Not part of the OpenAPI document.

Each page group is its own module; they all add routes to one router, in this order (a literal
path such as ``/calls/new`` must be registered before ``/calls/{call_id}``).
"""

from __future__ import annotations

from callwright.web import (  # noqa: F401  (imported for the routes they register)
    pages_agent_tools,
    pages_agents,
    pages_analytics,
    pages_calls,
    pages_campaigns,
    pages_signin,
    pages_talk,
)
from callwright.web.common import router

__all__ = ["router"]
