"""Cost of the audio foundations, per 20 ms frame and per sentence.

What capacity planning needs from voice/audio.py, vad.py and tts/: μ-law, resampling and
carrier framing per frame, the VAD per frame, espeak-ng for about 4 s of speech (whole, and
time to the first streamed chunk), and the zero-compute tone synthesizer. Also the audio the
low-latency resamplers hold back.

    python bench/audio_micro.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callwright.voice.audio import (
    CARRIER_FRAME_BYTES,
    FRAME_BYTES,
    CarrierDecoder,
    CarrierEncoder,
    FrameSplitter,
    Resampler,
    pcm_duration_ms,
    ulaw_decode,
    ulaw_encode,
)
from callwright.voice.tts.espeak import EspeakSynthesizer, _engine
from callwright.voice.tts.tone import ToneSynthesizer
from callwright.voice.vad import SpeechDetector
from common import print_table, write_result

# About 4 s of speech at espeak's default 175 words per minute.
FOUR_SECONDS = "Hello, this is Callwright calling about your appointment on Tuesday at three."


def per_call_us(fn: Callable[[], object], number: int, repeat: int) -> dict[str, float]:
    runs = [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=repeat)]
    return {"min": round(min(runs), 2), "median": round(statistics.median(runs), 2)}


def frame_costs(repeat: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(0)
    pcm16k = (rng.normal(0, 3000, FRAME_BYTES // 2)).astype("<i2").tobytes()
    pcm8k = pcm16k[: CARRIER_FRAME_BYTES * 2]
    ulaw = ulaw_encode(pcm8k)
    up, down = Resampler(8000, 16000), Resampler(16000, 8000)
    dec, enc = CarrierDecoder(), CarrierEncoder()
    vad = SpeechDetector()
    split = FrameSplitter()
    n = 2000
    return {
        "ulaw_decode (160 bytes)": per_call_us(lambda: ulaw_decode(ulaw), n, repeat),
        "ulaw_encode (160 samples)": per_call_us(lambda: ulaw_encode(pcm8k), n, repeat),
        "Resampler 8k->16k (20 ms)": per_call_us(lambda: up.process(pcm8k), n, repeat),
        "Resampler 16k->8k (20 ms)": per_call_us(lambda: down.process(pcm16k), n, repeat),
        "CarrierDecoder.decode (frame)": per_call_us(lambda: dec.decode(ulaw), n, repeat),
        "CarrierEncoder.encode (frame)": per_call_us(lambda: enc.encode(pcm16k), n, repeat),
        "SpeechDetector.process (frame)": per_call_us(lambda: vad.process(pcm16k), n, repeat),
        "FrameSplitter.push (frame)": per_call_us(lambda: split.push(pcm16k), n, repeat),
    }


def held_back_ms() -> dict[str, float]:
    """Audio a low-latency resampler keeps after 1 s fed in 20 ms chunks (measured, not nominal)."""
    out: dict[str, float] = {}
    for in_rate, out_rate in ((8000, 16000), (16000, 8000)):
        rs = Resampler(in_rate, out_rate)
        chunk = bytes(in_rate // 50 * 2)
        got = sum(len(rs.process(chunk)) for _ in range(50)) // 2
        out[f"{in_rate}->{out_rate}"] = round((out_rate - got) * 1000 / out_rate, 3)
    return out


def espeak_costs(repeat: int) -> dict[str, Any]:
    synth = EspeakSynthesizer()
    audio = synth.synthesize_sync(FOUR_SECONDS)  # warm: voice loaded, first-call costs paid
    engine = _engine()

    def raw() -> None:
        with engine.lock:
            engine.synth(FOUR_SECONDS, synth.voice, synth.wpm, lambda pcm: True)

    async def streamed() -> tuple[float, float]:
        start = time.perf_counter()
        first = None
        async for _ in synth.synthesize(FOUR_SECONDS):
            first = first if first is not None else time.perf_counter() - start
        return (first or 0.0) * 1000, (time.perf_counter() - start) * 1000

    runs = max(repeat, 10)
    raw_ms = [timeit.timeit(raw, number=1) * 1000 for _ in range(runs)]
    sync_ms = [timeit.timeit(lambda: synth.synthesize_sync(FOUR_SECONDS), number=1) * 1000 for _ in range(runs)]
    stream_ms = [asyncio.run(streamed()) for _ in range(runs)]
    return {
        "speech_ms": round(pcm_duration_ms(audio)),
        "native_rate_hz": engine.rate,
        "espeak_synth_ms": _stats(raw_ms),
        "synthesize_sync_ms": _stats(sync_ms),
        "stream_first_chunk_ms": _stats([f for f, _ in stream_ms]),
        "stream_total_ms": _stats([t for _, t in stream_ms]),
    }


def _stats(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    frames = frame_costs(args.repeat)
    held = held_back_ms()
    espeak = espeak_costs(args.repeat)
    tone = ToneSynthesizer()
    tone_us = per_call_us(lambda: tone.synthesize_sync(FOUR_SECONDS), 200, args.repeat)

    rows = [(name, f"{v['median']:.1f} µs (min {v['min']:.1f})") for name, v in frames.items()]
    rows += [(f"held back {k}", f"{v:.2f} ms") for k, v in held.items()]
    rows += [
        ("espeak speech length", f"{espeak['speech_ms']} ms"),
        ("espeak_Synth alone", _fmt(espeak["espeak_synth_ms"])),
        ("synthesize_sync (+ trim, 16 kHz)", _fmt(espeak["synthesize_sync_ms"])),
        ("synthesize: first chunk", _fmt(espeak["stream_first_chunk_ms"])),
        ("synthesize: all chunks", _fmt(espeak["stream_total_ms"])),
        ("ToneSynthesizer (same text)", f"{tone_us['median']:.1f} µs (min {tone_us['min']:.1f})"),
    ]
    print_table("Audio foundations (median of runs; machine load in the JSON)", rows)
    path = write_result(
        "audio_micro",
        {"frame_us": frames, "held_back_ms": held, "espeak": espeak, "tone_synthesizer_us": tone_us},
    )
    print(f"wrote {path}")


def _fmt(v: dict[str, float]) -> str:
    return f"{v['median']:.1f} ms (min {v['min']:.1f})"


if __name__ == "__main__":
    main()
