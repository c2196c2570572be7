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

A grammar forces every sound into its words, so it cannot tell "uh-huh" from "no" when the caller
talks over the agent. A grammar utterance keeps its audio, and when the engine asks for the words
(``request_partial``), Whisper hears them; the turn's answer is still the grammar's.
"""

from __future__ import annotations

from callwright.domain.expectation import Expectation, ExpectKind
from callwright.voice.stt.base import Transcriber, Transcript, Utterance
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
            return GrammarWithWords(self.grammar.utterance(expect), self.open_speech)
        return self.open_speech.utterance(expect)


MAX_KEPT_BYTES = 10 * 16000 * 2  # 10 s at 16 kHz: speech over the agent is judged well before


class GrammarWithWords:
    """A grammar utterance that can still say which words were spoken, through open speech."""

    def __init__(self, grammar: Utterance, open_speech: Transcriber) -> None:
        self._grammar = grammar
        self._open_speech = open_speech
        self._kept = bytearray()
        self._words: Utterance | None = None

    def push(self, pcm: bytes) -> None:
        self._grammar.push(pcm)
        if self._words is not None:
            self._words.push(pcm)
        elif len(self._kept) < MAX_KEPT_BYTES:
            self._kept += pcm

    def partial(self) -> str | None:
        """Open speech's words once they were asked for (a grammar's forced words are no
        evidence of what was said), else the grammar's hypothesis at the pause."""
        if self._words is not None:
            return self._words.partial()
        return self._grammar.partial()

    def request_partial(self) -> bool:
        if self._words is None:
            self._words = self._open_speech.utterance(None)
            self._words.push(bytes(self._kept))
            self._kept = bytearray()
        return self._words.request_partial()

    def pause(self) -> None:
        self._grammar.pause()

    def resume(self) -> None:
        self._grammar.resume()

    async def finish(self) -> Transcript:
        self._close_words()
        return await self._grammar.finish()

    def close(self) -> None:
        self._close_words()
        self._grammar.close()

    def _close_words(self) -> None:
        words, self._words = self._words, None
        self._kept = bytearray()
        if words is not None:
            words.close()
