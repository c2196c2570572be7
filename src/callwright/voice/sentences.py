"""Cut streamed text into sentences, so speech can start before the whole reply exists.

Flows hand over whole texts; LLMs stream tokens. Both go through :class:`SentenceSplitter`,
which returns each sentence as soon as its end is certain. A sentence ends at ``. ! ? ;`` followed
by white space, and at every newline. A full stop does not end one when it belongs to a number
("3.5", "$500.00"), a title or abbreviation ("Dr.", "Mr.", "e.g."), an initial ("J. Smith"), a
list marker ("1. First"), or when the next word starts in lower case ("at 5 p.m. tomorrow").

Deciding needs the character after the mark (and, after a full stop, the next word's first
letter), so the end of the buffer is held until more text arrives or :meth:`flush` is called.
With LLM tokens (" The" carries its space) that costs nothing: the token that proves the
end is the next one.
"""

from __future__ import annotations

import re

_MARKS = ".!?;"
_CLOSERS = "\"')]}”’»"
# Words that take a full stop and are followed by more of the same sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms mx dr prof rev hon sr jr st mt ft capt col gen lt sgt vs etc e.g i.e eg ie "
    "approx dept est fig no nos vol ref tel ext inc ltd co corp jan feb mar apr jun jul aug sep "
    "sept oct nov dec mon tue tues wed thu thur thurs fri sat sun".split()
)
# Abbreviations that also close sentences often enough that only the case of the next word decides.
_ALSO_ENDINGS = frozenset("etc inc ltd co corp no".split())
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


class SentenceSplitter:
    """Feed text with :meth:`push`; get back the sentences it completed."""

    def __init__(self) -> None:
        self._buf = ""
        self._scan = 0  # everything before this index holds no sentence end

    def push(self, text: str) -> list[str]:
        self._buf += text
        sentences: list[str] = []
        while (end := self._next_end()) is not None:
            sentence = self._buf[:end].strip()
            self._buf = self._buf[end:]
            self._scan = 0
            if sentence:
                sentences.append(sentence)
        return sentences

    def flush(self) -> list[str]:
        """Whatever is left, as a last sentence; the splitter is then empty."""
        rest = self._buf.strip()
        self._buf = ""
        self._scan = 0
        return [rest] if rest else []

    def _next_end(self) -> int | None:
        """Index just past the first certain sentence end, or None while none is certain."""
        buf = self._buf
        n = len(buf)
        i = self._scan
        while i < n:
            c = buf[i]
            if c == "\n":
                return i + 1
            if c not in _MARKS:
                i += 1
                continue
            j = i + 1
            while j < n and (buf[j] in _MARKS or buf[j] in _CLOSERS):
                j += 1
            if j == n:  # the mark ends the text so far: wait for what follows
                self._scan = i
                return None
            if not buf[j].isspace():  # 3.5, e.g, example.com, "?!x"
                i = j
                continue
            if set(buf[i:j]) - set(_CLOSERS) == {"."}:
                verdict = self._full_stop_ends(i, j)
                if verdict is None:
                    self._scan = i
                    return None
                if not verdict:
                    i = j
                    continue
            return j
        self._scan = n
        return None

    def _full_stop_ends(self, i: int, j: int) -> bool | None:
        """Does the full stop at ``i`` (marks and closers up to ``j``) end a sentence?"""
        buf = self._buf
        before = buf[:i]
        word = _WORD_BEFORE.search(before)
        token = word.group(1) if word else ""
        lowered = token.lower()
        if lowered in _ABBREVIATIONS and lowered not in _ALSO_ENDINGS and j == i + 1:
            return False
        if len(token) == 1 and token.isupper() and j == i + 1:  # an initial: "J. Smith"
            return False
        if before.strip().isdigit():  # a list marker: "1. First, ..."
            return False
        k = j
        while k < len(buf) and buf[k].isspace():
            if buf[k] == "\n":
                return True
            k += 1
        if k == len(buf):
            return None
        return not buf[k].islower()
