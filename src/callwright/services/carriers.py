"""Which carrier handles a call, by the agent's ``phone.provider``. The runtime owns its registry
and hands it to whoever needs a carrier: nothing here is a process global."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from callwright.services.agents import version_by_id
from callwright.store.db import Database
from callwright.store.tables import calls
from callwright.telephony.base import Carrier


class UnknownCarrier(LookupError):
    pass


class CarrierRegistry:
    """Carriers by provider name, created on first use so unused SDKs are never imported."""

    def __init__(self, factories: dict[str, Callable[[], Carrier]]) -> None:
        self._factories = factories
        self._carriers: dict[str, Carrier] = {}

    def get(self, provider: str) -> Carrier:
        if provider not in self._carriers:
            factory = self._factories.get(provider)
            if factory is None:
                raise UnknownCarrier(f"carrier {provider!r} is not configured in this process")
            self._carriers[provider] = factory()
        return self._carriers[provider]

    def started(self) -> list[Carrier]:
        return list(self._carriers.values())


async def carrier_hang_up(db: Database, registry: CarrierRegistry | None, row: Row[Any]) -> bool:
    """Ask the call's carrier to hang up (used when the session runs in another process)."""
    if registry is None or not row.provider_call_id:
        return False
    version = await version_by_id(db, row.org_id, row.agent_version_id)
    try:
        carrier = registry.get(version.settings.phone.provider)
    except UnknownCarrier:
        return False
    await carrier.hang_up(row.provider_call_id)
    return True


class TransferUnavailable(RuntimeError):
    """The call cannot be transferred (no carrier here, or the carrier has not placed it)."""


async def carrier_transfer(db: Database, registry: CarrierRegistry | None, call_id: uuid.UUID, to: str) -> None:
    """Cold-transfer a live call through its carrier (the agent's leg ends)."""
    async with db.read() as conn:
        row = (await conn.execute(sa.select(calls).where(calls.c.id == call_id))).one()
    if registry is None or not row.provider_call_id:
        raise TransferUnavailable("this call has no carrier call to transfer")
    version = await version_by_id(db, row.org_id, row.agent_version_id)
    try:
        carrier = registry.get(version.settings.phone.provider)
    except UnknownCarrier as exc:
        raise TransferUnavailable(str(exc)) from exc
    await carrier.transfer(row.provider_call_id, to)
