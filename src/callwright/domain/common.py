"""Shared model bases and small value types."""

from __future__ import annotations

import re
import types
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


TIMESTAMP_RANGE = "timestamp_range"

EMAIL_ADDRESS = "email_address"
"""The 422 ``type`` of an address JSON Schema's ``format: email`` allows but mail cannot reach
(a reserved or special-use domain such as ``.test`` or ``localhost``, an unusual syntax)."""


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        reason = {"reason": str(exc)}
        raise PydanticCustomError(EMAIL_ADDRESS, "value is not a valid email address: {reason}", reason) from None


EmailAddress = Annotated[str, AfterValidator(_email), WithJsonSchema({"type": "string", "format": "email"})]
"""An email address, normalised; refused with type ``email_address``."""
"""The 422 ``type`` of a timestamp whose UTC time falls outside years 1 to 9999."""


def _assume_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
        raise PydanticCustomError(TIMESTAMP_RANGE, "the time is out of range in UTC (years 1 to 9999)") from None


_YEAR = "([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = "((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|1[0-9]|2[0-8]))"
TIMESTAMP_PATTERN = (
    f"^({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    "[Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?$"
)
"""An ISO 8601 date and time, as RFC 3339 writes it (``2026-11-21T15:00:00Z``), where the seconds
and the zone may be left out (no zone: UTC). The pattern has the calendar too (no April 31)."""


def _iso_text(value: Any) -> Any:
    """A timestamp in JSON is a string: refuse the numbers and bare dates pydantic would also parse."""
    if isinstance(value, str) and not re.match(TIMESTAMP_PATTERN, value):
        raise ValueError("a timestamp is an ISO 8601 date and time, such as 2026-11-21T15:00:00Z")
    if not isinstance(value, str | datetime):
        raise ValueError("a timestamp is a string in ISO 8601, such as 2026-11-21T15:00:00Z")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_assume_utc)]
"""Input datetimes: an ISO 8601 string; a value without a zone is taken as UTC."""

TIMESTAMP_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": TIMESTAMP_PATTERN,
    "description": "RFC 3339 date and time, such as 2026-11-21T15:00:00Z; without a zone it is UTC.",
}
"""An input timestamp in the document: not ``format: date-time``, which requires the zone."""

AssumeUtc = Annotated[Timestamp, Field(strict=False), WithJsonSchema(TIMESTAMP_SCHEMA)]
"""``Timestamp`` in a ``Strict`` body."""

HTTP_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\x00-\x20\x7f]+([/?#][^\x00-\x20\x7f]*)?$"
"""An http(s) URL with a host and no spaces or control characters. Whether the server will fetch
it is checked where it is saved: a 422 of type ``url_refused``."""


def _http_url_text(value: Any) -> Any:
    if isinstance(value, str) and not re.match(HTTP_URL_PATTERN, value):
        raise ValueError("an http:// or https:// URL with a host and without spaces")
    return value


HttpUrl = Annotated[AnyHttpUrl, BeforeValidator(_http_url_text), Field(json_schema_extra={"pattern": HTTP_URL_PATTERN})]
"""A customer URL field (``HTTP_URL_PATTERN``)."""

JsonUuid = Annotated[UUID, Field(strict=False)]
"""Input UUIDs: strings in JSON, so parsed even in ``Strict`` models."""

UtcDatetime = Annotated[datetime, PlainSerializer(_iso_z, return_type=str, when_used="json")]


def _integer_only(annotation: Any) -> bool:
    """Whether a field takes integers and no other numbers (``int``, ``Annotated[int, ...] | None``)."""
    leaves: list[Any] = []
    pending = [annotation]
    while pending:
        tp = pending.pop()
        if get_origin(tp) in (Union, types.UnionType):
            pending.extend(get_args(tp))
        elif get_origin(tp) is Annotated:
            pending.append(get_args(tp)[0])
        else:
            leaves.append(tp)
    return int in leaves and float not in leaves


class Strict(BaseModel):
    """Request bodies: unknown fields are a 422, never silently dropped, and a value of the wrong
    JSON type is a 422, never coerced (``"1"`` is not a number, ``0`` is not a boolean), so the
    server accepts exactly what its OpenAPI document describes. UUID and timestamp fields take
    strings: declare them ``JsonUuid`` and ``AssumeUtc``. An integer field takes ``2.0`` too: JSON
    Schema's ``integer`` is any number without a fraction, and some JSON writers add the ``.0``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    _integer_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._integer_fields = frozenset(n for n, f in cls.model_fields.items() if _integer_only(f.annotation))

    @model_validator(mode="before")
    @classmethod
    def _whole_floats_are_integers(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls._integer_fields:
            return data
        whole = {
            name: int(value)
            for name in cls._integer_fields
            if isinstance(value := data.get(name), float) and value.is_integer()
        }
        return {**data, **whole} if whole else data


class Out(BaseModel):
    """Response bodies."""

    model_config = ConfigDict(populate_by_name=True)


JsonObject = dict[str, Any]


FIELD_CONFLICT = "field_conflict"
"""The 422 ``type`` of a value given twice (a per-call field at the top level and in ``call``, a
parameter name repeated): each place is valid alone, which is all JSON Schema can check."""


# JSON Schema for the cross-field rules that model validators enforce, so the OpenAPI document
# says them too (``model_config = ConfigDict(json_schema_extra={"allOf": [...]})``).


def _without_null(schema: JsonObject) -> None:
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    schema.pop("default", None)
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


def not_null() -> Any:
    """``Annotated[X | None, not_null()]``: optional, but the document shows no ``null``; the
    validation that follows refuses one (a PATCH field whose setting cannot be null)."""
    return Field(json_schema_extra=_without_null)


def given(name: str) -> JsonObject:
    """The object has ``name`` and it is not null."""
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


def when(name: str, value: Any, then: JsonObject) -> JsonObject:
    """When ``name`` is ``value``, ``then`` holds too."""
    return {"anyOf": [{"not": {"required": [name], "properties": {name: {"const": value}}}}, then]}
