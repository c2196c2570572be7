"""Accuracy and cost of the offline transcriber, per expectation kind.

Phrases are spoken by espeak-ng in several voices, sent over a G.711 μ-law 8 kHz line and back
to 16 kHz, and fed in 20 ms frames like the engine does. Also measures what capacity planning
needs: decoder creation time and memory, feed cost per frame, finish() latency.

    python bench/stt_accuracy.py [--voices N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.voice.conftest import through_phone_line

from callwright.domain.expectation import Expectation
from callwright.voice.audio import FRAME_BYTES
from callwright.voice.stt.grammars import NO_PHRASES, YES_PHRASES
from callwright.voice.stt.pocketsphinx import DecoderPool, PocketsphinxTranscriber
from callwright.voice.tts.espeak import EspeakSynthesizer
from common import latency_summary_ms, print_table, write_result

VOICES = ("en-us", "en", "en-us+f3", "en+m3", "en-us+f4", "en-gb-x-rp")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
CITIES = ("new york", "los angeles", "chicago", "san francisco")
SENTENCES = (
    "i would like to book an appointment for next week",
    "can you call me back tomorrow morning",
    "i already paid the bill last month",
    "please send me the details by email",
)

# (kind label, expectation, [(spoken, expected text)])
CASES: list[tuple[str, Expectation | None, list[tuple[str, str]]]] = [
    (
        "yes_no",
        Expectation("yes_no"),
        [(p, "yes") for p in YES_PHRASES] + [(p, "no") for p in NO_PHRASES],
    ),
    ("choice days", Expectation("choice", DAYS), [(d, d) for d in DAYS]),
    ("choice cities", Expectation("choice", CITIES), [(c, c) for c in CITIES]),
    (
        "digits(4)",
        Expectation("digits", length=4),
        [(s, s) for s in ("one two three four", "nine eight seven six", "five zero five one", "two four six eight")],
    ),
    (
        "number",
        Expectation("number"),
        [(s, s) for s in ("forty two", "seventeen", "two hundred and five", "three thousand", "ninety nine")],
    ),
    (
        "date",
        Expectation("date"),
        [(s, s) for s in ("tomorrow", "next friday", "the third of may", "monday", "june the tenth")],
    ),
    ("text (WER)", None, [(s, s) for s in SENTENCES]),
]


def _voice(synth: Any, voice: str) -> None:
    for name in ("set_voice", "voice"):
        if hasattr(synth, name) and callable(getattr(synth, name)):
            getattr(synth, name)(voice)
            return


def _errors(ref: str, hyp: str) -> int:
    r, h = ref.split(), hyp.split()
    row = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, row[0] = row[:], i
        for j in range(1, len(h) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return row[-1]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def decoder_costs(pool: DecoderPool, n: int = 5) -> dict[str, float]:
    """Creation time and resident memory per decoder (the acoustic model is mmapped and shared)."""
    pool.lexicon.pronunciations("yes")  # load CMUdict once, outside the figures
    out: dict[str, float] = {}
    for kind, make in (("grammar", lambda: pool.prewarm(grammar=1)), ("open", lambda: pool.prewarm(open_vocabulary=1))):
        count = n if kind == "grammar" else 2
        before, start = _rss_mb(), time.perf_counter()
        for _ in range(count):
            make()
        per = 2 * count if kind == "grammar" else count  # prewarm(grammar=1) makes a scored and a plain one
        out[f"{kind}_create_ms"] = round((time.perf_counter() - start) * 1000 / per, 1)
        out[f"{kind}_rss_mb"] = round((_rss_mb() - before) / per, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", type=int, default=4, help="how many espeak voices (1-6)")
    args = parser.parse_args()
    voices = VOICES[: max(1, min(args.voices, len(VOICES)))]

    pool = DecoderPool()
    start = time.perf_counter()
    pool.lexicon.pronunciations("yes")
    lexicon_ms = (time.perf_counter() - start) * 1000
    costs = decoder_costs(pool)
    transcriber = PocketsphinxTranscriber(pool)
    synth = EspeakSynthesizer()

    rows: list[tuple[str, str]] = []
    results: dict[str, Any] = {}
    for label, expect, phrases in CASES:
        right = total = word_errors = words = 0
        feed_s: list[float] = []
        finish_s: list[float] = []
        misses: list[list[str]] = []
        for voice in voices:
            _voice(synth, voice)
            for spoken, wanted in phrases:
                pcm = through_phone_line(bytes(6400) + synth.synthesize_sync(spoken) + bytes(9600))
                utterance = transcriber.utterance(expect)
                for i in range(0, len(pcm), FRAME_BYTES):
                    t0 = time.perf_counter()
                    utterance.push(pcm[i : i + FRAME_BYTES])
                    feed_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                text = utterance.finish_now().text
                finish_s.append(time.perf_counter() - t0)
                total += 1
                right += text == wanted
                word_errors += _errors(wanted, text)
                words += len(wanted.split())
                if text != wanted:
                    misses.append([voice, spoken, text])
        feed = sorted(feed_s)
        results[label] = {
            "utterances": total,
            "accuracy": round(right / total, 3),
            "wer": round(word_errors / words, 3),
            "feed_ms_per_frame_mean": round(sum(feed) / len(feed) * 1000, 3),
            "finish_ms": latency_summary_ms(finish_s),
            "misses": misses[:20],
        }
        rows.append(
            (
                label,
                f"acc {right}/{total} ({right / total:.0%})  WER {word_errors / words:.0%}  "
                f"feed {results[label]['feed_ms_per_frame_mean']:.2f} ms/frame  "
                f"finish p50 {results[label]['finish_ms']['p50']:.1f} ms "
                f"p99 {results[label]['finish_ms']['p99']:.1f} ms",
            )
        )
    rows.append(("CMUdict load (once per process)", f"{lexicon_ms:.0f} ms"))
    rows.append(("grammar decoder", f"{costs['grammar_create_ms']} ms, {costs['grammar_rss_mb']} MB RSS"))
    rows.append(("open-vocabulary decoder", f"{costs['open_create_ms']} ms, {costs['open_rss_mb']} MB RSS"))
    print_table(f"Offline STT over a μ-law line ({len(voices)} voices)", rows)
    path = write_result(
        "stt_accuracy",
        {"voices": list(voices), "lexicon_load_ms": round(lexicon_ms, 1), "decoders": costs, "kinds": results},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
