"""The seam between storing a call and dialing it: the voice side plugs in here."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Protocol


class CallQueue(Protocol):
    """Wakes whoever dials calls. The call row is the truth; a lost wake-up only delays the call,
    because the reconciler re-enqueues due rows."""

    async def call_ready(self, call_id: uuid.UUID) -> None: ...


class NoDialer:
    """Used where nothing dials (API-only processes with workers elsewhere, and unit tests)."""

    async def call_ready(self, call_id: uuid.UUID) -> None:
        return None


class LocalDial:
    """Dials in this process: for calls this process's own campaign admission just placed, so
    they need no broker round trip (and no other process that may die holding the wake-up). A
    call it cannot dial now stays queued; the reconciler sends it through the broker later."""

    def __init__(self, dial: Callable[[uuid.UUID], Coroutine[Any, Any, bool]]) -> None:
        self._dial = dial
        self._tasks: set[asyncio.Task[bool]] = set()

    async def call_ready(self, call_id: uuid.UUID) -> None:
        task: asyncio.Task[bool] = asyncio.create_task(self._dial(call_id), name="dial")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
