"""Model clients shared by every conversation of a process, one per server and key.

Building an ``AsyncOpenAI`` client loads a certificate bundle (~25 ms), and the first one pays
for the package's lazy set-up too. Done on the event loop for every call, that stalls every
other call's audio; so a client is built once, in a worker thread, and reused. The runtime
owns the pool (nothing lives in process globals) and closes it at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib

from openai import AsyncOpenAI

from callwright.dialogue.llm_endpoint import ModelEndpoint
from callwright.dialogue.llm_stream import ModelFailure, new_client


def _build(endpoint: ModelEndpoint, timeout_s: float) -> AsyncOpenAI:
    client = new_client(endpoint.base_url, endpoint.api_key, timeout_s)
    _ = client.chat.completions  # the package loads its resources on first access: here, not on the loop
    return client


class ModelClients:
    """``get`` returns the client for an endpoint, building it off the loop the first time."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, float], AsyncOpenAI] = {}
        self._building: dict[tuple[str, str, float], asyncio.Future[AsyncOpenAI]] = {}

    async def get(self, endpoint: ModelEndpoint, timeout_s: float) -> AsyncOpenAI:
        key = (endpoint.base_url, endpoint.api_key, timeout_s)
        client = self._clients.get(key)
        if client is not None:
            return client
        pending = self._building.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(_build, endpoint, timeout_s))
            self._building[key] = pending
        try:
            client = await asyncio.shield(pending)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a server address the client cannot use is a failed request
            self._building.pop(key, None)
            raise ModelFailure(f"cannot use the model server ({type(exc).__name__})") from exc
        self._clients[key] = client
        self._building.pop(key, None)
        return client

    @property
    def empty(self) -> bool:
        return not self._clients

    async def aclose(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
