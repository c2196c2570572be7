"""The new-campaign form as a ``POST /v1/campaigns`` body, and its refusals in words by field."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from pydantic import ValidationError

from callwright.domain.agent import RetryPolicy
from callwright.domain.campaign import CampaignCreate
from callwright.domain.campaign_schedule import CallingWindow

WINDOW_DEFAULTS = CallingWindow()
RETRY_DEFAULTS: RetryPolicy = CampaignCreate.model_fields["retry"].get_default(call_default_factory=True)
RETRY_OUTCOMES: tuple[str, ...] = get_args(get_args(RetryPolicy.model_fields["on"].annotation)[0])
LABELS = {
    "name": "Name", "agent_id": "Agent", "context": "Campaign context", "call_source": "Call source",
    "calling_window.start": "Calling window: from", "calling_window.end": "Calling window: until",
    "calling_window.days": "Calling window: days", "calling_window.timezone": "Calling window: time zone",
    "calling_window": "Calling window", "start_at": "Start at", "max_concurrency": "Concurrent calls at most",
    "max_attempts_per_day": "Attempts per number per day", "retry.max_attempts": "Attempts per row at most",
    "retry.on": "Retry when a call ends as", "retry.backoff_minutes": "Waits before retries",
    "default_region": "Default region",
}


def _number(value: str) -> int | str:
    value = value.strip()
    return int(value) if value.isdigit() else value


def _minutes(value: str) -> list[float | str]:
    out: list[float | str] = []
    for part in re.split(r"[\s,;]+", value.strip()):
        if part:
            try:
                out.append(float(part))
            except ValueError:
                out.append(part)
    return out


def campaign_body(data: Any) -> dict[str, Any]:
    """A ``POST /v1/campaigns`` body from the form. A field left empty keeps the API's default; the
    calling window and retry policy are read when the form carries them (an unticked box sends
    nothing); a value that does not convert goes on as typed, to be refused in the API's words."""
    form = {k: v.replace("\r\n", "\n") for k, v in data.items() if isinstance(v, str)}
    sections = {v for v in data.getlist("sections") if isinstance(v, str)}
    body: dict[str, Any] = {"name": form.get("name", "").strip(), "agent_id": form.get("agent_id", "")}
    if form.get("call_source", "").strip():
        body["call_source"] = form["call_source"].strip()
    context = form.get("context", "").strip()
    if context:
        try:
            parsed = json.loads(context)
        except ValueError:
            parsed = None
        body["context"] = parsed if isinstance(parsed, dict) else context  # an object when it is one
    for name in ("max_concurrency", "max_attempts_per_day"):
        if form.get(name, "").strip():
            body[name] = _number(form[name])
    if form.get("start_at", "").strip():
        body["start_at"] = form["start_at"].strip()  # a time without a zone is UTC, as in the API
    if form.get("default_region", "").strip():
        body["default_region"] = form["default_region"].strip().upper()
    if "calling_window" in sections:
        window: dict[str, Any] = {"days": [d for d in data.getlist("calling_window.days") if isinstance(d, str)]}
        for name in ("start", "end", "timezone"):
            value = form.get(f"calling_window.{name}", "").strip()
            if value:
                window[name] = value
        body["calling_window"] = window
    if "retry" in sections:
        retry: dict[str, Any] = {"on": [o for o in data.getlist("retry.on") if isinstance(o, str)]}
        attempts = form.get("retry.max_attempts", "").strip()
        retry["max_attempts"] = _number(attempts) if attempts else RETRY_DEFAULTS.max_attempts
        if form.get("retry.backoff_minutes", "").strip():
            retry["backoff_minutes"] = _minutes(form["retry.backoff_minutes"])
        body["retry"] = retry
    return body


def field_errors(exc: Exception) -> dict[str, list[str]]:
    """Validation problems in words, by the form field they belong to ("" for the form)."""
    if not isinstance(exc, ValidationError):
        return {"": [str(exc)]}
    out: dict[str, list[str]] = {}
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        if loc[:1] == ["context"]:
            loc = ["context"]  # a text or an object: one of the two shapes
        two = ".".join(loc[:2])
        key = two if two in LABELS else loc[0] if loc and loc[0] in LABELS else ""
        label = LABELS.get(key) or ".".join(loc) or "form"
        out.setdefault(key, []).append(f"{label}: {e['msg'].removeprefix('Value error, ')}")
    return out
