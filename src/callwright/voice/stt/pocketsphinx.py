"""Offline speech-to-text with pocketsphinx, steered by a per-turn grammar.

Measured choices (bench/stt_accuracy.py, notes in the module's report):
- Phone audio upsampled to 16 kHz goes to the shipped 16 kHz acoustic model as is. Running the
  model at 8 kHz (samprate 8000, nfft 256, upperf 3500–4000) moves the mel filters away from
  those it was trained with, and yes/no polarity fell from ~90 % to ~40–60 %.
- The acoustic model is memory-mapped, so it is shared between decoders by the OS. What is not
  shared is the pronunciation dictionary (28 MB and 0.2 s per decoder for the full CMUdict) and
  the language model (~95 MB, 0.6 s). Grammar decoders therefore start with an empty dictionary
  and get only their grammar's words, read once per process from CMUdict (about 14 ms and
  5 MB per decoder). Only open-vocabulary decoders load the full dictionary and the LM.
- Decoders are pooled per process. An utterance borrows one for its whole life and gives it
  back on finish, so a decoder never serves two utterances at once; grammars are added to a
  decoder the first time it needs them and kept, by name.
- Audio is decoded as it arrives, a few frames at a time, so finish() only flushes the tail
  (well under the time of a loop iteration for a grammar, ~14 ms open), and does it inline.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pocketsphinx as ps

from callwright.domain.expectation import Expectation
from callwright.voice.stt.base import TranscriberError, Transcript
from callwright.voice.stt.grammars import Grammar, grammar_for

FEED_CHUNK_BYTES = 640 * 4  # decode every 80 ms: fewer calls into C, still incremental
MAX_GRAMMARS_PER_DECODER = 32
# Cepstral mean of espeak speech after the G.711 line, measured. A fresh decoder starts from it
# rather than the model's default (40,3,-1), which cost 20 of 180 yes/no answers on first use;
# it keeps adapting to each caller from there.
PHONE_CMN_INIT = "52.94,22.11,-26.05,43.17,-27.35,6.23,-5.08,-17.69,0.59,-13.76,13.39,-6.95,-4.78"
_ALT_PRON = re.compile(r"\(\d+\)$")

# Open vocabulary with default beams decodes at 24 ms per 20 ms frame and takes 0.7 s to
# finish: slower than real time. These beams give 5.9 ms per frame and ~14 ms to finish, for
# WER 76 % instead of 56 % on synthetic phone speech (bench/stt_accuracy.py). Override per pool.
OPEN_VOCABULARY_CONFIG: dict[str, object] = {
    "fwdflat": False,
    "bestpath": False,
    "maxhmmpf": 2000,
    "maxwpf": 5,
    "beam": 1e-40,
    "wbeam": 1e-20,
    "pbeam": 1e-40,
    "topn": 2,
}


def model_path(sub: str) -> str:
    """A file of the en-us model shipped inside the pocketsphinx wheel."""
    return str(Path(ps.get_model_path("en-us")) / sub)


class Lexicon:
    """CMUdict pronunciations, read once per process, for words a grammar needs."""

    def __init__(self, path: str | None = None) -> None:
        self._path = path or model_path("cmudict-en-us.dict")
        self._prons: dict[str, list[str]] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, list[str]]:
        with self._lock:
            if self._prons is None:
                prons: dict[str, list[str]] = {}
                with open(self._path, encoding="utf-8") as f:
                    for line in f:
                        word, _, phones = line.strip().partition(" ")
                        word = _ALT_PRON.sub("", word.split("#")[0])
                        prons.setdefault(word, []).append(phones.split("#")[0].strip())
                self._prons = prons
            return self._prons

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self._load()

    def pronunciations(self, word: str) -> list[str]:
        return self._load().get(word, [])


def _quiet(**kwargs: object) -> ps.Decoder:
    return ps.Decoder(loglevel="FATAL", cmninit=PHONE_CMN_INIT, **kwargs)


class _GrammarDecoder:
    """A decoder with a dictionary of only the grammar words it has been given."""

    def __init__(self, lexicon: Lexicon, scored: bool) -> None:
        # bestpath builds the lattice hyp() needs for a posterior; without it prob is always 1.
        self.decoder = _quiet(lm=None, dict=None, bestpath=scored)
        self.scored = scored
        self._lexicon = lexicon
        self._words: set[str] = set()
        self._searches: OrderedDict[str, None] = OrderedDict()

    def activate(self, grammar: Grammar) -> None:
        if grammar.name not in self._searches:
            self._add_words(grammar.words)
            if len(self._searches) >= MAX_GRAMMARS_PER_DECODER:
                old, _ = self._searches.popitem(last=False)
                self.decoder.remove_search(old)
            self.decoder.add_jsgf_string(grammar.name, grammar.jsgf)
            self._searches[grammar.name] = None
        self._searches.move_to_end(grammar.name)
        self.decoder.activate_search(grammar.name)

    def _add_words(self, words: frozenset[str]) -> None:
        new = [w for w in sorted(words) if w not in self._words]
        entries = [
            (w if i == 0 else f"{w}({i + 1})", phones)
            for w in new
            for i, phones in enumerate(self._lexicon.pronunciations(w))
        ]
        for n, (word, phones) in enumerate(entries):
            self.decoder.add_word(word, phones, n == len(entries) - 1)
        self._words.update(new)


class DecoderPool:
    """Per-process pools of grammar and open-vocabulary decoders, lent out one utterance at a time."""

    def __init__(
        self,
        lexicon: Lexicon | None = None,
        max_idle: int = 64,
        open_vocabulary_config: dict[str, object] | None = None,
    ) -> None:
        self.lexicon = lexicon or Lexicon()
        self._open_config = OPEN_VOCABULARY_CONFIG if open_vocabulary_config is None else open_vocabulary_config
        self._max_idle = max_idle
        self._grammar: dict[bool, list[_GrammarDecoder]] = {True: [], False: []}
        self._open: list[ps.Decoder] = []
        self._lock = threading.Lock()
        self.created = {"grammar": 0, "open": 0}

    def prewarm(self, grammar: int = 0, open_vocabulary: int = 0) -> None:
        """Create decoders ahead of the first calls (an open-vocabulary one takes ~0.6 s).

        ``grammar`` is per kind: that many scored and that many unscored grammar decoders.
        """
        grammar_decoders = [self._new_grammar(scored) for _ in range(grammar) for scored in (True, False)]
        open_decoders = [self._new_open() for _ in range(open_vocabulary)]
        # The lexicon (CMUdict, ~0.5 s to read) and the common grammars are loaded here too:
        # otherwise the first utterance does it inline, stalling every call on the event loop.
        common = [grammar_for(Expectation(kind), self.lexicon.__contains__) for kind in ("yes_no", "digits")]
        for g in grammar_decoders:
            for spec in common:
                if spec is not None and spec.scored == g.scored:
                    g.activate(spec)
            self.give_back_grammar(g)
        for d in open_decoders:
            self.give_back_open(d)

    def _new_grammar(self, scored: bool) -> _GrammarDecoder:
        self.created["grammar"] += 1
        return _GrammarDecoder(self.lexicon, scored)

    def _new_open(self) -> ps.Decoder:
        self.created["open"] += 1
        return _quiet(lm=model_path("en-us.lm.bin"), dict=model_path("cmudict-en-us.dict"), **self._open_config)

    def borrow_grammar(self, grammar: Grammar) -> _GrammarDecoder:
        with self._lock:
            idle = self._grammar[grammar.scored]
            decoder = idle.pop() if idle else None
        decoder = decoder or self._new_grammar(grammar.scored)
        decoder.activate(grammar)
        return decoder

    def give_back_grammar(self, decoder: _GrammarDecoder) -> None:
        with self._lock:
            idle = self._grammar[decoder.scored]
            if len(idle) < self._max_idle:
                idle.append(decoder)

    def borrow_open(self) -> ps.Decoder:
        with self._lock:
            decoder = self._open.pop() if self._open else None
        return decoder or self._new_open()

    def give_back_open(self, decoder: ps.Decoder) -> None:
        with self._lock:
            if len(self._open) < self._max_idle:
                self._open.append(decoder)


_default_pool: DecoderPool | None = None
_default_lock = threading.Lock()


def default_pool() -> DecoderPool:
    """The process-wide pool, so every transcriber shares loaded decoders."""
    global _default_pool
    with _default_lock:
        if _default_pool is None:
            _default_pool = DecoderPool()
        return _default_pool


class PocketsphinxUtterance:
    """One utterance on a borrowed decoder; audio is decoded as it is fed."""

    def __init__(
        self,
        decoder: ps.Decoder,
        interpret: Callable[[str], str],
        give_back: Callable[[], None],
    ) -> None:
        self._decoder = decoder
        self._interpret = interpret
        self._give_back: Callable[[], None] | None = give_back
        self._pending = bytearray()
        self._started = False
        self._partial: str | None = None

    def push(self, pcm: bytes) -> None:
        if self._give_back is None:
            raise TranscriberError("utterance already finished")
        self._pending += pcm
        if len(self._pending) >= FEED_CHUNK_BYTES:
            self._process()

    def _process(self) -> None:
        usable = len(self._pending) & ~1
        if not usable:
            return
        if not self._started:
            self._decoder.start_utt()
            self._started = True
        self._decoder.process_raw(bytes(self._pending[:usable]), False, False)
        del self._pending[:usable]

    def partial(self) -> str | None:
        """The hypothesis taken at the last pause (a mid-utterance hypothesis costs a search, so
        it is taken once per pause, not per frame); None while the caller speaks."""
        return self._partial

    def request_partial(self) -> bool:
        return False  # under a grammar every sound is forced into its words: no evidence of words

    def pause(self) -> None:
        """Take the hypothesis so far: a grammar already satisfied ("yes") ends the turn sooner."""
        if self._give_back is None:
            return
        self._process()
        hyp = self._decoder.hyp() if self._started else None
        self._partial = self._interpret(hyp.hypstr) if hyp is not None and hyp.hypstr.strip() else ""

    def resume(self) -> None:
        self._partial = None

    async def finish(self) -> Transcript:
        return self.finish_now()

    def finish_now(self) -> Transcript:
        """``finish`` without the event loop (benchmarks, tools)."""
        if self._give_back is None:
            raise TranscriberError("utterance already finished")
        try:
            self._process()
            if not self._started:
                return Transcript("")
            self._decoder.end_utt()
            self._started = False
            hyp = self._decoder.hyp()
            if hyp is None or not hyp.hypstr.strip():
                return Transcript("")
            return Transcript(self._interpret(hyp.hypstr), _confidence(hyp))
        finally:
            self.close()

    def close(self) -> None:
        """Give the decoder back without a result (the call ended mid-utterance)."""
        if self._give_back is None:
            return
        if self._started:
            self._started = False
            self._decoder.end_utt()
        give_back, self._give_back = self._give_back, None
        give_back()


def _confidence(hyp: ps.Hypothesis) -> float | None:
    """Posterior probability of the hypothesis, where pocketsphinx computes one."""
    prob = float(hyp.prob)
    return prob if 0.0 < prob < 1.0 else None


class PocketsphinxTranscriber:
    """Transcriber on the shipped en-us model: grammars for structured answers, LM for the rest."""

    sample_rate = 16000  # the shipped acoustic model's rate (see the module notes)

    def __init__(self, pool: DecoderPool | None = None) -> None:
        self.pool = pool or default_pool()

    def utterance(self, expect: Expectation | None) -> PocketsphinxUtterance:
        grammar = grammar_for(expect, self.pool.lexicon.__contains__)
        if grammar is None:
            open_decoder = self.pool.borrow_open()
            return PocketsphinxUtterance(open_decoder, _open_text, lambda: self.pool.give_back_open(open_decoder))
        grammar_decoder = self.pool.borrow_grammar(grammar)
        return PocketsphinxUtterance(
            grammar_decoder.decoder,
            grammar.interpret,
            lambda: self.pool.give_back_grammar(grammar_decoder),
        )


def _open_text(hypothesis: str) -> str:
    """LM hypotheses may carry alternate-pronunciation markers and fillers; drop them."""
    words = [_ALT_PRON.sub("", w) for w in hypothesis.split()]
    return " ".join(w for w in words if not (w.startswith(("<", "[")) and w.endswith((">", "]"))))
