"""A nudge from whoever commits work to the jobs of the same process, so an event is handled
within milliseconds instead of at the next poll. Other processes find the work by polling."""

from __future__ import annotations

import asyncio


class Wakeups:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._event is None:  # an asyncio.Event belongs to one loop
            self._event, self._loop = asyncio.Event(), loop
        return self._event

    def notify(self) -> None:
        try:
            self._current().set()
        except RuntimeError:  # no running loop (a synchronous caller): the poll will find the work
            pass

    async def wait(self, timeout_s: float) -> bool:
        """Wait for a nudge or ``timeout_s``; True when nudged."""
        event = self._current()
        try:
            # asyncio.timeout, not wait_for: on Python 3.11, wait_for can lose a cancellation that
            # arrives as its timeout fires, and the task then never stops.
            async with asyncio.timeout(timeout_s):
                await event.wait()
        except TimeoutError:
            return False
        event.clear()
        return True
