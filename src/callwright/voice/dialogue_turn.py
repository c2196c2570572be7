"""One dialogue turn as speech: iterate the dialogue's events, hand sentences to the voice.

Flows yield whole texts and LLMs stream tokens; both go through the sentence splitter, so the
first sentence is spoken as soon as it is complete. A complete ``Say`` whose text ends a
sentence is flushed at once (a flow node's text is whole; holding it for the next event would
delay speech for nothing); an empty complete ``Say`` ends a streamed text and flushes the
rest. Actions (tool calls, key presses) go to ``on_action`` in order with the speech around
them: the text before a key press is flushed first, so it plays first.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from callwright.dialogue.base import DialogueEvent, End, Listen, PressDigits, Say, Transfer, TurnEnd
from callwright.voice.sentences import SentenceSplitter

SENTENCE_END = (".", "!", "?", "…", '."', '!"', '?"')

ActionHandler = Callable[[DialogueEvent], None]


async def speak_turn(
    events: AsyncIterator[DialogueEvent],
    say: Callable[[str], None],
    on_first_say: Callable[[], None] | None = None,
    on_action: ActionHandler | None = None,
) -> TurnEnd | None:
    """Speak the turn's sentences through ``say``; return how it ended (None: the events ran
    out without a ``Listen``, ``End`` or ``Transfer``). Dialogue errors propagate; the iterator
    is closed on every exit, including cancellation (barge-in)."""
    splitter = SentenceSplitter()
    first = True

    def speak(sentence: str) -> None:
        # The dialogue's part of the response time ends when the first sentence is speakable
        # (for an LLM: time to first token plus the tokens of that sentence).
        nonlocal first
        if first and on_first_say is not None:
            on_first_say()
        first = False
        say(sentence)

    def flush() -> None:
        for sentence in splitter.flush():
            speak(sentence)

    try:
        async for event in events:
            if isinstance(event, Say):
                if not event.text:
                    if event.complete:  # the end of a streamed text: what is left is whole
                        flush()
                    continue
                for sentence in splitter.push(event.text):
                    speak(sentence)
                if event.complete and event.text.rstrip().endswith(SENTENCE_END):
                    flush()
            elif isinstance(event, Listen | End | Transfer):
                flush()
                return event
            else:
                if isinstance(event, PressDigits):
                    flush()
                if on_action is not None:
                    on_action(event)
        flush()
        return None
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


def split_text(text: str) -> list[str]:
    """All sentences of a finished text (a voicemail message)."""
    splitter = SentenceSplitter()
    return [*splitter.push(text), *splitter.flush()]
