"""Jinja2 rendering for the dashboard: autoescaping is on for every template, so anything a user
typed (agent names, transcripts, CSV cells) reaches the page as text, never as markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from callwright.services.dashboard_sessions import DashboardSession

TEMPLATES = Path(__file__).parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pretty(value: Any) -> str:
    """Indented JSON for the settings view (escaped by autoescape like any other text)."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


env.filters["pretty"] = _pretty


def page(
    name: str, session: DashboardSession | None, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A full page: the template with the session's CSRF token for its forms."""
    html = env.get_template(name).render(
        session=session, csrf=session.csrf_token if session else "", **context
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


SECURITY_HEADERS = {
    # Only our own scripts, styles and media; no framing. The pages use no inline script.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
