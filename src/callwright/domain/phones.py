"""Phone numbers: parse anything a user types into E.164, and find the callee's time zone."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as pn_timezone

_REGION_HINT = "a region code such as US or GB"


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
