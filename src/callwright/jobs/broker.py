"""The task broker: in-process by default, Redis when ``CALLWRIGHT_BROKER`` is a redis:// URL.
The broker only carries wake-ups; the database rows are the work. Each runtime owns its broker,
so two runtimes in one process (tests, benchmarks) never share state."""

from __future__ import annotations

import uuid
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker, TaskiqDepends, TaskiqState

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


class BrokerCallQueue:
    """``CallQueue`` over a broker whose state carries this process's dialer."""

    def __init__(self, broker: AsyncBroker) -> None:
        self.broker = broker
        self._dial = broker.register_task(dial_call, task_name=DIAL_TASK)

    async def call_ready(self, call_id: uuid.UUID) -> None:
        await self._dial.kiq(str(call_id))
