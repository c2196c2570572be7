"""A local server that speaks Twilio's side of a call: the REST API, signed webhooks, and the
Media Streams peer over the real WebSocket.

What it does, as Twilio does (tests point ``twilio_api_base`` at ``fake.base_url``):

- ``POST /2010-04-01/Accounts/{sid}/Calls.json`` (basic auth: the account SID and auth token,
  else 401 with Twilio's error body) creates a call and answers its Call resource at once; the
  call then rings in the background. ``fail_next`` makes the next create answer an error (401,
  429 with or without ``Retry-After``, 500) or time out.
- The call posts signed status callbacks to ``StatusCallback`` (``ringing``, ``in-progress``,
  then ``completed``, or ``busy``/``no-answer``/``failed``), requests the answer ``Url``
  (signed form: ``CallSid``, ``AccountSid``, ``From``, ``To``, ...) and follows its TwiML: a
  ``<Connect><Stream>`` runs the simulator's ``CalleePeer`` against the stream URL with the
  ``<Parameter>`` values; ``<Hangup/>`` ends the call. The asynchronous answering-machine
  verdict (``AnsweredBy``) is posted to ``AsyncAmdStatusCallback`` once the stream runs.
- ``POST .../Calls/{CallSid}.json`` updates a call: ``Status=completed`` hangs up (the stream
  gets ``stop``); ``Twiml=<Response><Dial>n</Dial></Response>`` transfers it.
- ``inbound(from_, to, url)`` rings one of our numbers: it posts the signed inbound webhook and
  follows the TwiML (a ``<Say>`` is recorded in ``said``).

Every request it makes carries ``X-Twilio-Signature`` computed with ``RequestValidator`` over the
URL and form it sends; ``callbacks`` keeps each (URL, form, signature, answer status) so tests can
replay them. The callee of a number is the simulator's (magic numbers, or ``callees[to]``), and
``answered_by`` is what the simulated carrier would report.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from callwright.telephony.base import DialRequest
from callwright.telephony.simulator.behavior import SimulatedCallee, answered_by, resolve_behavior
from callwright.telephony.simulator.callee import CalleePeer
from callwright.telephony.simulator.callee_voice import callee_synthesizer_factory
from tests.support import free_port

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-test-auth-token"


@dataclass
class Failure:
    status: int = 500
    code: int | None = None
    message: str = "failure"
    retry_after: str | None = None
    hang_s: float = 0.0  # > 0: the request times out on the client instead


@dataclass
class SentCallback:
    url: str
    form: dict[str, str]
    signature: str
    status_code: int


@dataclass
class FakeCall:
    sid: str
    params: dict[str, list[str]]
    direction: str = "outbound-api"
    peer: CalleePeer | None = None
    stream_parameters: dict[str, str] = field(default_factory=dict)
    stream_url: str = ""
    status: str = "queued"
    updates: list[dict[str, str]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def param(self, name: str) -> str:
        return self.params.get(name, [""])[0]


class FakeTwilioServer:
    """Start with ``with FakeTwilioServer() as fake:``; ``fake.base_url`` is its REST API."""

    def __init__(self, *, ring_s: float = 0.2, amd_delay_s: float = 0.5, no_answer_s: float = 1.5) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ring_s = ring_s
        self.amd_delay_s = amd_delay_s
        self.no_answer_s = no_answer_s
        self.calls: dict[str, FakeCall] = {}
        self.callees: dict[str, dict[str, Any]] = {}
        self.amd_verdicts: dict[str, str] = {}  # To -> AnsweredBy, overriding the simulator's
        self.failures: deque[Failure] = deque()
        self.create_attempts = 0
        self.callbacks: list[SentCallback] = []
        self.validator = RequestValidator(AUTH_TOKEN)
        self._synth = callee_synthesizer_factory("auto")
        self._loop: asyncio.AbstractEventLoop | None = None
        app = Starlette(routes=[
            Route("/2010-04-01/Accounts/{account}/Calls.json", self._create, methods=["POST"]),
            Route("/2010-04-01/Accounts/{account}/Calls/{sid}.json", self._update, methods=["POST"]),
        ])
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._http = httpx.AsyncClient(timeout=10)
        await self._server.serve()

    def __enter__(self) -> FakeTwilioServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Twilio server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        for call in list(self.calls.values()):
            if call.peer is not None:
                call.peer.hang_up("carrier")
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def _run(self, coro: Any, timeout: float = 60) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- test controls --------------------------------------------------------------------

    def fail_next(self, failure: Failure) -> None:
        self.failures.append(failure)

    def sign(self, url: str, form: dict[str, str]) -> str:
        return str(self.validator.compute_signature(url, form))

    def post_signed(self, url: str, form: dict[str, str], signature: str | None = "sign") -> httpx.Response:
        """Post ``form`` to ``url`` as Twilio would (``signature="sign"``), or with the given
        signature (None: no header), from the test's thread."""
        headers = {}
        if signature == "sign":
            signature = self.sign(url, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return httpx.post(url, data=form, headers=headers, timeout=10)

    def call_for(self, call_id: str, timeout_s: float = 30) -> FakeCall:
        """The fake's call whose status callback names our ``call_id``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for call in list(self.calls.values()):
                if f"call_id={call_id}" in call.param("StatusCallback"):
                    return call
            time.sleep(0.05)
        raise AssertionError(f"no Twilio call was created for {call_id}")

    def wait_done(self, call: FakeCall, timeout_s: float = 90) -> None:
        self._run(asyncio.wait_for(call.done.wait(), timeout_s), timeout_s + 5)

    def wait_streaming(self, call: FakeCall, timeout_s: float = 30) -> CalleePeer:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if call.peer is not None and call.peer.started.is_set():
                return call.peer
            time.sleep(0.05)
        raise AssertionError(f"{call.sid} never streamed")

    def inbound(self, from_: str, to: str, url: str) -> FakeCall:
        """A caller dials ``to``; Twilio asks ``url`` what to do. Returns once the call ended."""
        call = FakeCall(sid="CA" + uuid.uuid4().hex, params={"From": [from_], "To": [to]}, direction="inbound")
        self.calls[call.sid] = call

        async def run() -> None:
            try:
                form = self._base_form(call, "ringing")
                answer = await self._post(url, form)
                await self._follow(call, answer.text)
            finally:
                call.done.set()

        self._run(run(), 120)
        return call

    # --- REST API -------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    @staticmethod
    def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}
        return JSONResponse(body, status_code=status, headers=headers)

    async def _create(self, request: Request) -> Response:
        self.create_attempts += 1
        if not self._authorized(request) or request.path_params["account"] != ACCOUNT_SID:
            return self._error(401, 20003, "Authenticate")
        if self.failures:
            failure = self.failures.popleft()
            if failure.hang_s:
                await asyncio.sleep(failure.hang_s)
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
            return self._error(failure.status, failure.code or failure.status, failure.message, headers)
        params: dict[str, list[str]] = {}
        for key, value in parse_qsl((await request.body()).decode(), keep_blank_values=True):
            params.setdefault(key, []).append(value)
        call = FakeCall(sid="CA" + uuid.uuid4().hex, params=params)
        self.calls[call.sid] = call
        call.task = asyncio.create_task(self._outbound(call))
        return JSONResponse(
            {"sid": call.sid, "account_sid": ACCOUNT_SID, "status": "queued", "to": call.param("To"),
             "from": call.param("From"), "direction": "outbound-api"},
            status_code=201,
        )

    async def _update(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        call = self.calls.get(request.path_params["sid"])
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        form = dict(parse_qsl((await request.body()).decode()))
        call.updates.append(form)
        if form.get("Status") in ("completed", "canceled"):
            if call.peer is not None:
                call.peer.hang_up("carrier")
            elif call.task is not None:
                call.task.cancel()
        elif "Twiml" in form:
            number = ET.fromstring(form["Twiml"]).findtext("Dial")
            if call.peer is None or not number:
                return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
            call.peer.transfer(number.strip())
        return JSONResponse({"sid": call.sid, "status": call.status})

    # --- one call -------------------------------------------------------------------------

    def _base_form(self, call: FakeCall, status: str) -> dict[str, str]:
        return {
            "CallSid": call.sid, "AccountSid": ACCOUNT_SID, "From": call.param("From"), "To": call.param("To"),
            "CallStatus": status, "Direction": call.direction, "ApiVersion": "2010-04-01",
        }

    async def _post(self, url: str, form: dict[str, str]) -> httpx.Response:
        signature = self.sign(url, form)
        response = await self._http.post(url, data=form, headers={"X-Twilio-Signature": signature})
        self.callbacks.append(SentCallback(url, form, signature, response.status_code))
        return response

    async def _status(self, call: FakeCall, status: str, **extra: str) -> None:
        call.status = status
        url = call.param("StatusCallback")
        if url:
            await self._post(url, {**self._base_form(call, status), **extra})

    async def _outbound(self, call: FakeCall) -> None:
        to = call.param("To")
        callee = resolve_behavior(to, self.callees.get(to))
        try:
            await asyncio.sleep(self.ring_s)
            await self._status(call, "ringing")
            if callee.behavior == "no_answer":
                await asyncio.sleep(self.no_answer_s)
                await self._status(call, "no-answer")
                return
            await asyncio.sleep(self.ring_s)
            if callee.behavior in ("busy", "fail"):
                await self._status(call, "busy" if callee.behavior == "busy" else "failed")
                return
            call.status = "in-progress"
            answer = await self._post(call.param("Url"), self._base_form(call, "in-progress"))
            await self._status(call, "in-progress")
            await self._follow(call, answer.text, callee)
        except asyncio.CancelledError:
            await self._status(call, "canceled")
        except httpx.HTTPError:  # nobody at the webhook URLs (REST-only tests): Twilio gives up too
            call.status = "failed"
        finally:
            call.done.set()

    async def _follow(self, call: FakeCall, document: str, callee: SimulatedCallee | None = None) -> None:
        """Carry out the TwiML Twilio got for the call."""
        root = ET.fromstring(document)
        started = time.monotonic()
        for verb in root:
            if verb.tag == "Say":
                call.said.append(verb.text or "")
            elif verb.tag == "Hangup":
                break
            elif verb.tag == "Connect":
                stream = verb.find("Stream")
                assert stream is not None, document
                call.stream_url = stream.get("url", "")
                call.stream_parameters = {p.get("name", ""): p.get("value", "") for p in stream.iter("Parameter")}
                await self._stream(call, callee or resolve_behavior(call.param("From"), self.callees.get("inbound")))
        await self._status(call, "completed", CallDuration=str(round(time.monotonic() - started)))

    async def _stream(self, call: FakeCall, callee: SimulatedCallee) -> None:
        request = DialRequest(
            call_id=call.stream_parameters.get("call_id", ""), to=call.param("To"), from_number=call.param("From"),
            stream_url=call.stream_url, stream_parameters=call.stream_parameters,
        )
        peer = CalleePeer(request, callee, self._synth(), call_sid=call.sid, account_sid=ACCOUNT_SID)
        call.peer = peer
        amd = asyncio.create_task(self._amd(call, callee))
        try:
            await peer.run()
        finally:
            amd.cancel()

    async def _amd(self, call: FakeCall, callee: SimulatedCallee) -> None:
        url = call.param("AsyncAmdStatusCallback")
        verdict = self.amd_verdicts.get(call.param("To")) or answered_by(call.param("To"), callee) or "unknown"
        if not url:
            return
        assert call.peer is not None
        await call.peer.started.wait()
        await asyncio.sleep(self.amd_delay_s)
        await self._post(url, {**self._base_form(call, "in-progress"), "AnsweredBy": verdict,
                               "MachineDetectionDuration": "1200"})
