"""``X-Twilio-Signature``: Twilio signs each request with the account's auth token over the
full URL it requested plus the sorted POST parameters. Checked with the ``twilio`` package's
own validator, against the public URL (what Twilio saw), not the one this process received."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


def public_request_url(public_base: str, path: str, query: str) -> str:
    """The URL Twilio requested: the deployment's public base, this request's path and query."""
    return public_base.rstrip("/") + path + (f"?{query}" if query else "")


def is_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """False for a missing signature, a missing auth token, or any mismatch."""
    if not signature or not auth_token:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


def sign(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send (used by the local Twilio-protocol server in tests)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))
