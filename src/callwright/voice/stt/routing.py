"""The embedded default: each utterance goes to the recogniser that does its kind of answer best.

Measured over the phone line (bench/stt_accuracy.py, 4 espeak voices, answers as the flow parses
them; pocketsphinx vs Whisper tiny.en):
- yes/no: 96 % vs 76 % right, finish 0.5 ms vs ~450 ms; choices: 80–88 % vs 31–35 %. Under a
  small grammar pocketsphinx is more accurate, and its text is ready as the turn ends (it decodes
  while the caller speaks) where Whisper needs ~0.45 s of CPU per utterance. These stay on it.
- digits: pocketsphinx is not as accurate (WER 38 % vs 14 %, answers 38 % vs 69 %), so digits go
  to Whisper (and usually arrive as key presses anyway).
- open speech: WER 80 % vs 28 %. Numbers and dates are said in too many ways for a grammar
  ("about two hundred", "the 21st I think"); the bench's in-grammar phrases favour pocketsphinx
  there on espeak voices, a voice Whisper is known to do badly on, so they go to Whisper with
  the open speech. Turns with no expectation (every LLM turn) go to Whisper.
A choice whose words are all unknown to pocketsphinx's dictionary has no grammar: Whisper.
"""

from __future__ import annotations

from callwright.domain.expectation import Expectation, ExpectKind
from callwright.voice.stt.base import Transcriber, Utterance
from callwright.voice.stt.grammars import grammar_for
from callwright.voice.stt.pocketsphinx import PocketsphinxTranscriber

GRAMMAR_KINDS: frozenset[ExpectKind] = frozenset({"yes_no", "choice"})


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
