"""Twilio's REST API for calls: create (``POST .../Calls.json``) and update (``POST
.../Calls/{sid}.json``), form-encoded with basic auth. Failures become ``TwilioRestError`` with
what Twilio said; a 429 whose ``Retry-After`` is short is waited out and retried."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

RETRYABLE_WAIT_S = 5.0
"""A 429 asking to wait longer than this (or a third 429) fails the request instead."""
MAX_ATTEMPTS = 3


class TwilioRestError(ValueError):
    """Twilio refused or failed a request. ``reason``: ``unauthorized``, ``rate_limited``,
    ``rejected`` (a 4xx such as a bad number or unverified caller ID), ``server_error`` or
    ``timeout``; ``code`` is Twilio's error code when it gave one."""

    def __init__(self, reason: str, message: str, *, http_status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.http_status = http_status
        self.code = code


def _reason(status: int) -> str:
    if status in (401, 403):
        return "unauthorized"
    if status == 429:
        return "rate_limited"
    return "server_error" if status >= 500 else "rejected"


def _retry_after_s(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


class TwilioRest:
    """One account's calls on Twilio's REST API (``api_base`` is a local fake in tests)."""

    def __init__(self, account_sid: str, auth_token: str, api_base: str, timeout_s: float = 10.0) -> None:
        self.account_sid = account_sid
        self._calls_url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Calls"
        self._client = httpx.AsyncClient(auth=(account_sid, auth_token), timeout=timeout_s)

    async def create_call(self, params: dict[str, str | list[str]]) -> dict[str, Any]:
        """Place a call; the answer is Twilio's Call resource (``sid``, ``status``, ...)."""
        return await self._post(f"{self._calls_url}.json", params)

    async def update_call(self, call_sid: str, params: dict[str, str | list[str]]) -> dict[str, Any]:
        """End (``Status=completed``) or redirect (``Twiml=...``) a call."""
        return await self._post(f"{self._calls_url}/{call_sid}.json", params)

    async def _post(self, url: str, params: dict[str, str | list[str]]) -> dict[str, Any]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                response = await self._client.post(url, data=params)
            except httpx.TimeoutException as exc:
                raise TwilioRestError("timeout", f"Twilio did not answer in time ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise TwilioRestError("server_error", f"Twilio unreachable: {exc!r}") from exc
            if response.status_code < 300:
                body: dict[str, Any] = response.json()
                return body
            wait = _retry_after_s(response)
            if response.status_code == 429 and wait is not None and wait <= RETRYABLE_WAIT_S and attempt < MAX_ATTEMPTS:
                await asyncio.sleep(wait)
                continue
            raise self._error(response)
        raise AssertionError("unreachable")

    @staticmethod
    def _error(response: httpx.Response) -> TwilioRestError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        reason = _reason(response.status_code)
        text = f"Twilio {reason} (HTTP {response.status_code}"
        text += f", code {code})" if code else ")"
        if message:
            text += f": {message}"
        number = code if isinstance(code, int) else None
        return TwilioRestError(reason, text, http_status=response.status_code, code=number)

    async def aclose(self) -> None:
        await self._client.aclose()
