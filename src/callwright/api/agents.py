"""Agents: the AI voice workers that handle calls."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from callwright.api.deps import Org, Svc
from callwright.domain.agent import (
    AgentCreate,
    AgentOut,
    AgentUpdate,
    AgentVersionOut,
    DynamicContextTest,
    DynamicContextTestResult,
)
from callwright.services import agents as service
from callwright.services.dynamic_context import run_context_test

router = APIRouter(prefix="/v1/agents", tags=["agents"])


@router.post("", status_code=201, response_model=AgentOut)
async def create_agent(body: AgentCreate, org: Org, svc: Svc) -> AgentOut:
    return await service.create_agent(
        svc.db, org.org_id, body, box=svc.secrets, allow_private_urls=svc.settings.allow_private_urls
    )


@router.get("")
async def list_agents(
    org: Org, svc: Svc,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    include_archived: bool = False,
) -> dict[str, Any]:
    data, nxt = await service.list_agents(svc.db, org.org_id, limit, cursor, include_archived, box=svc.secrets)
    return {"data": [a.model_dump(mode="json") for a in data], "next_cursor": nxt}


@router.get("/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: uuid.UUID, org: Org, svc: Svc) -> AgentOut:
    return await service.get_agent(svc.db, org.org_id, agent_id, box=svc.secrets)


@router.patch("/{agent_id}", response_model=AgentOut)
async def update_agent(agent_id: uuid.UUID, body: AgentUpdate, org: Org, svc: Svc) -> AgentOut:
    return await service.update_agent(
        svc.db, org.org_id, agent_id, body, box=svc.secrets, allow_private_urls=svc.settings.allow_private_urls
    )


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
