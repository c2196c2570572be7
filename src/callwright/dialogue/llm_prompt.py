"""The system message of an LLM conversation: the agent's instructions, then what the model
needs to know about this call and how to talk on a phone line.

The instructions come first and verbatim (the rendered prompt plus its context sections), so
what the user wrote is exactly what the model reads. The sections after it are added by the
platform: the call's variables (a prompt that forgot to mention ``{{ amount }}`` still lets the
model answer about it), the memory of an earlier attempt, and a voice-style note, because text
that reads well on a screen (lists, markdown, "$1,250.00") sounds wrong through TTS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_VALUE_CHARS = 500
"""A variable's value is cut to this many characters: the details are a reminder, not a dump."""

MAX_KEYS = 60
"""At most this many variables are listed (a big dynamic-context response would drown the prompt)."""

SKIPPED_KEYS = frozenset({"contact", "collected_data", "context"})
"""Not listed as details: ``contact`` repeats the flattened contact fields, ``collected_data``
has its own section, ``context`` is already a section of the instructions."""

VOICE_STYLE = (
    "## How to speak\n"
    "Your replies are spoken aloud on a phone call. Keep sentences short and natural, one idea at a "
    "time. Never use markdown, bullet points, lists, emojis or headings. Say numbers, amounts, dates "
    "and times the way a person would say them out loud. If you did not understand the caller, ask "
    "them to repeat."
)

_LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "tr": "Turkish", "ru": "Russian", "ar": "Arabic",
    "hi": "Hindi", "ja": "Japanese", "ko": "Korean", "zh": "Chinese",
}


def language_name(code: str) -> str:
    """``es-MX`` → ``Spanish (es-MX)``; an unknown code is given as is (models know the codes)."""
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    name = _LANGUAGE_NAMES.get(primary)
    return f"{name} ({code.strip()})" if name else code.strip()


def _one_line(value: Any) -> str:
    """A value as one bounded line: a newline in a value must not start a fake section."""
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    text = " ".join(text.split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def details_section(variables: Mapping[str, Any]) -> str | None:
    """The call's variables as ``key: value`` lines, or None when there are none to show."""
    lines: list[str] = []
    for key, value in variables.items():
        if key in SKIPPED_KEYS or value is None or value == "":
            continue
        if len(lines) >= MAX_KEYS:
            break
        lines.append(f"{_one_line(str(key))[:100]}: {_one_line(value)}")
    if not lines:
        return None
    return "## Call details\n" + "\n".join(lines)


def _speak_in(retry_context: Mapping[str, Any] | None, language: str) -> str | None:
    wanted = (retry_context or {}).get("language")
    if isinstance(wanted, str) and wanted.strip():
        return wanted
    if language.strip() and not language.strip().lower().startswith("en"):
        return language
    return None


def follow_up_section(retry_context: Mapping[str, Any] | None) -> str | None:
    """What an earlier attempt learned, so the model does not ask again; None for a first call."""
    if not retry_context:
        return None
    lines = ["## Follow-up call", "This is a follow-up to an earlier call with the same person."]
    collected = retry_context.get("collected_data")
    if collected:
        data = json.dumps(collected, ensure_ascii=False, separators=(",", ":"), default=str)
        lines.append(f"Already collected in the earlier call (do not ask for it again): {data[:4000]}")
    previous = retry_context.get("previous_call_id")
    if previous:
        lines.append(f"Previous call id: {_one_line(previous)}")
    stage = retry_context.get("stage_id")
    if stage:
        lines.append(f"The earlier call reached the stage: {_one_line(stage)}")
    return "\n".join(lines)


def build_system_message(
    instructions: str,
    variables: Mapping[str, Any],
    retry_context: Mapping[str, Any] | None = None,
    language: str = "en-US",
) -> str:
    """The whole system message; it begins with ``instructions`` exactly as given."""
    sections = [
        details_section(variables),
        follow_up_section(retry_context),
    ]
    speak = _speak_in(retry_context, language)
    if speak:
        sections.append(f"## Language\nSpeak in {language_name(speak)}.")
    sections.append(VOICE_STYLE)
    extra = "\n\n".join(s for s in sections if s)
    if not instructions:
        return extra
    return f"{instructions}\n\n{extra}"
