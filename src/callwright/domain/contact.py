"""Contacts: the people an agent calls."""

from __future__ import annotations

from typing import Any

from pydantic import EmailStr, Field, field_validator

from callwright.domain.common import Out, Strict, UtcDatetime

COUNTRY_PATTERN = r"^[A-Z]{2}$"


def _check_tz(value: str | None) -> str | None:
    if value is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


class ContactIn(Strict):
    phone_number: str = Field(min_length=1, max_length=100)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    external_id: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("external_id", mode="before")
    @classmethod
    def _external_id_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return _check_tz(v)


class ContactCreate(ContactIn):
    country_code: str | None = Field(default=None, pattern=COUNTRY_PATTERN)


class ContactUpdate(Strict):
    phone_number: str | None = Field(default=None, min_length=1, max_length=100)
    country_code: str | None = Field(default=None, pattern=COUNTRY_PATTERN)
    first_name: str | None = Field(default=None, max_length=200)
    last_name: str | None = Field(default=None, max_length=200)
    email: EmailStr | None = None
    external_id: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    attributes: dict[str, Any] | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return _check_tz(v)


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
