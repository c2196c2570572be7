"""Agents: the AI voice workers that handle calls."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Response

from callwright.api.deps import Org, Services, Svc
from callwright.api.params import Cursor, Limit
from callwright.dialogue.factory import unavailable_reason
from callwright.dialogue.inputs import DialogueDeps
from callwright.domain.agent import (
    AgentCreate,
    AgentOut,
    AgentUpdate,
    AgentVersionOut,
    DynamicContextTest,
    DynamicContextTestResult,
)
from callwright.domain.common import Out
from callwright.services import agents as service
from callwright.services.dynamic_context import run_context_test

router = APIRouter(prefix="/v1/agents", tags=["agents"])


class AgentPage(Out):
    data: list[AgentOut]
    next_cursor: str | None


def _warned(agent: AgentOut, svc: Services) -> AgentOut:
    """The agent with what stops it from running here (API.md: an LLM agent without a server)."""
    reason = unavailable_reason(agent, DialogueDeps(servers=svc.servers))
    return agent.model_copy(update={"warnings": [reason]}) if reason else agent


@router.post("", status_code=201, response_model=AgentOut)
async def create_agent(body: AgentCreate, org: Org, svc: Svc) -> AgentOut:
    agent = await service.create_agent(
        svc.db, org.org_id, body, box=svc.secrets, allow_private_urls=svc.settings.allow_private_urls
    )
    return _warned(agent, svc)


@router.get("", response_model=AgentPage)
async def list_agents(
    org: Org, svc: Svc, limit: Limit = 50, cursor: Cursor = None, include_archived: bool = False
) -> AgentPage:
    data, nxt = await service.list_agents(svc.db, org.org_id, limit, cursor, include_archived, box=svc.secrets)
    return AgentPage(data=[_warned(agent, svc) for agent in data], next_cursor=nxt)


@router.get("/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: uuid.UUID, org: Org, svc: Svc) -> AgentOut:
    return _warned(await service.get_agent(svc.db, org.org_id, agent_id, box=svc.secrets), svc)


@router.patch("/{agent_id}", response_model=AgentOut)
async def update_agent(agent_id: uuid.UUID, body: AgentUpdate, org: Org, svc: Svc) -> AgentOut:
    agent = await service.update_agent(
        svc.db, org.org_id, agent_id, body, box=svc.secrets, allow_private_urls=svc.settings.allow_private_urls
    )
    return _warned(agent, svc)


@router.delete("/{agent_id}", status_code=204)
async def archive_agent(agent_id: uuid.UUID, org: Org, svc: Svc) -> Response:
    await service.archive_agent(svc.db, org.org_id, agent_id)
    return Response(status_code=204)


@router.get("/{agent_id}/versions", response_model=list[AgentVersionOut])
async def list_versions(agent_id: uuid.UUID, org: Org, svc: Svc) -> list[AgentVersionOut]:
    return await service.list_versions(svc.db, org.org_id, agent_id, box=svc.secrets)


@router.post("/{agent_id}/dynamic-context/test", response_model=DynamicContextTestResult)
async def test_dynamic_context(
    agent_id: uuid.UUID, org: Org, svc: Svc, body: Annotated[DynamicContextTest | None, Body()] = None
) -> DynamicContextTestResult:
    """Run the saved dynamic-context request with sample values (even while it is disabled)."""
    result = await run_context_test(svc.db, svc.http, svc.secrets, org.org_id, agent_id, body or DynamicContextTest())
    return DynamicContextTestResult(
        ok=result.ok, status_code=result.status_code, latency_ms=round(result.latency_ms, 1),
        variables=result.variables, error=result.error,
    )
