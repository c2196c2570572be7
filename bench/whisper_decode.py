"""Where a Whisper tiny.en decode spends its time, and what makes it faster without losing words.

The call-like sentences of ``bench/stt_accuracy.py`` are spoken by espeak-ng in N voices, sent
over the G.711 μ-law 8 kHz line and back to 16 kHz (200 ms of silence before, 300 ms after, as
there), and decoded one at a time. Per variant: decode latency p50/p95 and the WER over all of
them (same normaliser as stt_accuracy). Variants:

- ``transcribe``: faster-whisper's ``transcribe()`` as ``whisper.py`` called it before (30 s window);
- ``stages``: the same 30 s window, split into log-mel / encode / generate (where the time goes);
- ``direct-3000``: log-mel + ``encode`` + ``generate`` with the tiny.en prompt
  ``<|startoftranscript|><|notimestamps|>`` called directly, 30 s window (no transcribe() wrapper);
- ``direct-fit``: the same, features padded only to the utterance plus a margin (the "audio_ctx"
  trick): the encoder's cost is roughly linear in the frames it sees;
- ``engine``: ``WhisperEngine.transcribe_sync`` as it now is (what a call gets).

    python bench/whisper_decode.py [--voices 2] [--threads 2] [--variants transcribe,direct-fit,...]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import ctranslate2  # type: ignore[import-untyped]
import numpy as np
from faster_whisper import WhisperModel  # type: ignore[import-untyped]
from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]
from faster_whisper.transcribe import get_suppressed_tokens  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.voice.conftest import through_phone_line

from callwright.voice.stt.whisper import WhisperEngine
from callwright.voice.tts.espeak import EspeakSynthesizer
from common import print_table, write_result
from stt_accuracy import SENTENCES, VOICES, _errors, normalize


def make_audio(voices: tuple[str, ...]) -> list[tuple[str, str, np.ndarray[Any, Any]]]:
    synth = EspeakSynthesizer()
    out = []
    for voice in voices:
        synth.voice = voice
        for sentence in SENTENCES:
            pcm = through_phone_line(bytes(6400) + synth.synthesize_sync(sentence) + bytes(9600))
            audio = np.frombuffer(pcm[: len(pcm) & ~1], dtype="<i2").astype(np.float32) / 32768.0
            out.append((voice, sentence, audio))
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] * 1000


def run(name: str, fn: Any, audio: list[tuple[str, str, np.ndarray[Any, Any]]]) -> dict[str, Any]:
    fn(audio[0][2])  # warm-up for this variant's shapes
    times: list[float] = []
    errors = words = 0
    stages: dict[str, list[float]] = {}
    misses = []
    for voice, ref, pcm in audio:
        t0 = time.perf_counter()
        text, parts = fn(pcm)
        times.append(time.perf_counter() - t0)
        for k, v in parts.items():
            stages.setdefault(k, []).append(v)
        e = _errors(normalize(ref), normalize(text))
        errors += e
        words += len(normalize(ref).split())
        if e:
            misses.append([voice, ref, text])
    r = {
        "p50_ms": round(pct(times, 0.5), 1),
        "p95_ms": round(pct(times, 0.95), 1),
        "wer": round(errors / words, 4),
        "stages_p50_ms": {k: round(pct(v, 0.5), 1) for k, v in stages.items()},
        "misses": misses,
    }
    print(f"  {name:28s} p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  WER {errors / words:.2%}  "
          f"{r['stages_p50_ms']}", flush=True)  # fmt: skip
    return r


def bench_threads(threads: int, args: Any, audio: list[Any], variants: list[str], results: dict[str, Any]) -> None:
    engine = WhisperEngine(cpu_threads=threads, window_margin_s=None if args.full_window else args.margin_s)
    engine.load()
    wm = WhisperModel(str(engine.model_dir), device="cpu", compute_type=args.compute, cpu_threads=threads)
    fe = wm.feature_extractor
    tok = Tokenizer(wm.hf_tokenizer, False, task="transcribe", language="en")
    prompt = [*tok.sot_sequence, tok.no_timestamps]
    suppress = list(get_suppressed_tokens(tok, [-1]))

    def transcribe(pcm: np.ndarray[Any, Any]) -> tuple[str, dict[str, float]]:
        segments, _ = wm.transcribe(pcm, language="en", beam_size=1, temperature=0.0, vad_filter=False,
                                    condition_on_previous_text=False, without_timestamps=True)  # fmt: skip
        return " ".join(s.text.strip() for s in segments), {}

    def direct(pcm: np.ndarray[Any, Any], frames: int | None, margin: int = 100) -> tuple[str, dict[str, float]]:
        t0 = time.perf_counter()
        mel = fe(pcm)[:, :-1]
        n = 3000 if frames is None else min(3000, mel.shape[1] + margin)
        n += n & 1
        feats = np.zeros((1, 80, n), np.float32)
        feats[0, :, : min(n, mel.shape[1])] = mel[:, :n]
        t1 = time.perf_counter()
        enc = wm.model.encode(ctranslate2.StorageView.from_array(feats))
        t2 = time.perf_counter()
        cap = 448 if frames is None or not args.cap else len(prompt) + 4 + math.ceil(args.cap * len(pcm) / 16000)
        res = wm.model.generate(enc, [prompt], beam_size=1, max_length=cap, return_scores=True,
                                return_no_speech_prob=True, suppress_blank=True,
                                    suppress_tokens=suppress)[0]  # fmt: skip
        t3 = time.perf_counter()
        text = tok.decode(res.sequences_ids[0]).strip()
        return text, {"mel": t1 - t0, "encode": t2 - t1, "generate": t3 - t2}

    def engine_fn(pcm: np.ndarray[Any, Any]) -> tuple[str, dict[str, float]]:
        pcm16 = (np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes()
        return engine.transcribe_sync(pcm16).text, {}

    for v in variants:
        if v == "transcribe":
            results[f"{v}/t{threads}"] = run(f"{v} t{threads}", transcribe, audio)
        elif v == "stages":
            results[f"{v}/t{threads}"] = run(f"{v} t{threads}", lambda p: direct(p, None), audio)
        elif v == "direct-3000":
            results[f"{v}/t{threads}"] = run(f"{v} t{threads}", lambda p: direct(p, None), audio)
        elif v == "direct-fit":
            for margin in [int(m) for m in args.margins.split(",")]:
                results[f"{v}+{margin}/t{threads}"] = run(
                    f"{v}+{margin} t{threads}", lambda p, m=margin: direct(p, 0, m), audio
                )
        elif v == "engine":
            before = engine.full_window_decodes
            results[f"{v}/t{threads}"] = run(f"{v} t{threads}", engine_fn, audio)
            results[f"{v}/t{threads}"]["full_window_decodes"] = engine.full_window_decodes - before
    engine.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voices", type=int, default=2)
    parser.add_argument("--threads", default="2", help="comma-separated cpu_threads values to try")
    parser.add_argument("--variants", default="transcribe,stages,direct-3000,direct-fit,engine")
    parser.add_argument("--margins", default="100", help="direct-fit: frames of margin after the audio")
    parser.add_argument("--compute", default="int8", help="CTranslate2 compute_type for the direct variants")
    parser.add_argument("--margin-s", type=float, default=5.0, help="engine: window_margin_s")
    parser.add_argument("--full-window", action="store_true", help="engine: window_margin_s=None (30 s window)")
    parser.add_argument("--cap", type=float, default=0, help="direct-fit: at most this many tokens per second")
    args = parser.parse_args()

    voices = VOICES[: max(1, min(args.voices, len(VOICES)))]
    audio = make_audio(voices)
    secs = [len(a) / 16000 for _, _, a in audio]
    print(f"{len(audio)} utterances, {sum(secs) / len(secs):.2f} s mean (with 0.5 s of padding)")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    results: dict[str, Any] = {}
    rows: list[tuple[str, str]] = []
    for threads in [int(t) for t in args.threads.split(",")]:
        bench_threads(threads, args, audio, variants, results)
    for k, r in results.items():
        rows.append((k, f"p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  WER {r['wer']:.1%}  {r['stages_p50_ms']}"))
    print_table(f"Whisper tiny.en decode ({len(audio)} utterances, {len(voices)} voices)", rows)
    print(f"wrote {write_result('whisper_decode', {'voices': list(voices), 'results': results})}")


if __name__ == "__main__":
    main()
