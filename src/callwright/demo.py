"""`callwright demo`: start the server on embedded defaults, create an appointment-confirmation
agent, phone a simulated patient, and show the conversation as it happens."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from callwright.app import create_app
from callwright.services.orgs import create_key
from callwright.settings import Settings
from callwright.store.db import Database

DEMO_FLOW: dict[str, Any] = {
    "start": "greet",
    "nodes": {
        "greet": {
            "say": "Hi {{ first_name||there }}, this is Riverside Dental calling about your appointment "
            "on {{ appointment_day||Monday }} at {{ appointment_time||10 AM }}.",
            "next": "confirm",
        },
        "confirm": {
            "ask": "Can you make it?",
            "expect": "yes_no",
            "save_as": "confirmed",
            "branches": {"yes": "verify", "no": "reschedule"},
        },
        "reschedule": {
            "ask": "No problem. Which day suits you better: Tuesday, Wednesday or Thursday?",
            "expect": {"choice": ["tuesday", "wednesday", "thursday"]},
            "save_as": "new_day",
            "next": "verify",
        },
        "verify": {
            "ask": "To confirm it is you, please enter the last four digits of your phone number on your keypad.",
            "expect": "digits",
            "length": 4,
            "save_as": "verification_code",
            "next": "bye",
        },
        "bye": {
            "say": "Thank you, {{ first_name||there }}. You are all set"
            "{% if new_day %} for {{ new_day | capitalize }}{% endif %}. Goodbye.",
            "end": "completed",
        },
    },
}

DEMO_REASON_ANSWER = "My sister is getting married on Monday."
"""What the demo's patient says when asked why: open speech, understood offline by Whisper."""

DEMO_AGENT_FLOW: dict[str, Any] = {
    "start": DEMO_FLOW["start"],
    "nodes": {
        **DEMO_FLOW["nodes"],
        "reschedule": {**DEMO_FLOW["nodes"]["reschedule"], "next": "reason"},
        "reason": {
            "ask": "Thanks. May I ask why Monday does not work for you?",
            "expect": "text",
            "save_as": "reschedule_reason",
            "next": "verify",
        },
    },
}
"""The demo flow plus an open question on the reschedule path: the answer is free speech."""

DEMO_AGENT: dict[str, Any] = {
    "name": "Appointment confirmation (demo)",
    "prompt": "You confirm dental appointments for Riverside Dental.",
    "dialogue": {"engine": "flow", "flow": DEMO_AGENT_FLOW},
    "voice": {"provider": "espeak", "voice_id": "en-us"},
    "turn_taking": {"endpointing_ms": 500},
    "phone": {"provider": "simulator", "from_number": "+14155550100"},
    "analysis": {
        "success_criteria": "verification_code is collected",
        "results": [
            {"name": "confirmed", "type": "boolean", "description": "kept the original appointment"},
            {"name": "new_day", "type": "enum", "enum": ["tuesday", "wednesday", "thursday"]},
            {"name": "verification_code", "type": "string"},
            {"name": "reschedule_reason", "type": "string", "description": "why the patient moved the visit"},
        ],
    },
}

DEMO_CALL: dict[str, Any] = {
    "contact": {"phone_number": "+15550100001", "first_name": "Maria", "last_name": "Lopez"},
    "variables": {"appointment_day": "Monday", "appointment_time": "10 AM"},
    "simulated_callee": {
        "behavior": "answer", "says": ["no", "wednesday", DEMO_REASON_ANSWER], "dtmf": {"verify": "4567"}
    },
    "call_source": "demo",
}


async def _make_key(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        await db.migrate()
        return (await create_key(db, "demo", "callwright demo")).key
    finally:
        await db.dispose()


async def run_demo(settings: Settings, keep_serving: bool, console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    settings.bootstrap_key = False
    key = await _make_key(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            ws_ping_interval=None,
            log_config=None,
        )
    )
    serve_task = asyncio.create_task(server.serve())
    base = f"http://{settings.host}:{settings.port}"
    try:
        while not server.started:
            if serve_task.done():
                serve_task.result()
                raise RuntimeError("the server stopped during start-up")
            await asyncio.sleep(0.05)
        console.print(f"[bold green]Callwright is running[/] at {base}  (API docs: {base}/docs)")
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
            call = await _place_demo_call(api, console)
            final = await _follow(api, call["id"], console)
            final = await _analysed(api, final)
        _summary(final, base, console)
        if keep_serving:
            console.print(
                f"\nThe server keeps running. API key for organization 'demo':\n  [bold]{key}[/]\n"
                f"Try: curl -H 'Authorization: Bearer {key}' {base}/v1/conversations\n"
                f"Dashboard: {base}/app (sign in with this key)\nPress Ctrl-C to stop."
            )
            await serve_task
        return final
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await serve_task


async def _place_demo_call(api: httpx.AsyncClient, console: Console) -> dict[str, Any]:
    agent = (await api.post("/v1/agents", json=DEMO_AGENT)).raise_for_status().json()
    console.print(f"Created agent [cyan]{agent['name']}[/] ({agent['id']})")
    call = (await api.post("/v1/calls", json={"agent_id": agent["id"], **DEMO_CALL})).raise_for_status().json()
    console.print(f"Calling {call['to']} (simulated patient Maria; call {call['id']}, trace {call['trace_id']})\n")
    return dict(call)


async def _follow(api: httpx.AsyncClient, call_id: str, console: Console) -> dict[str, Any]:
    shown = 0
    status = ""
    started = time.monotonic()
    while True:
        call = (await api.get(f"/v1/calls/{call_id}")).raise_for_status().json()
        if call["status"] != status:
            status = call["status"]
            console.print(f"[dim]· {status.replace('_', ' ')}  (+{time.monotonic() - started:.1f} s)[/]")
        turns = call["transcript"]
        if call["ended_at"] is not None:
            return dict(call)
        for turn in turns[shown:]:
            who = "[bold magenta]Agent[/]" if turn["role"] == "agent" else "[bold blue]Maria[/]"
            cut = " [dim](interrupted)[/]" if turn.get("interrupted") else ""
            console.print(f"{who}: {escape(turn['text'])}{cut}")
        shown = max(shown, len(turns))
        if time.monotonic() - started > 300:
            raise TimeoutError("the demo call did not finish within 5 minutes")
        await asyncio.sleep(0.2)


async def _analysed(api: httpx.AsyncClient, call: dict[str, Any], timeout_s: float = 15.0) -> dict[str, Any]:
    """The record once the post-call analysis job has written it (the call itself is already over)."""
    deadline = time.monotonic() + timeout_s
    while call.get("analysis") is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        call = (await api.get(f"/v1/calls/{call['id']}")).raise_for_status().json()
    return call


def _summary(call: dict[str, Any], base: str, console: Console) -> None:
    console.print(f"\n[bold]Call ended:[/] {call['status']} ({call['end_reason']}), {call['duration_ms'] or 0} ms")
    transcript = Table(title="Transcript (as stored)", show_lines=False)
    for col in ("role", "text", "start ms", "end ms"):
        transcript.add_column(col)
    for turn in call["transcript"]:
        text = turn["text"] + (" (interrupted)" if turn.get("interrupted") else "")
        transcript.add_row(turn["role"], text, str(turn["start_ms"]), str(turn["end_ms"]))
    console.print(transcript)
    results = Table(title="Results")
    results.add_column("name")
    results.add_column("value")
    for name, value in call["results"].items():
        results.add_row(name, str(value))
    console.print(results)
    reason = call["results"].get("reschedule_reason")
    if reason:
        console.print(
            f"Open speech, understood offline (Whisper tiny.en): the patient said [italic]{escape(DEMO_REASON_ANSWER)}"
            f"[/], heard as [bold]{escape(str(reason))}[/]"
        )
    analysis = call.get("analysis")
    if analysis:
        table = Table(title=f"Post-call analysis ({analysis.get('engine', 'offline')})")
        table.add_column("field")
        table.add_column("value")
        for name in ("call_summary", "user_sentiment", "call_successful", "in_voicemail",
                     "agent_task_completion_rating", "call_completion_rating", "custom_analysis_data"):
            table.add_row(name, escape(str(analysis.get(name))))
        console.print(table)
    latency = call.get("latency") or {}
    summary = latency.get("summary") or {}
    if summary:
        lat = Table(title=f"Response latency over {latency.get('n', 0)} turns (caller stops -> first agent audio), ms")
        for col in ("component", "p50", "p95"):
            lat.add_column(col)
        for name, stats in summary.items():
            lat.add_row(name.removesuffix("_ms"), f"{stats.get('p50', 0):.0f}", f"{stats.get('p95', 0):.0f}")
        console.print(lat)
    if call.get("recording_url"):
        console.print(f"Recording (stereo WAV, caller left / agent right): {base}{call['recording_url']}")
    console.print(f"Full record: {base}/v1/conversations/{call['id']}")
