"""Concurrent calls this machine carries with 20 ms pacing: outbound frame lateness p99 < 20 ms.

    python bench/capacity.py                          # both stacks, default steps (~5 min)
    python bench/capacity.py --mode zero --steps 100,200,300
    python bench/capacity.py --mode embedded --steps 10,20,30 --talk-s 25
    python bench/capacity.py --mode whisper           # Whisper on every turn, steps 5,10,15 (~3 min)

A real server (voice runtime on) and the simulated carrier run in this process; every call
goes through POST /v1/calls, the dialer and the server's Media Streams WebSocket. Each step
places N calls (spread over ``--ramp-s``) to an agent that greets and asks yes/no questions
for about ``--talk-s`` seconds of conversation; the callee answers "yes" every time.

Stacks:
- ``embedded``: espeak agent voice, pocketsphinx under per-turn grammars, the flow engine, and
  an espeak callee (target >= 20 calls);
- ``zero``: zero-compute stand-ins for remote providers: ``voice.provider: tone``,
  ``transcriber.provider: scripted``, and a tone-voiced callee (target >= 200 calls);
- ``whisper``: like ``embedded`` but every question is open (``expect: text``), so Whisper
  tiny.en decodes every turn; the callee (Piper voice) answers with whole sentences (target
  >= 10 calls). Also reports the turn latency (the records' ``latency``) per step.

Lateness is the session's own: for every agent frame sent, its send time minus its pacing
deadline (``Playout``; ``frame_lateness_ms`` in the record's ``latency``), pooled over all
frames of all calls of the step. The callee side reports ``ticks_skipped`` (its own 20 ms
ticks missed: the loop was late by a whole frame) and ``playout_underruns`` (ticks where
agent audio ran dry inside a sentence: what a caller would hear as a gap).
Writes bench/results/capacity.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write_result
from voice_common import CpuMeter, VoiceStack, callee_synthesizer, pct

QUESTIONS = 5
LATENESS_TARGET_MS = 20.0
TARGETS = {"embedded": 20, "zero": 200, "whisper": 10}
DEFAULT_STEPS = {"embedded": [5, 10, 20, 30], "zero": [10, 20, 50, 100, 200, 300], "whisper": [5, 10, 15]}
CALLEE_VOICE = {"embedded": "en-gb", "zero": "tone", "whisper": "piper"}
OPEN_QUESTIONS = [
    "Please tell me your name and what I can do for you today.",
    "What is the address we should send the letter to?",
    "Which date and time would suit you?",
    "Is there anything else we should know before your visit?",
    "How did you hear about us?",
]
OPEN_ANSWERS = [
    "My name is John Smith and I need a new appointment.",
    "Forty two Baker Street in Springfield.",
    "Next Tuesday at ten in the morning, please.",
    "I will be bringing my daughter with me this time.",
    "A friend of mine recommended your office to me.",
]
TURN_COMPONENTS = ("endpointing", "stt", "dialogue", "tts", "overhead", "total")


def flow(questions: int) -> dict[str, Any]:
    nodes: dict[str, Any] = {
        "greet": {
            "say": "Hello, this is the capacity benchmark calling. I have a few quick questions for you.",
            "next": "q1",
        },
        "bye": {"say": "Thank you, that is all. Goodbye.", "end": "completed"},
    }
    for i in range(1, questions + 1):
        nodes[f"q{i}"] = {
            "ask": f"Question {i}. Is the answer to this question yes?",
            "expect": "yes_no",
            "save_as": f"a{i}",
            "next": f"q{i + 1}" if i < questions else "bye",
        }
    return {"start": "greet", "nodes": nodes}


def open_flow(questions: int) -> dict[str, Any]:
    """Open questions only: Whisper transcribes every answer."""
    base = flow(questions)
    for i in range(1, questions + 1):
        node = base["nodes"][f"q{i}"]
        node["ask"] = OPEN_QUESTIONS[(i - 1) % len(OPEN_QUESTIONS)]
        node["expect"] = "text"
    return base


def callee_for(mode: str, questions: int) -> dict[str, Any] | None:
    if mode != "whisper":
        return None
    return {"says": [OPEN_ANSWERS[i % len(OPEN_ANSWERS)] for i in range(questions)]}


def answers_right(mode: str, results: dict[str, Any], questions: int) -> bool:
    if mode != "whisper":
        return all(results.get(f"a{i}") is True for i in range(1, questions + 1))
    return all(isinstance(results.get(f"a{i}"), str) and results[f"a{i}"] for i in range(1, questions + 1))


def agent_body(mode: str, questions: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Capacity benchmark ({mode})",
        "dialogue": {"engine": "flow", "flow": open_flow(questions) if mode == "whisper" else flow(questions)},
        "turn_taking": {"endpointing_ms": 500},
        "phone": {"provider": "simulator", "from_number": "+14155550100"},
        "end_call_after_silence_s": 10,
    }
    if mode == "embedded":
        body["voice"] = {"provider": "espeak", "voice_id": "en-us"}
        body["transcriber"] = {"provider": "pocketsphinx"}
    elif mode == "whisper":
        body["voice"] = {"provider": "espeak", "voice_id": "en-us"}
        body["transcriber"] = {"provider": "auto"}
    else:
        body["voice"] = {"provider": "tone"}
        body["transcriber"] = {"provider": "scripted", "hints": ["yes"] * (questions + 2)}
    return body


async def run_step(
    stack: VoiceStack, agent_id: str, calls: int, ramp_s: float, questions: int, mode: str = "embedded"
) -> dict[str, Any]:
    stack.frame_lateness.clear()
    meter = CpuMeter(stack.callee_pid)
    meter.start()
    started = time.monotonic()
    ids: list[str] = []

    async def place(i: int) -> None:
        await asyncio.sleep(ramp_s * i / calls)
        ids.append(await stack.place_call(agent_id, f"+1555030{i:04d}", callee_for(mode, questions)))

    await asyncio.gather(*(place(i) for i in range(calls)))
    status = await stack.wait_all(ids, timeout_s=180)
    usage = meter.stop()
    elapsed = time.monotonic() - started

    late = [x for call in ids for x in stack.frame_lateness.get(call, [])]
    answered = 0
    per_call_p99: list[float] = []
    turns: list[dict[str, Any]] = []
    for call_id in ids:
        record = await stack.record(call_id)
        results = record.get("results") or {}
        turns += (record.get("latency") or {}).get("turns", [])
        if record["status"] == "completed" and answers_right(mode, results, questions):
            answered += 1
        summary = (record.get("latency") or {}).get("frame_lateness_ms")
        if summary:
            per_call_p99.append(summary["p99"])
    peers = [p for p in (stack.peer_for(c) for c in ids) if p is not None]
    stack.forget_peers()
    durations = [p.frames_sent * 0.02 for p in peers]
    return {
        "calls": calls,
        "completed": sum(1 for s in status.values() if s == "completed"),
        "all_answers_right": answered,
        "frames": len(late),
        "lateness_ms": {
            "p50": pct(late, 50),
            "p99": pct(late, 99),
            "max": round(max(late), 2) if late else None,
            "over_20ms_pct": round(100 * sum(x >= 20 for x in late) / len(late), 3) if late else None,
        },
        "per_call_p99_ms": {"p50": pct(per_call_p99, 50), "max": max(per_call_p99) if per_call_p99 else None},
        "callee_ticks_skipped": sum(p.ticks_skipped for p in peers),
        "callee_playout_underruns": sum(p.playout_underruns for p in peers),
        "call_duration_s_p50": pct(durations, 50),
        "turn_latency_ms": {
            "n": len(turns),
            **{
                c: {"p50": pct([t[f"{c}_ms"] for t in turns], 50), "p95": pct([t[f"{c}_ms"] for t in turns], 95)}
                for c in TURN_COMPONENTS
            },
        },
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        "elapsed_s": round(elapsed, 1),
        **usage,
    }


def step_ok(step: dict[str, Any]) -> bool:
    p99 = step["lateness_ms"]["p99"]
    return step["completed"] == step["calls"] and p99 == p99 and p99 < LATENESS_TARGET_MS


async def run_mode(mode: str, steps: list[int], args: argparse.Namespace) -> dict[str, Any]:
    callee_voice = CALLEE_VOICE[mode]
    if callee_voice == "piper":  # load the voice before anything is timed
        load = getattr(callee_synthesizer("piper"), "load", None)
        if load is not None:
            await asyncio.to_thread(load)
    results: list[dict[str, Any]] = []
    async with VoiceStack(callee_voice=callee_voice, ring_ms=100, callee_process=args.callee_process) as stack:
        agent_id = await stack.create_agent(agent_body(mode, args.questions))
        for n in steps:
            ramp = args.ramp_s if args.ramp_s is not None else min(5.0, max(1.0, n / 40))
            step = await run_step(stack, agent_id, n, ramp, args.questions, mode)
            step["ok"] = step_ok(step)
            results.append(step)
            show_step(mode, step)
            if not step["ok"] and not args.keep_going:
                break
            await asyncio.sleep(2)
    carried = max((s["calls"] for s in results if s["ok"]), default=0)
    return {
        "mode": mode,
        "callee_voice": callee_voice,
        "steps": results,
        "max_calls_meeting_target": carried,
        "target_calls": TARGETS[mode],
        "met": carried >= TARGETS[mode],
    }


def show_step(mode: str, s: dict[str, Any]) -> None:
    lat = s["lateness_ms"]
    print(
        f"[{mode}] {s['calls']:>4} calls: completed {s['completed']}, answers right {s['all_answers_right']}, "
        f"lateness p50 {lat['p50']} p99 {lat['p99']} max {lat['max']} ms (>=20 ms: {lat['over_20ms_pct']} %), "
        f"CPU {s['cpu_pct']} % (callee process {s.get('callee_process_cpu_pct', '-')} %), "
        f"RSS {s['peak_rss_mb']} MB, callee skipped ticks {s['callee_ticks_skipped']}, "
        f"underruns {s['callee_playout_underruns']}, turn latency p50 {s['turn_latency_ms']['total']['p50']} "
        f"p95 {s['turn_latency_ms']['total']['p95']} ms (stt p50 {s['turn_latency_ms']['stt']['p50']}), "
        f"load {s['loadavg_1m_at_end']} -> {'ok' if s['ok'] else 'FAIL'}",
        flush=True,
    )


def show(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for mode in result["modes"]:
        table = Table(
            title=f"Capacity, {mode['mode']} stack (callee voice {mode['callee_voice']}); "
            f"target >= {mode['target_calls']} calls with lateness p99 < {LATENESS_TARGET_MS:g} ms"
        )
        for col in (
            "calls",
            "completed",
            "answers ok",
            "late p50",
            "late p99",
            "late max",
            ">=20ms %",
            "CPU %",
            "RSS MB",
            "callee skipped",
            "underruns",
            "turn p50",
            "turn p95",
            "stt p50",
            "ok",
        ):
            table.add_column(col, justify="right")
        for s in mode["steps"]:
            lat = s["lateness_ms"]
            table.add_row(
                str(s["calls"]),
                str(s["completed"]),
                str(s["all_answers_right"]),
                f"{lat['p50']}",
                f"{lat['p99']}",
                f"{lat['max']}",
                f"{lat['over_20ms_pct']}",
                f"{s['cpu_pct']}",
                f"{s['peak_rss_mb']}",
                str(s["callee_ticks_skipped"]),
                str(s["callee_playout_underruns"]),
                f"{s['turn_latency_ms']['total']['p50']}",
                f"{s['turn_latency_ms']['total']['p95']}",
                f"{s['turn_latency_ms']['stt']['p50']}",
                "yes" if s["ok"] else "NO",
            )
        console.print(table)
        verdict = "[green]met[/]" if mode["met"] else "[red]MISSED[/]"
        console.print(
            f"{mode['mode']}: {mode['max_calls_meeting_target']} concurrent calls meet the target "
            f"(>= {mode['target_calls']}) -> {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["embedded", "zero", "whisper", "both"], default="both",
                        help="both: embedded and zero (whisper runs only when asked)")
    parser.add_argument("--steps", help="comma-separated call counts (default per mode)")
    parser.add_argument("--questions", type=int, default=QUESTIONS, help="yes/no turns per call (~3.5 s each)")
    parser.add_argument("--ramp-s", type=float, default=None, help="spread call starts over this long")
    parser.add_argument("--keep-going", action="store_true", help="run every step even after one fails")
    parser.add_argument(
        "--callees",
        choices=["process", "inline"],
        default="inline",
        help="run the simulated callees in the server's own loop (default) or in a child process",
    )
    args = parser.parse_args()
    args.callee_process = args.callees == "process"
    modes = ["embedded", "zero"] if args.mode == "both" else [args.mode]
    out: list[dict[str, Any]] = []
    for mode in modes:
        steps = [int(x) for x in args.steps.split(",")] if args.steps else DEFAULT_STEPS[mode]
        out.append(asyncio.run(run_mode(mode, steps, args)))
    result = {
        "parameters": {
            "questions": args.questions,
            "lateness_target_ms": LATENESS_TARGET_MS,
            "lateness_measure": "session frame_lateness_ms: send time - pacing deadline, all frames pooled",
            "callees": "in a child process" if args.callee_process else "in the server's process and loop",
        },
        "modes": out,
    }
    name = "capacity" if args.mode == "both" else f"capacity_{args.mode}"
    if args.callee_process:
        name += "_callee_process"
    path = write_result(name, result)
    show(result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
