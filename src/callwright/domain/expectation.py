"""What the agent expects to hear next; steers recognition and parsing of the answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ExpectKind = Literal["yes_no", "choice", "digits", "number", "date", "text"]


@dataclass(frozen=True)
class Expectation:
    """The shape of the answer the dialogue is waiting for.

    The transcriber may turn it into a grammar or keyword hints; the dialogue uses it to
    parse what was heard. ``text`` means open speech.
    """

    kind: ExpectKind = "text"
    choices: tuple[str, ...] = field(default_factory=tuple)
    length: int | None = None
