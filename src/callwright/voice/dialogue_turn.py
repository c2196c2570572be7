"""One dialogue turn as speech: iterate the dialogue's events, hand sentences to the voice.

Flows yield whole texts and LLMs stream tokens; both go through the sentence splitter, so the
first sentence is spoken as soon as it is complete. A ``Say`` whose text ends a sentence is
flushed at once (a flow node's text is complete; holding it for the next event would delay
speech for nothing).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from callwright.dialogue.base import DialogueEvent, End, Listen, Say
from callwright.voice.sentences import SentenceSplitter

SENTENCE_END = (".", "!", "?", "…", '."', '!"', '?"')


async def speak_turn(
    events: AsyncIterator[DialogueEvent],
    say: Callable[[str], None],
    on_first_say: Callable[[], None] | None = None,
) -> Listen | End | None:
    """Speak the turn's sentences through ``say``; return how it ended (None: the events ran
    out without a ``Listen`` or ``End``). Dialogue errors propagate; the iterator is closed on
    every exit, including cancellation (barge-in)."""
    splitter = SentenceSplitter()
    first = True
    try:
        async for event in events:
            if isinstance(event, Say):
                if first and on_first_say is not None:
                    on_first_say()
                first = False
                for sentence in splitter.push(event.text):
                    say(sentence)
                if event.text.rstrip().endswith(SENTENCE_END):
                    for sentence in splitter.flush():
                        say(sentence)
            elif isinstance(event, Listen | End):
                for sentence in splitter.flush():
                    say(sentence)
                return event
        for sentence in splitter.flush():
            say(sentence)
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
