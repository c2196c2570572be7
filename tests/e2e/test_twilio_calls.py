"""Phone calls through Twilio's protocol, end to end: a real server whose agents use
``phone.provider: twilio``, and a local server speaking Twilio's side (tests/fakes/twilio_server.py):
its REST API, signed webhooks and the Media Streams peer over the real WebSocket.

The same simulated callees as the simulator's suite answer, key digits and barge in; what
changes is everything around the stream: REST calls, signed callbacks, TwiML and AMD.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import TERMINAL, VoiceServer, voice_settings
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, Failure, FakeTwilioServer
from tests.support import client_for, free_port, new_key, running_server
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from callwright.demo import DEMO_FLOW
from callwright.telephony.media_stream import encode_connected, encode_start

FROM = "+15005550006"
VERIFY = {"verify": "4567"}


class Brain:
    """The fake model's answers: transfer when the caller asks for a person."""

    def __call__(self, body: dict[str, Any]) -> Reply:
        if not body.get("stream"):
            return Reply.error(503, "analysis is not scripted in these tests")
        users = [m.get("content") for m in body["messages"] if m["role"] == "user"]
        if users and users[-1] == "I want a person.":
            return Reply.tool_call("transfer_call", {"number": "+1 (415) 555-2671", "reason": "asked for a human"})
        return Reply.text("How can I help?")


@pytest.fixture(scope="module")
def twilio() -> Iterator[FakeTwilioServer]:
    with FakeTwilioServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer(api_key="sk-e2e", default=Brain())
    with server:
        yield server


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, twilio: FakeTwilioServer, model: FakeOpenAIServer
) -> Iterator[VoiceServer]:
    port = free_port()
    settings = voice_settings(
        tmp_path_factory.mktemp("twilio"), port=port, public_url=f"http://127.0.0.1:{port}",
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN, twilio_api_base=twilio.base_url,
        twilio_timeout_s=1.0, openai_base_url=model.base_url, openai_api_key="sk-e2e",
    )
    with running_server(settings) as base:
        with client_for(base, new_key(settings.database_url)) as client:
            yield VoiceServer(base, settings.database_url, client)


def _agent(server: VoiceServer, **fields: Any) -> str:
    body = {
        "name": "Appointments on Twilio",
        "dialogue": {"engine": "flow", "flow": DEMO_FLOW},
        "voicemail": {"action": "leave_message", "message": "Hi, please call Riverside Dental."},
        "end_call_after_silence_s": 6,
        "phone": {"provider": "twilio", "from_number": FROM},
        **fields,
    }
    r = server.api.post("/v1/agents", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def agent_id(server: VoiceServer) -> str:
    return _agent(server)


def _call(server: VoiceServer, agent_id: str, to: str) -> str:
    r = server.api.post("/v1/calls", json={"agent_id": agent_id, "to": to})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _row(server: VoiceServer, call_id: str) -> dict[str, Any]:
    path = server.db_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM calls WHERE id = ?", (call_id.replace("-", ""),)).fetchone()
        events = conn.execute("SELECT COUNT(*) FROM events WHERE call_id = ?", (call_id.replace("-", ""),)).fetchone()
    assert row is not None
    return {**dict(row), "event_count": events[0]}


def _transfer_agent(server: VoiceServer) -> str:
    r = server.api.post("/v1/agents", json={
        "name": "LLM on Twilio",
        "dialogue": {"engine": "llm", "model": "fake-model", "timeout_s": 5},
        "transcriber": {"provider": "scripted", "hints": ["I want a person."]},
        "first_message": "Hello, this is Acme.",
        "tools": [{"type": "transfer_call", "message": "Please hold while I transfer you."}],
        "phone": {"provider": "twilio", "from_number": FROM},
    })
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(scope="module")
def placed(server: VoiceServer, twilio: FakeTwilioServer, agent_id: str) -> dict[str, str]:
    """The module's long calls, placed at once (they run at real-time pace); each test waits for
    its own. Every one is created at Twilio before a test runs, so a failure a later test queues
    for the next REST request (``fail_next``) meets that test's call and no other."""
    twilio.callees["+15550100101"] = {"says": ["yes"], "dtmf": VERIFY}
    # The voicemail callee whose greeting the audio alone would not betray: AMD decides.
    twilio.callees["+15550100105"] = {"behavior": "voicemail"}
    twilio.amd_verdicts["+15550100105"] = "machine_end_beep"
    twilio.callees["+15550100108"] = {
        "interrupts": True, "says": ["Wait, I have a question first.", "yes", "yes"], "dtmf": VERIFY
    }
    twilio.callees["+15550100120"] = {"says": ["I want a person."]}
    calls = {
        "answered": _call(server, agent_id, "+15550100101"),
        "amd_machine": _call(server, agent_id, "+15550100105"),
        "barge_in": _call(server, agent_id, "+15550100108"),
        "transfer": _call(server, _transfer_agent(server), "+15550100120"),
    }
    for call_id in calls.values():
        twilio.call_for(call_id)
    return calls


@pytest.fixture(scope="module")
def answered(server: VoiceServer, twilio: FakeTwilioServer, placed: dict[str, str]) -> dict[str, Any]:
    """One complete outbound call: spoken yes, keyed verification digits."""
    call_id = placed["answered"]
    record = server.wait_for_end(call_id)
    fake = twilio.call_for(call_id)
    twilio.wait_done(fake)
    return {"record": record, "fake": fake, "call_id": call_id}


# --- a complete outbound call ------------------------------------------------------------


def test_the_call_is_created_through_the_rest_api_with_callbacks_and_async_amd(
    answered: dict[str, Any], server: VoiceServer
) -> None:
    fake = answered["fake"]
    assert fake.param("To") == "+15550100101" and fake.param("From") == FROM
    assert fake.param("Url").startswith(f"{server.base_url}/carrier/twilio/answer?")
    assert fake.param("StatusCallback") == f"{server.base_url}/carrier/twilio/status?call_id={answered['call_id']}"
    assert fake.params["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert fake.param("MachineDetection") == "DetectMessageEnd" and fake.param("AsyncAmd") == "true"
    assert fake.param("AsyncAmdStatusCallback").startswith(f"{server.base_url}/carrier/twilio/amd?")


def test_the_answer_url_gets_connect_stream_with_the_call_id_and_its_token(answered: dict[str, Any]) -> None:
    fake = answered["fake"]
    assert fake.stream_url.endswith("/carrier/media-stream")
    assert fake.stream_parameters["call_id"] == answered["call_id"]
    assert len(fake.stream_parameters["token"]) > 20


def test_every_signed_callback_is_accepted_and_the_call_completes(
    answered: dict[str, Any], server: VoiceServer, twilio: FakeTwilioServer
) -> None:
    record = answered["record"]
    assert (record["status"], record["end_reason"]) == ("completed", "agent_hangup")
    sent = [c for c in twilio.callbacks if c.form["CallSid"] == answered["fake"].sid]
    assert [c.form["CallStatus"] for c in sent if "status" in c.url] == ["ringing", "in-progress", "completed"]
    assert all(c.status_code in (200, 204) for c in sent), [(c.url, c.status_code) for c in sent]
    row = _row(server, answered["call_id"])
    assert row["provider_call_id"] == answered["fake"].sid
    assert row["answered_by"] == "human"


def test_spoken_answers_and_keyed_digits_reach_the_agent_over_the_stream(answered: dict[str, Any]) -> None:
    results = answered["record"]["results"]
    assert results["confirmed"] is True
    assert results["verification_code"] == "4567"


def test_the_agent_hangs_up_through_the_rest_api(answered: dict[str, Any]) -> None:
    # The stream may close before the hang-up request lands: give it a moment to arrive.
    deadline = time.monotonic() + 5
    while {"Status": "completed"} not in answered["fake"].updates and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {"Status": "completed"} in answered["fake"].updates


# --- answering-machine detection -------------------------------------------------------------


def test_amd_machine_end_beep_sends_the_call_to_voicemail_with_the_message(
    server: VoiceServer, placed: dict[str, str]
) -> None:
    call_id = placed["amd_machine"]
    record = server.wait_for_end(call_id)
    assert record["status"] == "voicemail", record
    assert any("please call Riverside Dental" in t["text"] for t in record["transcript"] if t["role"] == "agent")
    assert _row(server, call_id)["answered_by"] == "machine_end_beep"


def test_amd_human_lets_the_conversation_run(answered: dict[str, Any], server: VoiceServer) -> None:
    assert answered["record"]["status"] == "completed"
    assert _row(server, answered["call_id"])["answered_by"] == "human"


# --- barge-in --------------------------------------------------------------------------------


def test_a_caller_who_barges_in_gets_the_agent_cleared_on_twilio(
    server: VoiceServer, twilio: FakeTwilioServer, placed: dict[str, str]
) -> None:
    call_id = placed["barge_in"]
    record = server.wait_for_end(call_id)
    fake = twilio.call_for(call_id)
    assert record["status"] == "completed"
    assert any(t["interrupted"] for t in record["transcript"] if t["role"] == "agent")
    assert fake.peer is not None and fake.peer.cleared >= 1  # Twilio was told to drop its buffer


# --- ringing outcomes --------------------------------------------------------------------------


@pytest.mark.parametrize(("to", "status"), [("+15550100002", "busy"), ("+15550100003", "no_answer"),
                                             ("+15550100004", "failed")])
def test_twilio_s_final_status_ends_an_unanswered_call(
    server: VoiceServer, agent_id: str, to: str, status: str
) -> None:
    record = server.wait_for_end(_call(server, agent_id, to))
    assert record["status"] == status


# --- REST faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (Failure(status=401, code=20003, message="Authenticate"), "HTTP 401"),
        (Failure(status=400, code=21211, message="Invalid 'To' Phone Number"), "21211"),
        (Failure(status=429, code=20429, message="Too Many Requests", retry_after="60"), "HTTP 429"),
        (Failure(status=500, code=20500, message="Internal Server Error"), "HTTP 500"),
        (Failure(status=500, hang_s=3.0), "did not answer in time"),
    ],
    ids=["401", "bad-number", "429-long-wait", "500", "timeout"],
)
def test_a_rest_failure_fails_the_call_with_twilio_s_reason(
    server: VoiceServer, twilio: FakeTwilioServer, agent_id: str, failure: Failure, words: str
) -> None:
    twilio.fail_next(failure)
    record = server.wait_for_end(_call(server, agent_id, "+15550100199"))
    assert (record["status"], record["end_reason"]) == ("failed", "carrier_error"), record
    assert words in (record["error"] or "")


def test_a_429_with_a_short_retry_after_is_retried(
    server: VoiceServer, twilio: FakeTwilioServer, agent_id: str
) -> None:
    twilio.callees["+15550100110"] = {"says": ["yes"], "dtmf": VERIFY}
    before = twilio.create_attempts
    twilio.fail_next(Failure(status=429, code=20429, message="Too Many Requests", retry_after="1"))
    call_id = _call(server, agent_id, "+15550100110")
    record = server.wait_for_end(call_id)
    assert twilio.create_attempts - before == 2
    assert record["status"] == "completed", record


# --- signatures, replays, order, strangers --------------------------------------------------


def _status_form(sid: str, status: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": ACCOUNT_SID, "CallStatus": status, "From": FROM, "To": "+15550100101"}


def test_forged_and_missing_signatures_get_403_and_change_nothing(
    answered: dict[str, Any], server: VoiceServer, twilio: FakeTwilioServer
) -> None:
    url = answered["fake"].param("StatusCallback")
    before = _row(server, answered["call_id"])
    form = _status_form(answered["fake"].sid, "failed")
    assert twilio.post_signed(url, form, signature="forged" + twilio.sign(url, form)[6:]).status_code == 403
    assert twilio.post_signed(url, form, signature=None).status_code == 403
    # Signed for another URL (another call's), or with the form changed after signing.
    other = url.replace(answered["call_id"], "00000000-0000-0000-0000-000000000000")
    assert twilio.post_signed(url, form, signature=twilio.sign(other, form)).status_code == 403
    altered = twilio.sign(url, {**form, "CallStatus": "ringing"})
    assert twilio.post_signed(url, form, signature=altered).status_code == 403
    for path in ("/carrier/twilio/answer", "/carrier/twilio/amd", "/carrier/twilio/inbound"):
        assert twilio.post_signed(server.base_url + path, form, signature=None).status_code == 403
    assert _row(server, answered["call_id"]) == before


def test_replayed_and_out_of_order_callbacks_change_nothing(
    answered: dict[str, Any], server: VoiceServer, twilio: FakeTwilioServer
) -> None:
    before = _row(server, answered["call_id"])
    for sent in [c for c in twilio.callbacks if c.form["CallSid"] == answered["fake"].sid]:
        assert httpx.post(sent.url, data=sent.form, headers={"X-Twilio-Signature": sent.signature}).status_code < 300
    url = answered["fake"].param("StatusCallback")
    for late in ("ringing", "in-progress", "busy", "no-answer", "failed"):
        assert twilio.post_signed(url, _status_form(answered["fake"].sid, late)).status_code == 204
    time.sleep(0.5)
    assert _row(server, answered["call_id"]) == before


def test_callbacks_for_unknown_call_sids_and_other_calls_are_ignored(
    answered: dict[str, Any], server: VoiceServer, twilio: FakeTwilioServer
) -> None:
    # Another organization's call, live: a signed callback naming it with our call's SID (or
    # our call ID with its SID) touches neither.
    other_org = client_for(server.base_url, new_key(server.db_url))
    with other_org:
        other_agent = _agent(VoiceServer(server.base_url, server.db_url, other_org))
        twilio.callees["+15550100107"] = {"silent": True}
        other_id = str(other_org.post("/v1/calls", json={"agent_id": other_agent, "to": "+15550100107"}).json()["id"])
        other_fake = twilio.call_for(other_id)
        twilio.wait_streaming(other_fake)
        ours_before, theirs_before = _row(server, answered["call_id"]), _row(server, other_id)
        ours_url, theirs_url = answered["fake"].param("StatusCallback"), other_fake.param("StatusCallback")
        assert twilio.post_signed(theirs_url, _status_form(answered["fake"].sid, "busy")).status_code == 404
        assert twilio.post_signed(ours_url, _status_form(other_fake.sid, "busy")).status_code == 404
        assert twilio.post_signed(theirs_url, _status_form("CA" + "f" * 32, "completed")).status_code == 404
        assert _row(server, answered["call_id"]) == ours_before
        assert _row(server, other_id)["status"] == theirs_before["status"] == "in_progress"

        # --- and its stream: a wrong token, then the real one replayed, are both refused ---
        params = other_fake.stream_parameters
        for token in ("wrong-token", params["token"]):
            assert _stream_refused(other_fake.stream_url, {"call_id": params["call_id"], "token": token})
        assert _row(server, other_id)["status"] == "in_progress"
        record = VoiceServer(server.base_url, server.db_url, other_org).wait_for_end(other_id)
        assert (record["status"], record["end_reason"]) == ("completed", "silence_timeout")


def _stream_refused(url: str, parameters: dict[str, str]) -> bool:
    """Start a Media Stream with ``parameters``; True when the server closes it unheard."""
    with connect(url) as ws:
        ws.send(encode_connected())
        ws.send(encode_start("MZ" + "0" * 32, ACCOUNT_SID, "CA" + "e" * 32, parameters))
        try:
            ws.recv(timeout=5)
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False
    return False


def test_a_malformed_media_frame_ends_only_its_own_stream(server: VoiceServer) -> None:
    with connect(server.base_url.replace("http", "ws") + "/carrier/media-stream") as ws:
        ws.send("{not json")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert server.api.get("/healthz").status_code == 200


# --- transfer ----------------------------------------------------------------------------------


def test_the_model_transfers_a_twilio_call_with_dial(
    server: VoiceServer, twilio: FakeTwilioServer, placed: dict[str, str]
) -> None:
    call_id = placed["transfer"]
    record = server.wait_for_end(call_id, timeout_s=90)
    fake = twilio.call_for(call_id)
    assert (record["status"], record["end_reason"]) == ("completed", "transfer"), record
    assert record["transferred_to"] == "+14155552671"
    dials = [u["Twiml"] for u in fake.updates if "Twiml" in u]
    assert dials and "<Dial>+14155552671</Dial>" in dials[0]
    assert {"Status": "completed"} not in fake.updates  # the transferred line is not hung up


# --- inbound ------------------------------------------------------------------------------------


def test_phone_numbers_map_to_agents(server: VoiceServer, agent_id: str) -> None:
    r = server.api.post("/v1/phone-numbers", json={"phone_number": "+1 (415) 555-0100", "agent_id": agent_id})
    assert r.status_code == 201, r.text
    assert r.json()["phone_number"] == "+14155550100" and r.json()["provider"] == "twilio"
    assert server.api.post("/v1/phone-numbers", json={"phone_number": "+14155550100", "agent_id": agent_id}
                           ).status_code == 409
    listed = server.api.get("/v1/phone-numbers").json()["data"]
    assert [n["phone_number"] for n in listed] == ["+14155550100"]
    assert server.api.delete("/v1/phone-numbers/+14155550100").status_code == 204
    assert server.api.delete("/v1/phone-numbers/+14155550100").status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert server.api.post("/v1/phone-numbers", json={"phone_number": "+14155550101", "agent_id": missing}
                           ).status_code == 404


def test_an_inbound_call_to_a_mapped_number_runs_the_agent(
    server: VoiceServer, twilio: FakeTwilioServer, agent_id: str
) -> None:
    r = server.api.post("/v1/phone-numbers", json={"phone_number": "+14155550199", "agent_id": agent_id})
    assert r.status_code == 201, r.text
    twilio.callees["inbound"] = {"says": ["yes"], "dtmf": VERIFY}
    fake = twilio.inbound("+15550100777", "+14155550199", server.base_url + "/carrier/twilio/inbound")
    assert fake.stream_parameters, fake.said
    call_id = fake.stream_parameters["call_id"]
    record = server.wait_for_end(call_id)
    assert record["direction"] == "inbound"
    assert record["to"] == "+15550100777"  # the caller: the number the contact and context go by
    assert (record["status"], record["results"]["confirmed"]) == ("completed", True), record
    assert _row(server, call_id)["provider_call_id"] == fake.sid


def test_an_inbound_call_to_an_unmapped_number_hears_a_polite_goodbye(
    server: VoiceServer, twilio: FakeTwilioServer
) -> None:
    fake = twilio.inbound("+15550100778", "+14155550142", server.base_url + "/carrier/twilio/inbound")
    assert fake.said and "not taking calls" in fake.said[0]
    assert not fake.stream_parameters
    listed = server.api.get("/v1/conversations", params={"limit": 100}).json()["data"]
    assert all(c.get("to") != "+15550100778" for c in listed)


def test_no_call_is_left_open(server: VoiceServer) -> None:
    time.sleep(1)
    listed = server.api.get("/v1/conversations", params={"limit": 100}).json()["data"]
    assert all(c["status"] in TERMINAL for c in listed), json.dumps(
        [(c["id"], c["status"]) for c in listed if c["status"] not in TERMINAL]
    )

