"""The carrier seam: place and end calls; status comes back as events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

CarrierStatus = Literal[
    "ringing", "answered", "completed", "busy", "no_answer", "failed", "canceled"
]


@dataclass(frozen=True)
class DialRequest:
    """Everything a carrier needs to place one outbound call.

    ``stream_url`` is the server's Media Streams WebSocket; ``stream_parameters`` go into the
    ``start`` message's ``customParameters`` (they carry the call ID and its one-time token).
    """

    call_id: str
    to: str
    from_number: str
    stream_url: str
    stream_parameters: dict[str, str]
    simulated_callee: dict[str, Any] | None = None
    ring_timeout_s: float = 30.0


@dataclass(frozen=True)
class StatusEvent:
    """A carrier's report on a call. ``answered_by`` is ``human``, ``machine`` or None."""

    call_id: str
    status: CarrierStatus
    provider_call_id: str = ""
    answered_by: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


StatusHandler = Callable[[StatusEvent], Awaitable[None]]


class TransferError(Exception):
    """The carrier cannot transfer this call (unknown, not connected, or already ended)."""


class Carrier(Protocol):
    """A telephone network. Audio flows over the Media Streams WebSocket, not through here."""

    name: str

    async def place_call(self, request: DialRequest, on_status: StatusHandler) -> str:
        """Start dialing; return the provider's call ID. Status events follow via ``on_status``."""
        ...

    async def hang_up(self, provider_call_id: str) -> None: ...

    async def transfer(self, provider_call_id: str, to: str) -> None:
        """Cold transfer: connect the far end to ``to`` and end the AI's leg.

        Returns once the carrier has taken the transfer on; the media stream then stops (as on
        a hang-up, with ``stop``) and the call's final status says it was transferred and
        where. Raises ``TransferError`` when the carrier cannot transfer the call: unknown to
        it, not connected yet, or already ended.
        """
        ...
