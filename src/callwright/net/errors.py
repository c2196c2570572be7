"""The errors of the customer-URL client: one base type, with a short machine ``kind`` and a
message that says why in words (API 422s and delivery logs show it)."""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Errors


class FetchError(Exception):
    """Any failure of an outbound request. ``kind`` is a short machine code, ``message`` says why."""

    kind: str = "fetch_error"

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind


class UrlRefused(FetchError):
    """The URL may not be fetched: kinds ``bad_url``, ``not_public``, ``unresolvable``."""

    kind = "bad_url"


class InvalidHeader(FetchError, ValueError):
    """A request header is malformed or could inject another header (kind ``bad_header``)."""

    kind = "bad_header"


class FetchTimeout(FetchError):
    """Kinds ``connect_timeout`` (no connection in time) and ``timeout`` (total time exceeded)."""

    kind = "timeout"


class ResponseTooLarge(FetchError):
    """The response body is over the limit (kind ``too_large``); reading stopped there."""

    kind = "too_large"


class ConnectFailed(FetchError):
    """Kinds ``connect_failed`` (refused, unreachable, reset while sending) and ``tls``."""

    kind = "connect_failed"


class BadResponse(FetchError):
    """The server did not answer with valid HTTP/1.x (kind ``bad_response``)."""

    kind = "bad_response"
