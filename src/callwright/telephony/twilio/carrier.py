"""The Twilio carrier: calls placed, ended and transferred through Twilio's REST API.

Status does not come back through ``on_status``: Twilio posts it to HTTP routes that any
``serve`` process takes (api/twilio.py), so the carrier only writes the URLs into the call.
The answer URL carries the stream address and the call's one-time token; Twilio signs every
URL it requests with the auth token, so nothing in it can be forged or altered.
"""

from __future__ import annotations

from urllib.parse import urlencode

from callwright.telephony.base import DialRequest, StatusHandler, TransferError
from callwright.telephony.twilio import twiml
from callwright.telephony.twilio.rest import TwilioRest, TwilioRestError

STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
ANSWER_PATH = "/carrier/twilio/answer"
STATUS_PATH = "/carrier/twilio/status"
AMD_PATH = "/carrier/twilio/amd"
INBOUND_PATH = "/carrier/twilio/inbound"


class TwilioCarrier:
    """``public_url`` is where Twilio reaches this deployment's HTTP routes."""

    name = "twilio"

    def __init__(self, rest: TwilioRest, public_url: str) -> None:
        self.rest = rest
        self.public_url = public_url.rstrip("/")
        self._transferred: set[str] = set()

    def _url(self, path: str, **query: str) -> str:
        return f"{self.public_url}{path}?{urlencode(query)}"

    async def place_call(self, request: DialRequest, on_status: StatusHandler) -> str:
        """Create the call; raises ``TwilioRestError`` (a ``ValueError``: the call fails with
        Twilio's words) when Twilio refuses it."""
        if not request.from_number:
            raise ValueError("a Twilio call needs a from number: set phone.from_number on the agent")
        params: dict[str, str | list[str]] = {
            "To": request.to,
            "From": request.from_number,
            "Url": self._url(ANSWER_PATH, stream=request.stream_url, **request.stream_parameters),
            "Method": "POST",
            "StatusCallback": self._url(STATUS_PATH, call_id=request.call_id),
            "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": STATUS_EVENTS,
            "Timeout": str(round(request.ring_timeout_s)),
            "MachineDetection": "DetectMessageEnd",
            "AsyncAmd": "true",
            "AsyncAmdStatusCallback": self._url(AMD_PATH, call_id=request.call_id),
            "AsyncAmdStatusCallbackMethod": "POST",
        }
        call = await self.rest.create_call(params)
        return str(call["sid"])

    async def hang_up(self, provider_call_id: str) -> None:
        """``Status=completed`` ends a connected call and cancels a ringing one; a call that has
        already ended is not an error. A transferred call is left alone: its line now belongs
        to the transfer (the session hangs up its own leg by closing the stream)."""
        if provider_call_id in self._transferred:
            self._transferred.discard(provider_call_id)
            return
        try:
            await self.rest.update_call(provider_call_id, {"Status": "completed"})
        except TwilioRestError as exc:
            if exc.http_status not in (400, 404):
                raise

    async def transfer(self, provider_call_id: str, to: str) -> None:
        """Redirect the live call to ``<Dial>to</Dial>``: Twilio stops the stream and dials."""
        if not to.strip():
            raise TransferError("no number to transfer to")
        try:
            await self.rest.update_call(provider_call_id, {"Twiml": twiml.dial(to)})
        except TwilioRestError as exc:
            raise TransferError(str(exc)) from exc
        self._transferred.add(provider_call_id)

    async def aclose(self) -> None:
        await self.rest.aclose()
