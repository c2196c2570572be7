"""One streamed chat-completion request: content deltas as they arrive, tool calls assembled from
their pieces, and every way a provider can fail turned into one ``ModelFailure``.

Our own clock bounds the waits (the first chunk, then each next one, within ``timeout_s``): an
HTTP read timeout would let a server that trickles a byte a minute hold the caller in silence.
The ``openai`` client's own timeout is set a little above, as a backstop.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionToolUnionParam

MAX_REASON_CHARS = 200
_KEY_LIKE = re.compile(r"\b(?:sk|pk|gsk)-[A-Za-z0-9_\-*.]{6,}")


class ModelFailure(Exception):
    """The model server did not give a usable reply; ``str()`` is a short reason for the record."""


@dataclass
class DraftToolCall:
    """A tool call as its streamed pieces arrive (keyed by the chunk's ``index``)."""

    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass
class StreamedReply:
    """What one request produced so far: the caller reads it after (or during) the stream."""

    content: str = ""
    tool_calls: dict[int, DraftToolCall] = field(default_factory=dict)
    finish_reason: str | None = None
    started: float = field(default_factory=time.monotonic)
    first_delta: float | None = None
    finished: float | None = None

    def ttft_ms(self) -> float | None:
        return None if self.first_delta is None else round((self.first_delta - self.started) * 1000, 1)

    def total_ms(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return round((end - self.started) * 1000, 1)

    def add(self, chunk: ChatCompletionChunk) -> str:
        """Fold one chunk in; return its content delta ('' when none)."""
        delta_text = ""
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta is not None and delta.content:
                delta_text += delta.content
            for piece in (delta.tool_calls if delta is not None else None) or []:
                draft = self.tool_calls.setdefault(piece.index, DraftToolCall())
                if piece.id and not draft.id:
                    draft.id = piece.id
                function = piece.function
                if function is not None:
                    if function.name and function.name != draft.name:
                        draft.name += function.name
                    if function.arguments:
                        draft.arguments += function.arguments
                if self.first_delta is None:
                    self.first_delta = time.monotonic()
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        if delta_text:
            self.content += delta_text
            if self.first_delta is None:
                self.first_delta = time.monotonic()
        return delta_text


def redact(text: str, secret: str) -> str:
    """A reason fit for the record: short, without the key (a 401 body may quote it)."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "****")
    text = _KEY_LIKE.sub("****", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def failure_reason(exc: BaseException, timeout_s: float, first: bool) -> str:
    """Why a request failed, in a few words."""
    if isinstance(exc, TimeoutError):
        what = "no reply" if first else "the stream stalled"
        return f"{what} within {timeout_s:g} s"
    if isinstance(exc, openai.APIStatusError):
        message = exc.message or ""
        body = exc.body
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message = body["message"]
        return f"HTTP {exc.status_code}: {message}"
    if isinstance(exc, openai.APITimeoutError):
        return "the request timed out"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        return f"connection error{detail}"
    if isinstance(exc, ValueError):  # a chunk that is not JSON
        return f"invalid response: {exc}"
    return f"{type(exc).__name__}: {exc}"


def new_client(base_url: str, api_key: str, timeout_s: float) -> AsyncOpenAI:
    """A client for one endpoint; no retries (the fallback model is our retry) and a backstop
    timeout a little above ours."""
    return AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout_s + 1.0)


async def stream_reply(
    client: AsyncOpenAI,
    *,
    model: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    temperature: float,
    max_tokens: int,
    timeout_s: float,
    reply: StreamedReply,
) -> AsyncGenerator[str, None]:
    """Yield the reply's content deltas while filling ``reply``; raise ``ModelFailure`` (with the
    key redacted) on any provider failure, including a stream that ends before it finishes."""
    stream: openai.AsyncStream[ChatCompletionChunk] | None = None
    first = True
    try:
        try:
            async with asyncio.timeout(timeout_s):
                stream = await client.chat.completions.create(
                    model=model,
                    messages=cast("list[ChatCompletionMessageParam]", messages),
                    tools=cast("list[ChatCompletionToolUnionParam]", tools) if tools else openai.omit,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    stream=True,
                )
                chunk = await anext(stream, None)
            while chunk is not None:
                first = False
                delta = reply.add(chunk)
                if delta:
                    yield delta
                async with asyncio.timeout(timeout_s):
                    chunk = await anext(stream, None)
        except (openai.OpenAIError, TimeoutError, ValueError, OSError) as exc:
            raise ModelFailure(redact(failure_reason(exc, timeout_s, first), client.api_key)) from exc
        if reply.finish_reason is None:
            raise ModelFailure("the stream ended before the reply was finished")
        reply.finished = time.monotonic()
    finally:
        if reply.finished is None:
            reply.finished = time.monotonic()
        if stream is not None:
            await _close(stream)


async def _close(stream: openai.AsyncStream[ChatCompletionChunk]) -> None:
    """Release the connection; a close that fails (the peer is gone) changes nothing."""
    try:
        await stream.close()
    except Exception:
        return


def tool_call_list(reply: StreamedReply, prefix: str) -> list[DraftToolCall]:
    """The assembled tool calls in index order; a call the server sent without an id gets one."""
    calls = []
    for index in sorted(reply.tool_calls):
        draft = reply.tool_calls[index]
        if not draft.id:
            draft.id = f"{prefix}_{index}"
        calls.append(draft)
    return calls


def assistant_tool_calls(calls: list[DraftToolCall]) -> list[dict[str, Any]]:
    """The ``tool_calls`` of the assistant message that goes back into the history."""
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": _json_or_empty(c.arguments)}}
        for c in calls
    ]


def _json_or_empty(text: str) -> str:
    """Arguments kept in the history must parse: some servers' chat templates load them (the
    model was told about the bad ones in the tool result)."""
    try:
        json.loads(text)
    except ValueError:
        return "{}"
    return text
