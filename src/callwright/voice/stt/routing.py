"""The embedded default: each utterance goes to the recogniser that does its kind of answer best.

Measured over the phone line (bench/stt_accuracy.py, espeak voices): under a small grammar
(yes/no, a choice, digits) pocketsphinx is as accurate as Whisper tiny.en or better, and its text is
ready as the turn ends (it decodes while the caller speaks; finish takes milliseconds) where
Whisper needs a few hundred milliseconds of CPU per utterance. On open speech pocketsphinx is
useless (WER ~75 %) and Whisper is not. So: grammar kinds go to pocketsphinx when it can build
the grammar; open speech, numbers and dates (said in too many ways for a grammar to hold) and
turns with no expectation (every LLM turn) go to Whisper.
"""

from __future__ import annotations

from callwright.domain.expectation import Expectation, ExpectKind
from callwright.voice.stt.base import Transcriber, Utterance
from callwright.voice.stt.grammars import grammar_for
from callwright.voice.stt.pocketsphinx import PocketsphinxTranscriber

GRAMMAR_KINDS: frozenset[ExpectKind] = frozenset({"yes_no", "choice", "digits"})


class RoutingTranscriber:
    """Pocketsphinx under a grammar for ``grammar_kinds``; ``open_speech`` for everything else."""

    def __init__(
        self,
        grammar: PocketsphinxTranscriber,
        open_speech: Transcriber,
        grammar_kinds: frozenset[ExpectKind] = GRAMMAR_KINDS,
    ) -> None:
        if grammar.sample_rate != open_speech.sample_rate:
            raise ValueError("both recognisers must take the same audio format")
        self.grammar = grammar
        self.open_speech = open_speech
        self.grammar_kinds = grammar_kinds
        self.sample_rate = grammar.sample_rate

    def uses_grammar(self, expect: Expectation | None) -> bool:
        """Whether this expectation goes to the grammar recogniser (a choice whose words are all
        unknown to its dictionary has no grammar, and goes to open speech)."""
        if expect is None or expect.kind not in self.grammar_kinds:
            return False
        return grammar_for(expect, self.grammar.pool.lexicon.__contains__) is not None

    def utterance(self, expect: Expectation | None) -> Utterance:
        if self.uses_grammar(expect):
            return self.grammar.utterance(expect)
        return self.open_speech.utterance(expect)
