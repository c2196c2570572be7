"""The Twilio carrier's pieces against the local Twilio-protocol server: REST errors become
reasons, TwiML escapes what it carries, signatures are checked as Twilio computes them."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, Failure, FakeTwilioServer

from callwright.telephony.base import DialRequest, StatusEvent, TransferError
from callwright.telephony.twilio import signature, twiml
from callwright.telephony.twilio.carrier import TwilioCarrier
from callwright.telephony.twilio.rest import TwilioRest, TwilioRestError

REQUEST = DialRequest(
    call_id="c1", to="+15550100003", from_number="+15005550006", stream_url="ws://127.0.0.1:1/carrier/media-stream",
    stream_parameters={"call_id": "c1", "token": "t&<ok>"},
)


async def _ignore(event: StatusEvent) -> None:
    return None


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer(no_answer_s=30) as server:
        yield server


def _carrier(fake: FakeTwilioServer, token: str = AUTH_TOKEN, timeout_s: float = 2.0) -> TwilioCarrier:
    return TwilioCarrier(TwilioRest(ACCOUNT_SID, token, fake.base_url, timeout_s), "https://cw.example.com/")


def test_connect_stream_carries_parameters_escaped() -> None:
    root = ET.fromstring(twiml.connect_stream("wss://x/carrier/media-stream?a=1&b=2", {"token": "a\"<&>"}))
    stream = root.find("Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://x/carrier/media-stream?a=1&b=2"
    assert [(p.get("name"), p.get("value")) for p in stream.iter("Parameter")] == [("token", "a\"<&>")]


def test_dial_and_say_documents() -> None:
    assert ET.fromstring(twiml.dial("+14155552671")).findtext("Dial") == "+14155552671"
    root = ET.fromstring(twiml.say_and_hang_up())
    assert [child.tag for child in root] == ["Say", "Hangup"]


def test_a_signature_holds_only_for_its_url_form_and_token() -> None:
    url, form = "https://cw.example.com/carrier/twilio/status?call_id=c1", {"CallSid": "CA1", "CallStatus": "ringing"}
    good = signature.sign(AUTH_TOKEN, url, form)
    assert signature.is_valid(AUTH_TOKEN, url, form, good)
    assert not signature.is_valid(AUTH_TOKEN, url, {**form, "CallStatus": "completed"}, good)
    assert not signature.is_valid(AUTH_TOKEN, url.replace("c1", "c2"), form, good)
    assert not signature.is_valid("another-token", url, form, good)
    assert not signature.is_valid(AUTH_TOKEN, url, form, None)
    assert not signature.is_valid("", url, form, good)


async def test_place_call_sends_twilio_s_fields(fake: FakeTwilioServer) -> None:
    carrier = _carrier(fake)
    try:
        sid = await carrier.place_call(REQUEST, _ignore)
    finally:
        await carrier.aclose()
    params = fake.calls[sid].params
    assert params["To"] == ["+15550100003"] and params["From"] == ["+15005550006"]
    assert params["Url"][0].startswith("https://cw.example.com/carrier/twilio/answer?")
    assert params["StatusCallback"] == ["https://cw.example.com/carrier/twilio/status?call_id=c1"]
    assert params["AsyncAmd"] == ["true"] and params["MachineDetection"] == ["DetectMessageEnd"]


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (Failure(status=429, code=20429, retry_after="30"), "rate_limited"),
        (Failure(status=429, code=20429), "rate_limited"),
        (Failure(status=400, code=21210, message="Caller ID not verified"), "rejected"),
        (Failure(status=500), "server_error"),
        (Failure(hang_s=3.0), "timeout"),
    ],
)
async def test_rest_failures_become_reasons(fake: FakeTwilioServer, failure: Failure, reason: str) -> None:
    fake.fail_next(failure)
    carrier = _carrier(fake, timeout_s=1.0)
    try:
        with pytest.raises(TwilioRestError) as raised:
            await carrier.place_call(REQUEST, _ignore)
    finally:
        await carrier.aclose()
    assert raised.value.reason == reason
    assert isinstance(raised.value, ValueError)  # the dialer fails the call with these words


async def test_a_wrong_auth_token_is_unauthorized(fake: FakeTwilioServer) -> None:
    carrier = _carrier(fake, token="wrong")
    try:
        with pytest.raises(TwilioRestError) as raised:
            await carrier.place_call(REQUEST, _ignore)
    finally:
        await carrier.aclose()
    assert (raised.value.reason, raised.value.http_status, raised.value.code) == ("unauthorized", 401, 20003)


async def test_a_short_retry_after_is_waited_out(fake: FakeTwilioServer) -> None:
    fake.fail_next(Failure(status=429, code=20429, retry_after="0.2"))
    before = fake.create_attempts
    carrier = _carrier(fake)
    try:
        assert (await carrier.place_call(REQUEST, _ignore)).startswith("CA")
    finally:
        await carrier.aclose()
    assert fake.create_attempts - before == 2


async def test_hang_up_of_an_ended_call_is_not_an_error_but_transfer_is(fake: FakeTwilioServer) -> None:
    carrier = _carrier(fake)
    try:
        await carrier.hang_up("CA" + "0" * 32)
        with pytest.raises(TransferError):
            await carrier.transfer("CA" + "0" * 32, "+14155552671")
        with pytest.raises(TransferError):
            await carrier.transfer("CA" + "0" * 32, " ")
    finally:
        await carrier.aclose()
