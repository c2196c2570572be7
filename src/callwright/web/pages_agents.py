"""The dashboard's agent pages: the list, a new agent, and the editor of every setting (saved as
a new version, validated exactly as ``PATCH /v1/agents/{id}``). The page's helpers (preview,
webhook targets, dynamic-context test, chat, flow check) are in ``pages_agent_tools``."""


from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from callwright.api.deps import Services
from callwright.domain.agent import AgentCreate, AgentUpdate
from callwright.domain.webhook import WebhookTargetIn
from callwright.services import agents as agent_service
from callwright.services.errors import NotFound, ServiceError
from callwright.services.webhooks import targets as target_service
from callwright.web import agent_form
from callwright.web.auth import FormSession, Session
from callwright.web.common import SAMPLE_VARIABLES, Svc, as_uuid, problem, router, see
from callwright.web.flow_view import flow_nodes
from callwright.web.views import page

STARTER_FLOW: dict[str, Any] = {
    "start": "greet",
    "nodes": {
        "greet": {"say": "Hi {{ first_name||there }}, this is {{ company||Acme }}.", "next": "confirm"},
        "confirm": {"ask": "Is now a good time to talk?", "expect": "yes_no", "save_as": "good_time",
                    "branches": {"yes": "thanks", "no": "bye"}},
        "thanks": {"say": "Great, thank you. Goodbye.", "end": "completed"},
        "bye": {"say": "No problem, goodbye.", "end": "completed"},
    },
}
"""What a new flow agent starts with: one of each kind of node, to edit rather than write."""

ENGINE_STARTS: dict[str, dict[str, Any]] = {
    "flow": {"engine": "flow", "flow": STARTER_FLOW},
    "llm": {"engine": "llm"},
}


async def _agents_page(
    session: Session, svc: Services, *, error: str | None = None, form: dict[str, str] | None = None
) -> Response:
    data, _ = await agent_service.list_agents(svc.db, session.principal.org_id, 200, None, False, box=svc.secrets)
    return page(
        "agents.html", session, status_code=422 if error else 200, agents=data, error=error, form=form or {},
        engines=agent_form.ENGINES,
    )


@router.get("/agents")
async def agents_page(session: Session, svc: Svc) -> Response:
    return await _agents_page(session, svc)


def _words(errors: dict[str, list[str]]) -> str:
    return "\n".join(msg for msgs in errors.values() for msg in msgs)


@router.post("/agents")
async def agent_create(request: Request, session: FormSession, svc: Svc) -> Response:
    """A new agent from a name, prompt, first message and dialogue engine (a flow starts from a
    small example to edit); every other setting keeps the API's default."""
    form = {k: v.replace("\r\n", "\n") for k, v in (await request.form()).items() if isinstance(v, str)}
    body: dict[str, Any] = {k: form[k] for k in ("name", "prompt", "first_message") if form.get(k)}
    engine = form.get("engine", "")
    if engine:
        if engine not in ENGINE_STARTS:
            return await _agents_page(session, svc, error=f"engine: {engine!r} is not flow or llm", form=form)
        body["dialogue"] = copy.deepcopy(ENGINE_STARTS[engine])
    try:
        agent = await agent_service.create_agent(
            svc.db, session.principal.org_id, AgentCreate.model_validate(body), box=svc.secrets,
            allow_private_urls=svc.settings.allow_private_urls,
        )
    except NotFound:
        raise
    except (ServiceError, ValueError) as exc:
        return await _agents_page(session, svc, error=_words(agent_form.field_errors(exc)), form=form)
    return see(f"/app/agents/{agent.id}")


async def _agent_page(
    session: Session, svc: Services, agent_id: uuid.UUID, *, errors: dict[str, list[str]] | None = None,
    draft: dict[str, Any] | None = None, new_secret: str | None = None, webhook_error: str | None = None,
) -> Response:
    """The editor. ``draft`` is a refused submission, shown as typed, with ``errors`` by field."""
    org_id = session.principal.org_id
    agent = await agent_service.get_agent(svc.db, org_id, agent_id, box=svc.secrets)
    versions = await agent_service.list_versions(svc.db, org_id, agent_id, box=svc.secrets)
    targets = await target_service.list_targets(svc.db, svc.secrets, org_id, agent_id)
    settings = agent.model_dump(mode="json", exclude={"id", "version_id", "version", "created_at", "updated_at"})
    values = {**settings, **(draft or {})}
    dialogue = values.get("dialogue") if isinstance(values.get("dialogue"), dict) else None
    engine = str(dialogue.get("engine", "")) if dialogue else ""
    flow = dialogue.get("flow") if dialogue and engine == "flow" else None
    failed = bool(errors) or webhook_error is not None
    return page(
        "agent.html", session, status_code=422 if failed else 200, agent=agent, settings=settings,
        values=values, engine=engine, flow=flow, flow_nodes=flow_nodes(flow),
        flow_json=flow if isinstance(flow, str) else json.dumps(flow or {"start": "", "nodes": {}}, indent=2),
        versions=versions, targets=targets, errors=errors or {}, error=_words(errors or {}) or webhook_error,
        samples=json.dumps(SAMPLE_VARIABLES), new_secret=new_secret, af=agent_form,
    )


@router.get("/agents/{agent_id}")
async def agent_page(agent_id: str, session: Session, svc: Svc) -> Response:
    return await _agent_page(session, svc, as_uuid(agent_id))


@router.post("/agents/{agent_id}")
async def agent_edit(agent_id: str, request: Request, session: FormSession, svc: Svc) -> Response:
    """Save the editor's fields as a new version, validated exactly as the API's PATCH; a refusal
    shows the form as typed with each problem next to its field."""
    aid = as_uuid(agent_id)
    parsed = agent_form.parse_agent_form(await request.form())
    if parsed.errors:
        return await _agent_page(session, svc, aid, errors=parsed.errors, draft=parsed.changes)
    try:
        body = AgentUpdate.model_validate(parsed.changes)
        await agent_service.update_agent(
            svc.db, session.principal.org_id, aid, body, box=svc.secrets,
            allow_private_urls=svc.settings.allow_private_urls,
        )
    except NotFound:
        raise
    except (ServiceError, ValueError) as exc:
        return await _agent_page(session, svc, aid, errors=agent_form.field_errors(exc), draft=parsed.changes)
    return see(f"/app/agents/{aid}")


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
        return await _agent_page(session, svc, aid, webhook_error=problem(exc))
    return await _agent_page(session, svc, aid, new_secret=target.secret)
