"""Cost and behaviour of the Smart Turn end-of-turn model (voice/turn_detector.py).

Per call: the numpy log-mel front end, the onnxruntime run, and both together (p50/p95), with
1 and 2 intra-op threads; load time; resident memory added by loading the model and by running
it. Then what the model says on espeak-ng speech: a finished sentence against the same
sentence cut after "an", over several renderings (espeak's output differs slightly between
calls), with 0–500 ms of trailing silence, straight and through the μ-law phone line.

Needs the model file (pipecat-ai installed, or CALLWRIGHT_SMART_TURN_MODEL).

    python bench/turn_detector.py [--calls 200] [--renderings 8]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callwright.voice.audio import CarrierDecoder, CarrierEncoder
from callwright.voice.log_mel import smart_turn_features
from callwright.voice.tts.espeak import EspeakSynthesizer
from callwright.voice.turn_detector import SmartTurnDetector
from common import percentile, print_table, write_result

COMPLETE = "I would like to book an appointment for Tuesday."
CUT = "I would like to book an"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phone(pcm16k: bytes) -> bytes:
    encoder, decoder = CarrierEncoder(), CarrierDecoder()
    frames = encoder.encode(pcm16k) + encoder.flush()
    return b"".join(decoder.decode(frame) for frame in frames)


def timed(fn: Any, calls: int) -> dict[str, float]:
    """Wall time per call (p50/p95/max), and this thread's CPU time (p50): the cost, whatever
    else the machine is doing (with one intra-op thread onnxruntime runs on the calling thread)."""
    times, cpu = [], []
    for _ in range(calls):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c)
        times.append(time.perf_counter() - t)
    times.sort()
    cpu.sort()
    return {
        "p50": percentile(times, 50) * 1000,
        "p95": percentile(times, 95) * 1000,
        "max": times[-1] * 1000,
        "cpu_p50": percentile(cpu, 50) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--renderings", type=int, default=8)
    args = parser.parse_args()

    synth = EspeakSynthesizer()
    speech = synth.synthesize_sync(COMPLETE)
    eight_s = (speech * 4)[: 8 * 32000]

    before = rss_mb()
    t = time.perf_counter()
    detector = SmartTurnDetector.load(threads=1)
    load_ms = (time.perf_counter() - t) * 1000
    after_load = rss_mb()
    detector.predict(eight_s)
    after_first = rss_mb()

    load_avg = open("/proc/loadavg").read().split()[0]
    results: dict[str, Any] = {"model": str(detector.path), "load_ms": round(load_ms, 1), "loadavg_1min": load_avg}
    rows = [
        ("model", str(detector.path)),
        ("load (sha256 + session)", f"{load_ms:.0f} ms"),
        ("machine load average (1 min)", load_avg),
    ]
    results["features_ms"] = timed(lambda: smart_turn_features(eight_s), args.calls)
    features = smart_turn_features(eight_s)
    session, name = detector._session, detector._input
    results["onnx_1thread_ms"] = timed(lambda: session.run(None, {name: features}), args.calls)
    results["predict_1thread_ms"] = timed(lambda: detector.predict(eight_s), args.calls)
    results["predict_1thread_short_turn_ms"] = timed(lambda: detector.predict(speech), args.calls)
    detector.close()
    two = SmartTurnDetector.load(threads=2)
    results["predict_2threads_ms"] = timed(lambda: two.predict(eight_s), args.calls)
    two.close()
    results["rss_mb"] = {
        "before": round(before, 1),
        "added_by_load": round(after_load - before, 1),
        "added_by_first_call": round(after_first - after_load, 1),
        "after_all": round(rss_mb(), 1),
    }
    for key in (
        "features_ms",
        "onnx_1thread_ms",
        "predict_1thread_ms",
        "predict_1thread_short_turn_ms",
        "predict_2threads_ms",
    ):
        v = results[key]
        rows.append((key, f"p50 {v['p50']:.1f}  p95 {v['p95']:.1f}  max {v['max']:.1f}  cpu p50 {v['cpu_p50']:.1f}"))
    rows.append(("RSS added: load / first call", f"{after_load - before:.0f} / {after_first - after_load:.0f} MB"))
    print_table(f"Smart Turn v3.2, {args.calls} calls each (8 s window unless noted)", rows)

    detector = SmartTurnDetector.load()
    judged: list[dict[str, Any]] = []
    jrows = []
    for tail_ms in (0, 100, 200, 300, 500):
        for line in (False, True):
            scores: dict[str, list[float]] = {"complete": [], "cut": []}
            for _ in range(args.renderings):
                for kind, text in (("complete", COMPLETE), ("cut", CUT)):
                    audio = bytes(8000) + synth.synthesize_sync(text) + bytes(tail_ms * 32)
                    scores[kind].append(detector.predict(phone(audio) if line else audio))
            c, u = statistics.median(scores["complete"]), statistics.median(scores["cut"])
            judged.append(
                {"tail_ms": tail_ms, "phone_line": line, "complete": scores["complete"], "cut": scores["cut"]}
            )
            jrows.append(
                (
                    f"{tail_ms} ms silence{', phone line' if line else ''}",
                    f"complete {c:.2f} [{min(scores['complete']):.2f}-{max(scores['complete']):.2f}]   "
                    f"cut {u:.2f} [{min(scores['cut']):.2f}-{max(scores['cut']):.2f}]",
                )
            )
    detector.close()
    results["espeak_complete_vs_cut"] = judged
    print_table(f"P(complete) on espeak-ng en-us, median [range] of {args.renderings} renderings", jrows)
    print(f"wrote {write_result('turn_detector', results)}")


if __name__ == "__main__":
    main()
