"""The simulated carrier: a ``Carrier`` whose calls ring, answer and talk without a phone network.

``place_call`` returns at once, like Twilio's REST API; the call then lives in a background
task that reports status through ``on_status`` and, when answered, runs a ``CalleePeer``
against the server's real Media Streams endpoint. Every status event carries the provider
call ID, which is also the ``callSid`` in the stream's ``start`` message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from callwright.telephony.base import CarrierStatus, DialRequest, StatusEvent, StatusHandler, TransferError
from callwright.telephony.simulator.behavior import SimulatedCallee, answered_by, resolve_behavior
from callwright.telephony.simulator.callee import CalleePeer, StreamConnectError
from callwright.voice.tts.base import Synthesizer

log = logging.getLogger(__name__)


@dataclass
class _Call:
    request: DialRequest
    callee: SimulatedCallee
    on_status: StatusHandler
    task: asyncio.Task[None] | None = None
    peer: CalleePeer | None = None
    canceled: bool = False


class SimulatedCarrier:
    """Built-in carrier for development, tests and benchmarks (see docs/simulator.md).

    ``synthesizer_factory`` gives each answered call the callee's voice. ``ring_ms`` is how
    long a phone rings before it is picked up (or reported busy/failed);
    ``no_answer_after_ms`` overrides the request's ring timeout so tests need not wait 30 s.
    ``peer_options`` go to every ``CalleePeer`` (pauses, max call length, ...).
    """

    name = "simulator"

    def __init__(
        self,
        synthesizer_factory: Callable[[], Synthesizer],
        *,
        ring_ms: float = 1000.0,
        no_answer_after_ms: float | None = None,
        peer_options: dict[str, Any] | None = None,
    ) -> None:
        self.synthesizer_factory = synthesizer_factory
        self.ring_ms = ring_ms
        self.no_answer_after_ms = no_answer_after_ms
        self.peer_options = dict(peer_options or {})
        self._calls: dict[str, _Call] = {}
        self.finished: dict[str, CalleePeer] = {}
        """Peers of ended calls, kept for inspection until ``forget`` (tests read their logs)."""
        self.keep_finished = False

    async def place_call(self, request: DialRequest, on_status: StatusHandler) -> str:
        """Start the call in the background; raise ``ValidationError`` for a bad ``simulated_callee``."""
        callee = resolve_behavior(request.to, request.simulated_callee)
        provider_call_id = "SIM" + uuid.uuid4().hex
        call = _Call(request=request, callee=callee, on_status=on_status)
        self._calls[provider_call_id] = call
        call.task = asyncio.create_task(
            self._run(provider_call_id, call), name=f"sim-call-{provider_call_id}"
        )
        return provider_call_id

    async def hang_up(self, provider_call_id: str) -> None:
        """End a call: a talking callee sends ``stop`` and closes; a ringing one is canceled."""
        call = self._calls.get(provider_call_id)
        if call is None:
            return
        if call.peer is not None:
            call.peer.hang_up("carrier")
        elif call.task is not None and not call.task.done():
            call.canceled = True
            call.task.cancel()
        # A status handler may hang up from inside the call's own task: never wait on oneself.
        if call.task is not None and call.task is not asyncio.current_task():
            await asyncio.gather(call.task, return_exceptions=True)

    async def transfer(self, provider_call_id: str, to: str) -> None:
        """Cold transfer: the callee's leg goes to ``to``; the stream gets ``stop`` and the call
        completes with ``detail.ended_by = "transfer"`` and ``detail.transferred_to = to``.

        Returns as soon as the transfer is under way, as Twilio's call update does: the ``stop``
        and the final status follow (``wait`` for them). Not waiting also means a caller that
        reads the stream itself cannot block its own close. Raises ``TransferError`` for a call
        that is unknown, still ringing, or already ending.
        """
        call = self._calls.get(provider_call_id)
        if call is None:
            raise TransferError(f"no live call {provider_call_id!r}")
        if call.peer is None:
            raise TransferError(f"call {provider_call_id!r} has not been answered")
        if not to.strip():
            raise TransferError("no number to transfer to")
        call.peer.transfer(to)

    def active_calls(self) -> list[str]:
        """Provider call IDs of calls that are ringing or connected."""
        return list(self._calls)

    def peer(self, provider_call_id: str) -> CalleePeer | None:
        """The callee of a live (or, with ``keep_finished``, ended) call."""
        call = self._calls.get(provider_call_id)
        return call.peer if call is not None else self.finished.get(provider_call_id)

    async def wait(self, provider_call_id: str) -> None:
        """Until the call has ended and its last status was delivered."""
        call = self._calls.get(provider_call_id)
        if call is not None and call.task is not None:
            await asyncio.gather(call.task, return_exceptions=True)

    async def aclose(self) -> None:
        """Hang up every call and wait for them to end."""
        await asyncio.gather(*(self.hang_up(pid) for pid in list(self._calls)), return_exceptions=True)

    # --- one call -------------------------------------------------------------------------

    async def _emit(
        self,
        pid: str,
        call: _Call,
        status: CarrierStatus,
        answered: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        event = StatusEvent(
            call_id=call.request.call_id,
            status=status,
            provider_call_id=pid,
            answered_by=answered,
            detail=detail or {},
        )
        try:
            await call.on_status(event)
        except Exception:  # a broken handler must not leave the call half-done
            log.exception("status handler failed for %s %s", pid, status)

    async def _run(self, pid: str, call: _Call) -> None:
        try:
            await self._emit(pid, call, "ringing")
            await self._ring(pid, call)
        except asyncio.CancelledError:
            if call.canceled:
                await self._emit(pid, call, "canceled")
            else:
                raise
        finally:
            self._calls.pop(pid, None)
            if self.keep_finished and call.peer is not None:
                self.finished[pid] = call.peer

    async def _ring(self, pid: str, call: _Call) -> None:
        behavior = call.callee.behavior
        if behavior == "no_answer":
            ring_s = call.request.ring_timeout_s
            if self.no_answer_after_ms is not None:
                ring_s = self.no_answer_after_ms / 1000
            await asyncio.sleep(ring_s)
            await self._emit(pid, call, "no_answer")
            return
        await asyncio.sleep(self.ring_ms / 1000)
        if behavior == "busy":
            await self._emit(pid, call, "busy")
            return
        if behavior == "fail":
            await self._emit(pid, call, "failed", detail={"reason": "simulated_failure"})
            return
        peer = CalleePeer(
            call.request,
            call.callee,
            self.synthesizer_factory(),
            call_sid=pid,
            **self.peer_options,
        )
        call.peer = peer
        await self._emit(pid, call, "answered", answered=answered_by(call.request.to, call.callee))
        started = asyncio.get_running_loop().time()
        try:
            await peer.run()
        except StreamConnectError as exc:
            await self._emit(
                pid, call, "failed", detail={"reason": "stream_connect_failed", "error": str(exc)}
            )
            return
        except Exception as exc:
            log.exception("simulated call %s crashed", pid)
            await self._emit(pid, call, "failed", detail={"reason": "simulator_error", "error": repr(exc)})
            return
        duration_ms = round((asyncio.get_running_loop().time() - started) * 1000)
        detail: dict[str, Any] = {"ended_by": peer.ended_by, "duration_ms": duration_ms}
        if peer.ended_by == "transfer":
            detail["transferred_to"] = peer.transferred_to
        await self._emit(pid, call, "completed", detail=detail)
