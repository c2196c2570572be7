"""Shared model bases and small value types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _assume_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


AssumeUtc = Annotated[datetime, AfterValidator(_assume_utc)]
"""Input datetimes: a value without a zone is taken as UTC."""

UtcDatetime = Annotated[datetime, PlainSerializer(_iso_z, return_type=str, when_used="json")]


class Strict(BaseModel):
    """Request bodies: unknown fields are a 422, never silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Out(BaseModel):
    """Response bodies."""

    model_config = ConfigDict(populate_by_name=True)


JsonObject = dict[str, Any]
