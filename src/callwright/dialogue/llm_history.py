"""The conversation as chat messages, kept true to what happened on the call.

Two rules shape it. What the caller did not hear was not said: after a barge-in the assistant's
words are cut to the heard ones (``trim_to_heard``). What happened did happen: an assistant
message that asked for tools stays, and every tool call gets an answer (``insert_tool_result``,
``answer_unanswered``), because a server refuses a history with a tool call left unanswered.

Messages are plain JSON-safe dicts in the Chat Completions shape (they go into snapshots as
they are). An assistant's ``content`` is always a string here; ``request_messages`` turns it
into what a server accepts.
"""

from __future__ import annotations

import json
from typing import Any

Message = dict[str, Any]


def request_messages(system: str, messages: list[Message]) -> list[Message]:
    """The ``messages`` of a request: the system message, then the history without assistant
    messages that said and did nothing."""
    out: list[Message] = [{"role": "system", "content": system}]
    for message in messages:
        if message.get("role") == "assistant":
            content = message.get("content") or ""
            calls = message.get("tool_calls")
            if not content and not calls:
                continue
            item: Message = {"role": "assistant", "content": content or None}
            if calls:
                item["tool_calls"] = calls
            out.append(item)
        else:
            out.append(dict(message))
    return out


def _assistant_indexes(messages: list[Message], start: int) -> list[int]:
    return [i for i in range(start, len(messages)) if messages[i].get("role") == "assistant"]


def trim_to_heard(messages: list[Message], start: int, heard: str) -> None:
    """Make the assistant words from ``start`` on exactly ``heard``.

    The turn's assistant messages are refilled in order with the heard words, as many as each
    one had (speech is played in the order it was generated); words beyond go to the last one
    that kept any. Messages left without words are dropped, unless they carry tool calls (those
    happened, and their results follow them).
    """
    words = heard.split()
    indexes = _assistant_indexes(messages, start)
    position = 0
    last_kept: int | None = None
    for i in indexes:
        count = len(str(messages[i].get("content") or "").split())
        taken = words[position : position + count]
        position += len(taken)
        messages[i]["content"] = " ".join(taken)
        if taken:
            last_kept = i
    rest = words[position:]
    if rest:
        if last_kept is None and indexes:
            last_kept = indexes[0]
        if last_kept is None:
            messages.insert(start, {"role": "assistant", "content": " ".join(rest)})
        else:
            before = messages[last_kept]["content"]
            messages[last_kept]["content"] = " ".join([before, *rest]) if before else " ".join(rest)
    for i in reversed(indexes):
        if not messages[i].get("content") and not messages[i].get("tool_calls"):
            del messages[i]


def _owner(messages: list[Message], call_id: str) -> int | None:
    """The index of the assistant message that made the tool call ``call_id``."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if message.get("role") == "assistant":
            if any(call.get("id") == call_id for call in message.get("tool_calls") or []):
                return i
    return None


def insert_tool_result(messages: list[Message], call_id: str, content: str) -> None:
    """Put a tool's result right after its assistant message's other results (where a server
    expects it, even if the conversation moved on meanwhile)."""
    owner = _owner(messages, call_id)
    message = {"role": "tool", "tool_call_id": call_id, "content": content}
    if owner is None:
        return  # the call is not in the history (it was trimmed away): nothing to answer
    at = owner + 1
    while at < len(messages) and messages[at].get("role") == "tool":
        if messages[at].get("tool_call_id") == call_id:
            messages[at] = message
            return
        at += 1
    messages.insert(at, message)


def answered(messages: list[Message]) -> set[str]:
    return {str(m.get("tool_call_id")) for m in messages if m.get("role") == "tool"}


def unanswered(messages: list[Message]) -> list[str]:
    """Ids of tool calls in the history that have no result yet."""
    done = answered(messages)
    ids: list[str] = []
    for message in messages:
        if message.get("role") == "assistant":
            ids += [str(c.get("id")) for c in message.get("tool_calls") or [] if str(c.get("id")) not in done]
    return ids


def answer_unanswered(messages: list[Message], reason: str, skip: set[str] | frozenset[str] = frozenset()) -> None:
    """Give every tool call still without a result (other than ``skip``) an error result."""
    text = json.dumps({"error": reason})
    for call_id in unanswered(messages):
        if call_id not in skip:
            insert_tool_result(messages, call_id, text)
