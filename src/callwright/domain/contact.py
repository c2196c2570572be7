"""Contacts: the people an agent calls."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from callwright.domain.common import EmailAddress, Out, Strict, UtcDatetime, not_null
from callwright.domain.phones import CountryCode, PhoneText

COUNTRY_PATTERN = r"^[A-Z]{2}$"


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zone names this server knows (its tz database), sorted; not the host's ``localtime``."""
    return tuple(sorted(z for z in available_timezones() if z not in {"localtime", "Factory"}))


def _check_tz(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in time_zones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


TimeZoneName = Annotated[
    str,
    Field(max_length=64, json_schema_extra={"enum": [*time_zones()]}),
    AfterValidator(_check_tz),
]

def _number_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ExternalId = Annotated[
    str,
    BeforeValidator(_number_as_text),
    Field(max_length=200),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "maxLength": 200}, {"type": "integer"}],
            "description": "Your own ID for the contact; a number is taken as its decimal text.",
        }
    ),
]


class ContactIn(Strict):
    phone_number: PhoneText = Field(description="Any format; national numbers are read in `country_code`.")
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: EmailAddress | None = None
    external_id: ExternalId | None = None
    timezone: TimeZoneName | None = Field(default=None, description="IANA zone; derived from the number when absent.")
    attributes: dict[str, Any] = Field(default_factory=dict)


class ContactCreate(ContactIn):
    country_code: CountryCode | None = None


class ContactUpdate(Strict):
    phone_number: Annotated[PhoneText | None, not_null()] = None
    country_code: CountryCode | None = None
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: EmailAddress | None = None
    external_id: ExternalId | None = None
    timezone: TimeZoneName | None = None
    attributes: dict[str, Any] | None = None


class ContactOut(Out):
    id: str
    phone_number: str
    first_name: str | None
    last_name: str | None
    email: str | None
    external_id: str | None
    timezone: str | None
    attributes: dict[str, Any]
    created_at: UtcDatetime
    updated_at: UtcDatetime
