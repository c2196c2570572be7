"""Structured JSON logs carrying the current call's trace ID, and Prometheus metrics."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from callwright.domain.pii import has_long_number, redact, redact_obj

trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
call_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_id", default=None)

_SECRET_KEYS = ("authorization", "api_key", "token", "secret", "password")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the call's trace_id rides along when one is set."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        trace_id = getattr(record, "trace_id", None) or trace_id_var.get()
        if trace_id:
            payload["trace_id"] = trace_id
        call_id = getattr(record, "call_id", None) or call_id_var.get()
        if call_id:
            payload["call_id"] = call_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update({k: ("[redacted]" if k.lower() in _SECRET_KEYS else v) for k, v in extra.items()})
        if record.exc_info:
            payload["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


_TRACEBACKS = logging.Formatter()


class PiiFilter(logging.Filter):
    """Redacts card and social-security numbers from every record, whatever the agent's setting:
    logs never need them. A record is formatted (``getMessage``) once here; only one holding nine
    digits in a row is rewritten, with its arguments merged into the message; the structured
    ``fields`` and the traceback are redacted too. Digit words ("four one one one") are not
    looked for: logs carry no transcripts."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the formatter's to report
            return True
        if has_long_number(message):
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and any(isinstance(v, str) and has_long_number(v) for v in fields.values()):
            record.fields = redact_obj(fields)
        if record.exc_info and not record.exc_text:
            # Formatters reuse ``exc_text``; an exception's message may quote the number.
            record.exc_text = redact(_TRACEBACKS.formatException(record.exc_info))
        return True


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(PiiFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "websockets", "httpx", "httpcore", "taskiq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


HTTP_REQUESTS = Histogram(
    "callwright_http_request_seconds", "HTTP request latency", ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CALLS_CREATED = Counter("callwright_calls_created_total", "Calls created", ["call_source"])
CALLS_ENDED = Counter("callwright_calls_ended_total", "Calls that reached a terminal state", ["status"])
WEBHOOK_DELIVERIES = Counter("callwright_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"])
ANALYSES = Counter("callwright_analyses_total", "Post-call analyses by engine", ["engine"])
LIVE_CALLS = Gauge("callwright_live_calls", "Calls with a live media session in this process")
TURN_LATENCY = Histogram(
    "callwright_turn_latency_seconds", "Caller stops speaking -> first agent audio",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.5, 2.0, 3.0),
)
