"""Carrier-specific options a call body may carry, validated by the carrier that owns them.

Only the simulated carrier has any today (``simulated_callee``). The API process checks them
here without starting a carrier, so an API-only node refuses a bad body with the same 422.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from callwright.telephony.simulator.behavior import SimulatedCallee

_OPTIONS: dict[str, tuple[str, type[BaseModel]]] = {"simulator": ("simulated_callee", SimulatedCallee)}


NOT_THIS_CARRIER = "not_this_carrier"
"""The ``kind`` of a well-formed option that the agent's carrier does not take."""


class CarrierOptionError(ValueError):
    """An option the carrier refuses; ``loc`` is relative to the call body."""

    def __init__(self, loc: list[str | int], message: str, kind: str = "value_error") -> None:
        super().__init__(message)
        self.loc = loc
        self.kind = kind


def validate_options(provider: str, field: str, value: dict[str, Any] | None) -> None:
    """Refuse ``field`` unless ``provider`` owns it, and check its shape when it does."""
    if value is None:
        return
    owned = _OPTIONS.get(provider)
    if owned is None or owned[0] != field:
        raise CarrierOptionError(
            [field],
            f"{field} is only accepted when the agent's phone.provider is simulator (it is {provider})",
            NOT_THIS_CARRIER,
        )
    try:
        owned[1].model_validate(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CarrierOptionError([field, *err["loc"]], err["msg"], err["type"]) from exc
