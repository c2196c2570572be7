"""PII redaction: card and social-security numbers out of transcripts, results and logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from callwright.domain.pii import redact, redact_obj
from callwright.observability import PiiFilter, configure_logging
from callwright.store.db import Database
from callwright.store.tables import chat_sessions
from tests.conftest import ApiServer

VISA = "4111111111111111"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111 - 1111 - 1111 - 1111",
        "my card is 4111 1111 1111 1111, expiry 12/27",
    ],
)
def test_a_visa_number_is_redacted_in_any_grouping_keeping_the_last_four(text: str) -> None:
    out = redact(text)
    assert "[card ending 1111]" in out
    assert "4111" not in out and "1111 1111" not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mc 5555 5555 5555 4444 ok", "mc [card ending 4444] ok"),
        ("mc 5555-5555-5555-4444", "mc [card ending 4444]"),
        ("amex 3782 822463 10005.", "amex [card ending 0005]."),
        (f"amex {AMEX}", "amex [card ending 0005]"),
        ("diners 3056 930902 5904", "diners [card ending 5904]"),
    ],
)
def test_mastercard_amex_and_diners_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_16_digit_number_that_fails_the_luhn_check_is_kept() -> None:
    assert redact("order 4111111111111112 shipped") == "order 4111111111111112 shipped"
    assert redact("ref 1234-5678-1234-5678") == "ref 1234-5678-1234-5678"


def test_digits_glued_to_letters_or_longer_than_a_card_are_kept() -> None:
    for text in ("ord4111111111111111", "41111111111111111234", "id 4bf92f35-77b3-4da6-a3ce-929d0e0e4736"):
        assert redact(text) == text


def test_a_list_of_unrelated_numbers_is_not_read_as_one_card() -> None:
    text = "codes 000-12-3456 666-12-3456 912-12-3456"
    assert redact(text) == text


def test_card_digits_spoken_as_words_are_redacted() -> None:
    spoken = "it is four one one one, one one one one, one one one one, one one double one thanks"
    assert redact(spoken) == "it is [card ending 1111] thanks"
    assert redact("Four One One One" + " One One One One" * 3) == "[card ending 1111]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it is 123-45-6789.", "it is [ssn redacted]."),
        ("it is 123 45 6789.", "it is [ssn redacted]."),
        ("SSN: 123456789.", "SSN: [ssn redacted]."),
        ("s.s.n. 123 456 789", "s.s.n. [ssn redacted]"),
    ],
)
def test_social_security_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_bare_nine_digit_run_is_an_ssn_only_after_social_security_within_a_few_words() -> None:
    assert redact("my social security number is 123456789") == "my social security number is [ssn redacted]"
    assert redact("my social is one two three four five six seven eight nine") == "my social is [ssn redacted]"
    assert redact("your order number is 123456789") == "your order number is 123456789"
    far = "social security, as I was saying to my friend the other day, 123456789"
    assert redact(far) == far


@pytest.mark.parametrize(
    "ssn", ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000", "ssn 000123456"]
)
def test_impossible_social_security_numbers_are_kept(ssn: str) -> None:
    assert redact(ssn) == ssn


@pytest.mark.parametrize("phone", ["+15551234567", "call +1 555 123 4567 now", "+447911123456781", "5551234567"])
def test_phone_numbers_are_kept(phone: str) -> None:
    # +447911123456781 is Luhn-valid: the "+" alone says it is a phone number.
    assert redact(phone) == phone


def test_text_without_pii_is_returned_unchanged() -> None:
    text = "Call at 2026-01-05 12:30:45, ticket 12345, amount $1,234,567.89"
    assert redact(text) is text


def test_redact_obj_walks_transcripts_and_results() -> None:
    transcript = [
        {"role": "agent", "text": "What is your card number?"},
        {"role": "user", "text": f"it's {VISA}", "words": [f"{MASTERCARD}"]},
    ]
    value = {"transcript": transcript, "results": {"card": int(VISA), "ssn": "123-45-6789", "ok": True, "n": 3}}
    out = redact_obj(value)
    assert out == {
        "transcript": [
            {"role": "agent", "text": "What is your card number?"},
            {"role": "user", "text": "it's [card ending 1111]", "words": ["[card ending 4444]"]},
        ],
        "results": {"card": "[card ending 1111]", "ssn": "[ssn redacted]", "ok": True, "n": 3},
    }
    assert value["transcript"] is transcript and transcript[1]["text"] == f"it's {VISA}"  # a copy


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, list[str]]]:
    """A fresh logger whose handler carries the PII filter and keeps the formatted lines."""
    lines: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = _Keep()
    handler.addFilter(PiiFilter())
    logger = logging.getLogger(f"test.pii.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, lines
    logger.removeHandler(handler)


def test_the_log_filter_redacts_a_card_number_passed_as_an_argument(captured: tuple[logging.Logger, list[str]]) -> None:
    log, lines = captured
    log.info("card %s", "4111 1111 1111 1111")
    log.info("ssn %s for %s", "123-45-6789", "+15551234567")
    log.info("dialing %s, %d%% done", "+15551234567", 50)
    assert lines == ["card [card ending 1111]", "ssn [ssn redacted] for +15551234567", "dialing +15551234567, 50% done"]


def test_the_log_filter_redacts_structured_fields_and_tracebacks(captured: tuple[logging.Logger, list[str]]) -> None:
    log, lines = captured
    log.info("payment", extra={"fields": {"pan": VISA, "amount": 12}})
    try:
        raise ValueError(f"bad card {VISA}")
    except ValueError:
        log.exception("charge failed")
    assert lines[0] == "payment"
    assert "ValueError: bad card [card ending 1111]" in lines[1] and VISA not in lines[1]


def test_configured_logging_redacts_every_record_on_the_root_handler() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("INFO", as_json=True)
        stream = io.StringIO()
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        logging.getLogger("callwright.test").info("card %s", VISA, extra={"fields": {"ssn": "123-45-6789"}})
        line = json.loads(stream.getvalue().splitlines()[-1])
        assert line["msg"] == "card [card ending 1111]" and line["ssn"] == "[ssn redacted]"
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


_CARD_FLOW: dict[str, Any] = {
    "start": "card",
    "nodes": {
        "card": {"ask": "What is your card number?", "expect": "text", "save_as": "card", "next": "bye"},
        "bye": {"say": "Thanks.", "end": "completed"},
    },
}


def _stored_chat(db_url: str, session_id: str) -> str:
    async def _read() -> str:
        db = Database(db_url)
        try:
            async with db.read() as conn:
                q = sa.select(chat_sessions.c.state).where(chat_sessions.c.id == uuid.UUID(session_id))
                return json.dumps((await conn.execute(q)).scalar_one())
        finally:
            await db.dispose()

    return asyncio.run(_read())


def test_a_chat_with_an_agent_that_redacts_pii_stores_no_card_number(api: httpx.Client, api_server: ApiServer) -> None:
    agent = api.post(
        "/v1/agents", json={"name": "Payments", "dialogue": {"engine": "flow", "flow": _CARD_FLOW}}
    ).json()
    assert agent["redact_pii"] is False
    patched = api.patch(f"/v1/agents/{agent['id']}", json={"redact_pii": True})
    assert patched.status_code == 200, patched.text
    assert patched.json()["redact_pii"] is True
    chat = f"/v1/agents/{agent['id']}/chat"
    sid = api.post(chat, json={}).json()["session_id"]
    reply = api.post(chat, json={"session_id": sid, "text": "it is 4111 1111 1111 1111"}).json()
    assert reply["ended"] is True
    assert reply["results"]["card"] == "it is [card ending 1111]"
    stored = _stored_chat(api_server.db_url, sid)
    assert "[card ending 1111]" in stored and "4111" not in stored
    assert api.post(chat, json={"session_id": sid}).json()["results"]["card"] == "it is [card ending 1111]"


def test_a_chat_with_an_agent_that_does_not_redact_keeps_the_text(api: httpx.Client, api_server: ApiServer) -> None:
    agent = api.post("/v1/agents", json={"name": "Plain", "dialogue": {"engine": "flow", "flow": _CARD_FLOW}}).json()
    chat = f"/v1/agents/{agent['id']}/chat"
    sid = api.post(chat, json={}).json()["session_id"]
    reply = api.post(chat, json={"session_id": sid, "text": "it is 4111 1111 1111 1111"}).json()
    assert reply["results"]["card"] == "it is 4111 1111 1111 1111"
    assert "4111 1111 1111 1111" in _stored_chat(api_server.db_url, sid)
