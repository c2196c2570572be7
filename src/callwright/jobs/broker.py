"""The task broker: in-process by default, Redis when ``CALLWRIGHT_BROKER`` is a redis:// URL.
The broker only carries wake-ups; the database rows are the work."""

from __future__ import annotations

import os
import uuid
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker, TaskiqDepends, TaskiqState


def _make_broker() -> AsyncBroker:
    url = os.environ.get("CALLWRIGHT_BROKER", "memory")
    if url.startswith(("redis://", "rediss://")):
        from taskiq_redis import ListQueueBroker

        broker: AsyncBroker = ListQueueBroker(url=url, queue_name="callwright")
        return broker
    return InMemoryBroker(max_async_tasks=1000)


broker = _make_broker()


@broker.task(task_name="callwright.dial_call")
async def dial_call(call_id: str, state: TaskiqState = TaskiqDepends()) -> None:
    dialer: Any = state.dialer
    await dialer.dial(uuid.UUID(call_id))


class BrokerCallQueue:
    """``CallQueue`` over the broker."""

    async def call_ready(self, call_id: uuid.UUID) -> None:
        await dial_call.kiq(str(call_id))
