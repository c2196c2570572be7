"""Phone numbers: parse anything a user types into E.164, and find the callee's time zone."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated

import phonenumbers
from phonenumbers import timezone as pn_timezone
from pydantic import AfterValidator, Field

_REGION_HINT = "a region code such as US or GB"

PHONE_NUMBER_ERROR = "value_error.phone_number"
"""The 422 ``type`` of a number that has the allowed characters but cannot be dialed."""

PHONE_FORMAT = "phone"
"""The OpenAPI ``format`` of a phone-number field: a string that must also parse as a dialable
number (``to_e164``), which no pattern can say; a number the parser refuses is a 422."""

PHONE_PATTERN = r"^[+0-9 ().\-]{1,100}$"
"""What a phone number may be written with: digits, a leading ``+``, spaces, ``( ) . -``."""

INTERNATIONAL_PHONE_PATTERN = r"^\+[0-9 ().\-]{1,99}$"
"""A number with its country calling code (``+`` first), for fields without a ``country_code``."""

REGIONS: tuple[str, ...] = tuple(sorted(phonenumbers.SUPPORTED_REGIONS))
"""ISO 3166 region codes the parser knows: the values ``country_code`` may take."""

PhoneText = Annotated[
    str, Field(min_length=1, max_length=100, pattern=PHONE_PATTERN, json_schema_extra={"format": PHONE_FORMAT})
]
"""A phone number as a user writes it (E.164 or national format with ``country_code``)."""

InternationalPhoneText = Annotated[
    str,
    Field(
        min_length=2, max_length=100, pattern=INTERNATIONAL_PHONE_PATTERN, json_schema_extra={"format": PHONE_FORMAT}
    ),
]
"""A phone number with its country calling code, such as ``+1 415 555 0100``."""


def _known_region(value: str) -> str:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown country code {value!r}; use {_REGION_HINT}")
    return value


CountryCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{2}$", json_schema_extra={"enum": list(REGIONS)}),
    AfterValidator(_known_region),
]
"""The region that national-format numbers are read in (ISO 3166 alpha-2, upper case)."""


class PhoneNumberError(ValueError):
    """A number that cannot be dialed; the message says why, for a 422."""


@lru_cache(maxsize=4096)
def to_e164(raw: str, country_code: str | None, default_region: str | None = None) -> str:
    """Parse ``raw`` (any common format) to E.164; local numbers need ``country_code``.

    Cached: a call parses its number more than once, and campaigns repeat numbers."""
    text = (raw or "").strip()
    if not text:
        raise PhoneNumberError("phone number is empty")
    if len(text) > 100:
        raise PhoneNumberError("phone number is longer than 100 characters")
    region = (country_code or default_region or "").upper() or None
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneNumberError(f"unknown country code {region!r}; use {_REGION_HINT}")
    if _NANP_E164.match(text):
        return text  # +1 and ten digits, area code 2-9: exactly what the full parse below returns
    try:
        # With a leading + the region plays no part, so the parse is shared with timezone_for.
        parsed = _parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            if text.startswith("+"):
                raise PhoneNumberError(f"{text!r} starts with an unknown country calling code") from exc
            raise PhoneNumberError(
                f"{text!r} has no country prefix; start it with + or pass country_code ({_REGION_HINT})"
            ) from exc
        raise PhoneNumberError(f"{text!r} is not a phone number: {exc._msg}") from exc
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    international = text.startswith("+") and _E164.match(e164) and _assigned_calling_code(parsed.country_code or 0)
    if international:
        # Accepted whether or not the metadata knows the range (below), so the validity check, the
        # costliest step (~25 µs: +1 is shared by 25 regions), is skipped: CSV ingest parses 100k.
        return e164
    if phonenumbers.is_valid_number(parsed):
        return e164
    # Numbering plans change faster than metadata, and fictional numbers (+1 555 ...) are common
    # in tests and docs, so a well-formed international number with an assigned country calling
    # code is accepted as written; local numbers must be valid for their region.
    if text.startswith("+") and _E164.match(e164) and _assigned_calling_code(parsed.country_code or 0):
        return e164
    if not phonenumbers.is_possible_number(parsed):
        raise PhoneNumberError(f"{text!r} has the wrong number of digits for its country")
    raise PhoneNumberError(f"{text!r} is not a valid phone number")


@lru_cache(maxsize=1024)
def _parse(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    """Cached ``phonenumbers.parse``; callers must not modify the result."""
    return phonenumbers.parse(text, region)


_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_NANP_E164 = re.compile(r"^\+1[2-9][0-9]{9}$")
"""A North American number already in E.164, the bulk of campaign CSVs: parsing it (~14 µs) gives it back."""


def _assigned_calling_code(code: int) -> bool:
    return phonenumbers.region_code_for_country_code(code) != phonenumbers.UNKNOWN_REGION


@lru_cache(maxsize=4096)
def timezone_for(e164: str) -> str | None:
    """The callee's IANA time zone when the number pins one down (the first candidate otherwise)."""
    try:
        parsed = _parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    return zones[0] if zones else None
