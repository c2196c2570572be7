"""The task broker: in-process by default, Redis when ``CALLWRIGHT_BROKER`` is a redis:// URL.
The broker only carries wake-ups; the database rows are the work. Each runtime owns its broker,
so two runtimes in one process (tests, benchmarks) never share state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker, TaskiqDepends, TaskiqState
from taskiq.receiver import Receiver

log = logging.getLogger("callwright.broker")

DIAL_TASK = "callwright.dial_call"


def make_broker(url: str) -> AsyncBroker:
    if url.startswith(("redis://", "rediss://")):
        from taskiq_redis import ListQueueBroker

        broker: AsyncBroker = ListQueueBroker(url=url, queue_name="callwright")
        return broker
    return InMemoryBroker(max_async_tasks=1000)


async def dial_call(call_id: str, state: TaskiqState = TaskiqDepends()) -> None:
    """Wake the dialer for one call; claiming the row makes a duplicate delivery harmless."""
    dialer: Any = state.dialer
    await dialer.dial(uuid.UUID(call_id))


class BrokerListener:
    """Consumes a networked broker's queue inside this process (the in-memory broker runs
    tasks as they are sent, so it needs none). Every process with a runtime listens, so a
    wake-up sent by any node reaches some dialer."""

    def __init__(self, broker: AsyncBroker, restart_after_s: float = 1.0) -> None:
        self._broker = broker
        self._finish = asyncio.Event()
        self._restart_after_s = restart_after_s
        self._task: asyncio.Task[None] | None = None
        self.restarts = 0
        if not isinstance(broker, InMemoryBroker):
            self._task = asyncio.create_task(self._listen_forever(), name="broker-listener")

    async def _listen_forever(self) -> None:
        """The receiver dies on errors it does not expect (a read timeout on an idle Redis
        connection is one): a process that stopped listening would never dial again, so it is
        started afresh. A wake-up lost meanwhile only delays a call: the reconciler re-sends it."""
        while not self._finish.is_set():
            receiver = Receiver(self._broker, run_startup=False, max_async_tasks=1000)
            try:
                await receiver.listen(self._finish)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an ExceptionGroup from the receiver's task group included
                if self._finish.is_set():
                    return
                self.restarts += 1
                log.warning("the broker listener stopped (%s: %s); listening again", type(exc).__name__, exc)
                await asyncio.sleep(self._restart_after_s)

    async def aclose(self) -> None:
        if self._task is None:
            return
        self._finish.set()
        try:
            await asyncio.wait_for(self._task, timeout=5)
        except (TimeoutError, Exception):
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class BrokerCallQueue:
    """``CallQueue`` over a broker whose state carries this process's dialer."""

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker
        self._dial = broker.register_task(dial_call, task_name=DIAL_TASK)

    async def call_ready(self, call_id: uuid.UUID) -> None:
        await self._dial.kiq(str(call_id))
