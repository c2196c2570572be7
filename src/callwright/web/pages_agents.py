"""The dashboard's agent pages: list, editor, preview, webhook targets, dynamic-context test."""


from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from callwright.api.deps import Services
from callwright.domain.agent import AgentCreate, AgentUpdate, DynamicContextTest
from callwright.domain.webhook import WebhookTargetIn
from callwright.services import agents as agent_service
from callwright.services.dynamic_context import run_context_test
from callwright.services.errors import NotFound, ServiceError
from callwright.services.webhooks import targets as target_service
from callwright.templating import render_checked
from callwright.web.auth import (
    FormSession,
    Session,
)
from callwright.web.common import (
    SAMPLE_VARIABLES,
    Svc,
    as_uuid,
    problem,
    router,
    see,
)
from callwright.web.views import page


async def _agents_page(
    session: Session, svc: Services, *, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    data, _ = await agent_service.list_agents(svc.db, session.principal.org_id, 200, None, False, box=svc.secrets)
    return page("agents.html", session, status_code=422 if error else 200, agents=data, error=error, form=form or {})


@router.get("/agents")
async def agents_page(session: Session, svc: Svc) -> Response:
    return await _agents_page(session, svc)


@router.post("/agents")
async def agent_create(request: Request, session: FormSession, svc: Svc) -> Response:
    """A new agent from name, prompt and first message; the rest keeps the API's defaults."""
    form = {k: v.replace("\r\n", "\n") for k, v in (await request.form()).items() if isinstance(v, str)}
    body = {k: form[k] for k in ("name", "prompt", "first_message") if form.get(k)}
    try:
        agent = await agent_service.create_agent(
            svc.db, session.principal.org_id, AgentCreate.model_validate(body), box=svc.secrets,
            allow_private_urls=svc.settings.allow_private_urls,
        )
    except (ServiceError, ValueError) as exc:
        return await _agents_page(session, svc, error=problem(exc), form=form)
    return see(f"/app/agents/{agent.id}")


async def _agent_page(
    session: Session, svc: Services, agent_id: uuid.UUID, *, error: str | None = None, new_secret: str | None = None
) -> Response:
    org_id = session.principal.org_id
    agent = await agent_service.get_agent(svc.db, org_id, agent_id, box=svc.secrets)
    versions = await agent_service.list_versions(svc.db, org_id, agent_id, box=svc.secrets)
    targets = await target_service.list_targets(svc.db, svc.secrets, org_id, agent_id)
    settings = agent.model_dump(mode="json", exclude={"id", "version_id", "version", "created_at", "updated_at"})
    return page(
        "agent.html", session, status_code=422 if error else 200, agent=agent, settings=settings,
        versions=versions, targets=targets, error=error, samples=json.dumps(SAMPLE_VARIABLES), new_secret=new_secret,
    )


@router.get("/agents/{agent_id}")
async def agent_page(agent_id: str, session: Session, svc: Svc) -> Response:
    return await _agent_page(session, svc, as_uuid(agent_id))


@router.post("/agents/{agent_id}")
async def agent_edit(agent_id: str, request: Request, session: FormSession, svc: Svc) -> Response:
    """Save name, prompt and first message as a new version, validated exactly as the API's PATCH."""
    form = await request.form()
    fields = {k: form.get(k) for k in ("name", "prompt", "first_message")}
    values = {k: v.replace("\r\n", "\n") for k, v in fields.items() if isinstance(v, str)}
    if values.get("first_message") == "":
        values["first_message"] = None  # type: ignore[assignment]
    aid = as_uuid(agent_id)
    try:
        body = AgentUpdate.model_validate(values)
        await agent_service.update_agent(
            svc.db, session.principal.org_id, aid, body, box=svc.secrets,
            allow_private_urls=svc.settings.allow_private_urls,
        )
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _agent_page(session, svc, aid, error=problem(exc))
    except ValueError as exc:
        return await _agent_page(session, svc, aid, error=problem(exc))
    return see(f"/app/agents/{aid}")


@router.post("/agents/{agent_id}/preview")
async def agent_preview(agent_id: str, request: Request, session: FormSession, svc: Svc) -> JSONResponse:
    """Render a draft prompt/first message with sample variables in the same sandbox calls use."""
    await agent_service.get_agent(svc.db, session.principal.org_id, as_uuid(agent_id), box=svc.secrets)
    form = await request.form()
    try:
        raw = form.get("variables")
        variables = json.loads(raw) if isinstance(raw, str) and raw.strip() else dict(SAMPLE_VARIABLES)
        if not isinstance(variables, dict):
            raise ValueError
    except ValueError:
        return JSONResponse({"error": "sample variables must be a JSON object"}, status_code=422)
    out: dict[str, Any] = {}
    for name in ("prompt", "first_message"):
        source = form.get(name)
        text, error = render_checked(source if isinstance(source, str) else "", variables)
        out[name] = {"text": text, "error": error}
    return JSONResponse(out, headers={"Cache-Control": "no-store"})


@router.post("/agents/{agent_id}/webhooks")
async def agent_webhook_create(agent_id: str, request: Request, session: FormSession, svc: Svc) -> Response:
    """Add a webhook target; its signing secret is on this response's page only, never again."""
    aid = as_uuid(agent_id)
    form = await request.form()
    body: dict[str, Any] = {
        "url": str(form.get("url") or "").strip(),
        "include_transcript": form.get("include_transcript") == "on",
        "include_recording": form.get("include_recording") == "on",
    }
    events = [e for e in form.getlist("events") if isinstance(e, str)]
    if events:
        body["events"] = events
    try:
        target = await target_service.create_target(
            svc.db, svc.secrets, session.principal.org_id, aid, WebhookTargetIn.model_validate(body),
            svc.settings.allow_private_urls,
        )
    except NotFound:
        raise
    except (ServiceError, ValueError) as exc:
        return await _agent_page(session, svc, aid, error=problem(exc))
    return await _agent_page(session, svc, aid, new_secret=target.secret)


@router.post("/agents/{agent_id}/context-test")
async def agent_context_test(agent_id: str, session: FormSession, svc: Svc) -> JSONResponse:
    """The **Test** button: the saved dynamic-context request with sample values, as the API's
    ``POST /v1/agents/{id}/dynamic-context/test`` runs it (status, latency, variables or error)."""
    result = await run_context_test(
        svc.db, svc.http, svc.secrets, session.principal.org_id, as_uuid(agent_id), DynamicContextTest()
    )
    return JSONResponse({
        "ok": result.ok, "status_code": result.status_code, "latency_ms": round(result.latency_ms, 1),
        "variables": result.variables, "error": result.error,
    }, headers={"Cache-Control": "no-store"})
