"""The agent page's helpers, called by its script with the session's CSRF token in the
``X-CSRF-Token`` header and answering JSON: the live preview, the flow check, the
dynamic-context **Test** button and the chat panel."""


from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from callwright.api.chat import ChatIn
from callwright.dialogue.inputs import DialogueDeps
from callwright.domain.agent import AgentUpdate, DynamicContextTest
from callwright.services import agents as agent_service
from callwright.services import chat as chat_service
from callwright.services.dynamic_context import run_context_test
from callwright.services.errors import Conflict
from callwright.services.http_tools import HttpToolRunner
from callwright.templating import render_checked
from callwright.web import agent_form
from callwright.web.auth import FormSession
from callwright.web.common import SAMPLE_VARIABLES, Svc, as_uuid, router

NO_STORE = {"Cache-Control": "no-store"}


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
    return JSONResponse(out, headers=NO_STORE)


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


@router.post("/agents/{agent_id}/flow-check")
async def agent_flow_check(agent_id: str, request: Request, session: FormSession, svc: Svc) -> JSONResponse:
    """Check a draft flow (the JSON body) exactly as saving it would, without saving: ``ok`` and
    the problems in words, the same words the editor shows after a refused save."""
    await agent_service.get_agent(svc.db, session.principal.org_id, as_uuid(agent_id), box=svc.secrets)
    flow = await _json_body(request)
    if not isinstance(flow, dict):
        return JSONResponse({"ok": False, "errors": ["Flow: the body must be a JSON object"]}, headers=NO_STORE)
    try:
        AgentUpdate.model_validate({"dialogue": {"engine": "flow", "flow": flow}})
    except ValidationError as exc:
        words = [msg for msgs in agent_form.field_errors(exc).values() for msg in msgs]
        return JSONResponse({"ok": False, "errors": words}, headers=NO_STORE)
    return JSONResponse({"ok": True, "errors": []}, headers=NO_STORE)


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
    }, headers=NO_STORE)


@router.post("/agents/{agent_id}/chat")
async def agent_chat(agent_id: str, request: Request, session: FormSession, svc: Svc) -> JSONResponse:
    """One message of the chat panel, as ``POST /v1/agents/{id}/chat``: no ``session_id`` starts a
    conversation (the greeting, then the text if any); the reply carries the id to continue it."""
    aid = as_uuid(agent_id)
    try:
        body = ChatIn.model_validate(await _json_body(request))
    except ValidationError as exc:
        words = "\n".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": words}, status_code=422, headers=NO_STORE)
    try:
        reply = await chat_service.chat(
            svc.db, session.principal.org_id, aid, text=body.text, session_id=body.session_id,
            variables=body.variables, context=body.context,
            deps=DialogueDeps(servers=svc.servers, tools=HttpToolRunner(svc.http, svc.secrets)),
        )
    except Conflict as exc:  # the agent cannot run here (an LLM agent without a model server)
        return JSONResponse({"error": str(exc)}, status_code=409, headers=NO_STORE)
    return JSONResponse(asdict(reply), headers=NO_STORE)
