"""Customer URLs are checked when they are saved (webhook targets, dynamic context, later
tools), so a URL that could never be fetched is refused with a 422 that says why, not found
out on the first call."""

from __future__ import annotations

import asyncio

from callwright.net import UrlRefused, check_url
from callwright.services.errors import InvalidInput

URL_CHECK_TIMEOUT_S = 5.0


async def check_customer_url(url: str, *, allow_private: bool, loc: list[str | int]) -> None:
    """Refuse a private address or a bad URL. A name that does not resolve (yet), or a resolver
    that does not answer in time, is accepted: every request checks the address again, so that
    is no way around the guard, and a DNS hiccup does not block saving."""
    try:
        await asyncio.wait_for(check_url(url, allow_private=allow_private), URL_CHECK_TIMEOUT_S)
    except TimeoutError:
        return
    except UrlRefused as exc:
        if exc.kind == "unresolvable":
            return
        raise InvalidInput(loc, exc.message, "url_refused") from None
