"""Accuracy and cost of the offline transcribers, per expectation kind and per voice.

Phrases are spoken by espeak-ng in several voices (and by Piper, voice ``piper``, when the
optional extra is installed), sent over a G.711 μ-law 8 kHz line and back
to 16 kHz, and fed in 20 ms frames like the engine does, to each recogniser:
- ``pocketsphinx``: under the turn's grammar (open vocabulary for ``text``);
- ``whisper``: Whisper tiny.en (faster-whisper, int8, temperature 0, greedy), the same audio.

Two scores per kind: *answer accuracy* (the value the flow would store: ``parse_answer`` of the
text, compared with the value of the reference) and WER (after one normaliser for both:
lower case, no punctuation, numerals spelled out as the references say them). Also measures
what capacity planning needs: decoder creation time and memory, feed cost per frame, finish()
latency; for Whisper the decode time of each utterance. This is what decided the routing of the
embedded default transcriber (``voice/stt/routing.py``).

    python bench/stt_accuracy.py [--voices N] [--recognisers pocketsphinx,whisper] [--kinds text,yes_no] [--no-piper]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.voice.conftest import through_phone_line

from callwright.dialogue.answers import parse_answer
from callwright.dialogue.base import UserInput
from callwright.domain.expectation import Expectation
from callwright.voice.audio import FRAME_BYTES
from callwright.voice.stt.base import Transcriber
from callwright.voice.stt.grammars import NO_PHRASES, YES_PHRASES
from callwright.voice.stt.pocketsphinx import DecoderPool, PocketsphinxTranscriber
from callwright.voice.stt.whisper import WhisperEngine, WhisperTranscriber
from callwright.voice.tts.espeak import EspeakSynthesizer
from callwright.voice.tts.piper import PiperSynthesizer, piper_installed
from common import latency_summary_ms, print_table, write_result

VOICES = ("en-us", "en", "en-us+f3", "en+m3", "en-us+f4", "en-gb-x-rp")
PIPER = "piper"  # the voice name of Piper's packaged voice (the optional extra)
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
CITIES = ("new york", "los angeles", "chicago", "san francisco")
# Call-like open answers: names, numbers, dates, addresses, requests (numbers as they are said).
SENTENCES = (
    "my name is john smith",
    "my name is maria lopez and i am calling about my bill",
    "i would like to book an appointment for next tuesday",
    "can you call me back tomorrow morning",
    "i already paid the bill last month",
    "please send me the details by email",
    "my account number is four five six seven",
    "i live at twenty five main street",
    "my address is one hundred oak avenue",
    "i was born on the third of may nineteen eighty",
    "the appointment is on friday at ten o'clock",
    "i can pay two hundred dollars next week",
    "my phone number is five five five one two three four",
    "i want to cancel my subscription",
    "i need to change my delivery address",
    "could you tell me my current balance",
    "the package never arrived",
    "i would like to speak to a manager",
    "i moved to chicago last year",
    "please remove me from your list",
    "i am not interested thank you",
    "can i reschedule for the fifteenth of june",
    "my order number is seven eight nine one",
    "i will be home after five o'clock",
    "the total was forty two dollars",
    "i need a refund for the last payment",
    "my daughter sarah will pick it up",
    "i would like to upgrade my plan",
    "the meter reading is three thousand two hundred",
    "yes that is my date of birth",
    "i am calling from new york",
    "my insurance company is blue cross",
    "the best time to reach me is in the evening",
    "i have been a customer for twelve years",
)

# (kind label, expectation, [(spoken, reference text)])
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
    ("text", Expectation("text"), [(s, s) for s in SENTENCES]),
]
KINDS = {"yes_no": "yes_no", "choice days": "choice", "choice cities": "choice", "digits(4)": "digits",
         "number": "number", "date": "date", "text": "text"}  # fmt: skip

# --- normalising text for WER (both recognisers get the same) ---------------------------------
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()  # fmt: skip
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
        "twelve": "twelfth", "twenty": "twentieth", "thirty": "thirtieth"}  # fmt: skip


def _cardinal(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + _cardinal(n % 100))
    if n < 1_000_000:
        return _cardinal(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + _cardinal(n % 1000))
    return " ".join(_ONES[int(d)] for d in str(n))


def _ordinal(n: int) -> str:
    words = _cardinal(n).split()
    last = words[-1]
    words[-1] = _ORD.get(last, last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return " ".join(words)


def _number(token: str) -> str:
    digits = token.replace(",", "")
    if "," in token:
        return _cardinal(int(digits))
    n = int(digits)
    if len(digits) == 4 and 1900 <= n <= 2099 and n % 100 >= 10:
        return f"{_cardinal(n // 100)} {_cardinal(n % 100)}"  # a year: nineteen eighty
    if len(digits) >= 4 or digits.startswith("0"):
        return " ".join(_ONES[int(d)] for d in digits)  # an account or phone number, digit by digit
    return _cardinal(n)


def normalize(text: str) -> str:
    """Lower case, numerals spelled out as people say them, no punctuation but apostrophes."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"\$(\d[\d,]*)", r"\1 dollars", text)
    text = re.sub(r"(\d+)-(?=\d)", lambda m: " ".join(_ONES[int(d)] for d in m.group(1)) + " ", text)
    text = re.sub(r"(\d+)(st|nd|rd|th)\b", lambda m: _ordinal(int(m.group(1))), text)
    text = re.sub(r"\d{1,3}(?:,\d{3})+|\d+", lambda m: _number(m.group(0)), text)
    text = re.sub(r"\bok\b", "okay", text)
    text = re.sub(r"[^a-z' ]+", " ", text.replace("-", " "))
    return " ".join(w.strip("'") for w in text.split() if w.strip("'"))


def _errors(ref: str, hyp: str) -> int:
    r, h = ref.split(), hyp.split()
    row = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, row[0] = row[:], i
        for j in range(1, len(h) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
    return row[-1]


def _answer(expect: Expectation, text: str) -> Any:
    """The value a flow would store for this text (``text`` answers: the normalised words)."""
    if expect.kind == "text":
        return normalize(text)
    return parse_answer(expect, UserInput(text=text))


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


async def score(
    name: str, transcriber: Transcriber, voices: tuple[str, ...], cases: list[Any], synths: dict[str, Any]
) -> dict[str, Any]:
    """Every phrase of every case in every voice through one recogniser."""
    results: dict[str, Any] = {}
    audio: dict[tuple[str, str], bytes] = {}
    for label, expect, phrases in cases:
        per_voice: dict[str, dict[str, int]] = {}
        feed_s: list[float] = []
        finish_s: list[float] = []
        audio_s: list[float] = []
        misses: list[list[str]] = []
        for voice in voices:
            synth = synths[voice]
            tally = per_voice.setdefault(voice, {"right": 0, "total": 0, "errors": 0, "words": 0})
            for spoken, wanted in phrases:
                key = (voice, spoken)
                if key not in audio:
                    audio[key] = through_phone_line(bytes(6400) + synth.synthesize_sync(spoken) + bytes(9600))
                pcm = audio[key]
                utterance = transcriber.utterance(expect)
                for i in range(0, len(pcm), FRAME_BYTES):
                    t0 = time.perf_counter()
                    utterance.push(pcm[i : i + FRAME_BYTES])
                    feed_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                text = (await utterance.finish()).text  # no pause(): the whole decode is timed
                finish_s.append(time.perf_counter() - t0)
                audio_s.append(len(pcm) / 32000)
                right = _answer(expect, text) == _answer(expect, wanted)
                tally["total"] += 1
                tally["right"] += right
                tally["errors"] += _errors(normalize(wanted), normalize(text))
                tally["words"] += len(normalize(wanted).split())
                if not right:
                    misses.append([voice, spoken, text])
        total = sum(t["total"] for t in per_voice.values())
        right = sum(t["right"] for t in per_voice.values())
        errors = sum(t["errors"] for t in per_voice.values())
        words = sum(t["words"] for t in per_voice.values())
        feed = sorted(feed_s)
        results[label] = {
            "utterances": total,
            "accuracy": round(right / total, 3),
            "wer": round(errors / words, 3),
            "per_voice": {
                v: {"accuracy": round(t["right"] / t["total"], 3), "wer": round(t["errors"] / t["words"], 3),
                    "errors": t["errors"], "words": t["words"]}
                for v, t in per_voice.items()
            },
            "feed_ms_per_frame_mean": round(sum(feed) / len(feed) * 1000, 3),
            "finish_ms": latency_summary_ms(finish_s),
            "audio_s_mean": round(sum(audio_s) / len(audio_s), 2),
            "misses": misses[:20],
        }
        print(f"  {name:12s} {label:14s} acc {right}/{total}  WER {errors / words:.1%}  "
              f"finish p50 {results[label]['finish_ms']['p50']:.1f} ms", flush=True)  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", type=int, default=4, help="how many espeak voices (1-6)")
    parser.add_argument("--recognisers", default="pocketsphinx,whisper", help="comma-separated")
    parser.add_argument("--kinds", default="", help="comma-separated case labels (default: all)")
    parser.add_argument("--beam", type=int, default=1, help="Whisper beam size")
    parser.add_argument("--no-piper", action="store_true", help="leave out the Piper voice even when installed")
    args = parser.parse_args()
    voices = VOICES[: max(1, min(args.voices, len(VOICES)))]
    synths: dict[str, Any] = {v: EspeakSynthesizer(v) for v in voices}
    if not args.no_piper and piper_installed():
        synths[PIPER] = PiperSynthesizer()
        voices = (*voices, PIPER)
    wanted_kinds = {k.strip() for k in args.kinds.split(",") if k.strip()}
    cases = [c for c in CASES if not wanted_kinds or c[0] in wanted_kinds]
    names = [n.strip() for n in args.recognisers.split(",") if n.strip()]

    transcribers: dict[str, Transcriber] = {}
    extra: dict[str, Any] = {}
    rows: list[tuple[str, str]] = []
    if "pocketsphinx" in names:
        pool = DecoderPool()
        start = time.perf_counter()
        pool.lexicon.pronunciations("yes")
        lexicon_ms = (time.perf_counter() - start) * 1000
        costs = decoder_costs(pool)
        transcribers["pocketsphinx"] = PocketsphinxTranscriber(pool)
        extra["pocketsphinx"] = {"lexicon_load_ms": round(lexicon_ms, 1), "decoders": costs}
        rows.append(("pocketsphinx: CMUdict load (once per process)", f"{lexicon_ms:.0f} ms"))
        rows.append(("pocketsphinx: grammar decoder", f"{costs['grammar_create_ms']} ms, {costs['grammar_rss_mb']} MB"))
        rows.append(("pocketsphinx: open decoder", f"{costs['open_create_ms']} ms, {costs['open_rss_mb']} MB RSS"))
    if "whisper" in names:
        engine = WhisperEngine(beam_size=args.beam)
        before, start = _rss_mb(), time.perf_counter()
        engine.load()
        load_ms = (time.perf_counter() - start) * 1000
        transcribers["whisper"] = WhisperTranscriber(engine)
        extra["whisper"] = {"load_ms": round(load_ms, 1), "rss_mb": round(_rss_mb() - before, 1), "beam": args.beam,
                            "cpu_threads": engine.cpu_threads}  # fmt: skip
        rows.append(("whisper: verify (sha256) + load + warm-up", f"{load_ms:.0f} ms, {extra['whisper']['rss_mb']} MB"))

    kinds: dict[str, dict[str, Any]] = {}
    for name, transcriber in transcribers.items():
        kinds[name] = asyncio.run(score(name, transcriber, voices, cases, synths))
    for label, _expect, _phrases in cases:
        for name in transcribers:
            r = kinds[name][label]
            rows.append((
                f"{label} / {name}",
                f"answers {r['accuracy']:.0%}  WER {r['wer']:.0%}  "
                f"feed {r['feed_ms_per_frame_mean']:.2f} ms/frame  "
                f"finish p50 {r['finish_ms']['p50']:.0f} ms p90 {r['finish_ms']['p90']:.0f} ms "
                f"(utterance {r['audio_s_mean']:.1f} s)",
            ))  # fmt: skip
    for voice in voices:
        for name in transcribers:
            r = kinds[name]["text"]["per_voice"].get(voice) if "text" in kinds[name] else None
            if r is not None:
                rows.append((f"text WER, voice {voice} / {name}", f"{r['wer']:.0%}"))
    espeak_voices = [v for v in voices if v != PIPER]
    for name in transcribers:
        for label in ("espeak", PIPER):
            group = [v for v in voices if (v == PIPER) == (label == PIPER)]
            per_voice = [kinds[name][c[0]]["per_voice"][v] for c in cases for v in group]
            errors = sum(p["errors"] for p in per_voice)
            words = sum(p["words"] for p in per_voice)
            if words:
                rows.append((f"all kinds WER, {label} ({len(group)} voice(s)) / {name}", f"{errors / words:.1%}"))
    print_table(f"Offline STT over a μ-law line ({len(espeak_voices)} espeak voices, piper: {PIPER in voices})", rows)
    path = write_result("stt_accuracy", {"voices": list(voices), "recognisers": extra, "kinds": kinds})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
