"""Structured logs: one JSON object per line, carrying the call's trace ID, never secrets."""

from __future__ import annotations

import json
import logging

from callwright.observability import JsonFormatter, trace_id_var


def _format(record: logging.LogRecord) -> dict[str, object]:
    out: dict[str, object] = json.loads(JsonFormatter().format(record))
    return out


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("callwright.test", logging.INFO, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_a_log_line_carries_the_current_trace_id() -> None:
    token = trace_id_var.set("4bf92f3577b34da6a3ce929d0e0e4736")
    try:
        line = _format(_record("dialing"))
    finally:
        trace_id_var.reset(token)
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["msg"] == "dialing" and line["level"] == "info"


def test_a_log_line_without_a_call_has_no_trace_id() -> None:
    assert "trace_id" not in _format(_record("startup"))


def test_secret_fields_are_redacted() -> None:
    line = _format(_record("request", fields={"authorization": "Bearer cw_live_x", "path": "/v1/calls"}))
    assert line["authorization"] == "[redacted]" and line["path"] == "/v1/calls"
