"""The seam between storing a call and dialing it: the voice side plugs in here."""

from __future__ import annotations

import uuid
from typing import Protocol


class CallQueue(Protocol):
    """Wakes whoever dials calls. The call row is the truth; a lost wake-up only delays the call,
    because the reconciler re-enqueues due rows."""

    async def call_ready(self, call_id: uuid.UUID) -> None: ...


class NoDialer:
    """Used where nothing dials (API-only processes with workers elsewhere, and unit tests)."""

    async def call_ready(self, call_id: uuid.UUID) -> None:
        return None
