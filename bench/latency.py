"""Response latency over real simulated calls: the caller stops speaking -> the first agent audio.

    python bench/latency.py                 # 8 calls, 2 at a time, embedded stack
    python bench/latency.py --calls 12 --concurrency 1
    python bench/latency.py --engine llm --ttft-ms 300 --tokens-per-s 50   # an LLM agent

``--engine llm`` (bench/latency_llm.py, which says what it measures) runs an LLM agent
against the local model server; it writes bench/results/latency_llm.json. What follows is the
default, ``--engine flow``.

A real server (voice runtime on) runs in this process. Each call goes through POST /v1/calls,
the dialer, the simulated carrier and the server's Media Streams WebSocket. The agent is the
demo's appointment flow (espeak voice, pocketsphinx under per-turn grammars, flow dialogue,
endpointing 500 ms); half the callees say "yes", half "no" then "wednesday", and all key
"4567" when asked for digits.

Two independent measurements of every turn:
- the server's: the stored record's ``latency`` (last voiced caller frame *arrived* -> first
  agent frame *sent*), with its breakdown (endpointing, STT, dialogue, TTS first byte, overhead);
- the callee's: its own clock from sending its last frame with sound (or its last digit) to
  the arrival of the first agent audio frame after it (``CalleePeer.turn_timings``).

Target (DESIGN.md): speech turns p50 <= endpointing + 150 ms; platform overhead p95 <= 5 ms.
Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from callwright.demo import DEMO_FLOW
from common import write_result
from voice_common import CpuMeter, VoiceStack, pct

ENDPOINTING_MS = 500
COMPONENTS = ("endpointing", "stt", "dialogue", "tts", "overhead", "total")
CALLEES: list[dict[str, Any]] = [
    {"says": ["yes"], "dtmf": {"verify": "4567"}},
    {"says": ["no", "wednesday"], "dtmf": {"verify": "4567"}},
]
EXPECTED: list[dict[str, Any]] = [
    {"confirmed": True, "verification_code": "4567"},
    {"confirmed": False, "new_day": "wednesday", "verification_code": "4567"},
]


def agent_body(endpointing_ms: int) -> dict[str, Any]:
    return {
        "name": "Latency benchmark (demo flow)",
        "dialogue": {"engine": "flow", "flow": DEMO_FLOW},
        "voice": {"provider": "espeak", "voice_id": "en-us"},
        "transcriber": {"provider": "pocketsphinx"},
        "turn_taking": {"endpointing_ms": endpointing_ms},
        "phone": {"provider": "simulator", "from_number": "+14155550100"},
        "end_call_after_silence_s": 10,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with VoiceStack(callee_voice=args.callee_voice, ring_ms=100) as stack:
        agent_id = await stack.create_agent(agent_body(args.endpointing_ms))
        sem = asyncio.Semaphore(args.concurrency)
        turns: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        meter = CpuMeter()
        meter.start()

        async def one(i: int) -> None:
            async with sem:
                kind = i % len(CALLEES)
                call_id = await stack.place_call(agent_id, f"+1555020{i:04d}", CALLEES[kind])
                await stack.wait_all([call_id], timeout_s=180)
                record = await stack.record(call_id)
                peer = stack.peer_for(call_id)
                results = record.get("results") or {}
                ok = all(results.get(k) == v for k, v in EXPECTED[kind].items())
                server_turns = (record.get("latency") or {}).get("turns", [])
                timings = peer.turn_timings if peer is not None else []
                calls.append(
                    {
                        "call_id": call_id,
                        "status": record["status"],
                        "end_reason": record.get("end_reason"),
                        "results_as_expected": ok,
                        "results": results,
                        "turns": len(server_turns),
                        "callee_ticks_skipped": peer.ticks_skipped if peer else None,
                        "callee_playout_underruns": peer.playout_underruns if peer else None,
                    }
                )
                for n, st in enumerate(server_turns):
                    timing = timings[n] if n < len(timings) else None
                    turns.append(
                        {
                            "call": i,
                            "kind": timing.kind if timing else "unknown",
                            "said": timing.text if timing else None,
                            **{f"{c}_ms": st[f"{c}_ms"] for c in COMPONENTS},
                            "callee_ms": round(timing.response_ms, 2) if timing and timing.response_ms else None,
                        }
                    )

        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(args.calls)))
        usage = meter.stop()
        elapsed = time.monotonic() - started

    speech = [t for t in turns if t["kind"] == "speech"]
    dtmf = [t for t in turns if t["kind"] == "dtmf"]
    summary: dict[str, Any] = {}
    for name, group in (("speech", speech), ("dtmf", dtmf)):
        summary[name] = {
            "n": len(group),
            **{
                f"{c}_ms": {
                    "p50": pct([t[f"{c}_ms"] for t in group], 50),
                    "p95": pct([t[f"{c}_ms"] for t in group], 95),
                }
                for c in COMPONENTS
            },
            "callee_ms": {
                "p50": pct([t["callee_ms"] for t in group if t["callee_ms"] is not None], 50),
                "p95": pct([t["callee_ms"] for t in group if t["callee_ms"] is not None], 95),
            },
        }
        diffs = [t["callee_ms"] - t["total_ms"] for t in group if t["callee_ms"] is not None]
        summary[name]["callee_minus_server_ms"] = {
            "p50": pct(diffs, 50),
            "min": round(min(diffs), 2) if diffs else None,
            "max": round(max(diffs), 2) if diffs else None,
        }
    target_p50 = args.endpointing_ms + 150
    p50 = summary["speech"]["total_ms"]["p50"]
    # The target is defined on "the caller stops speaking": speech turns. Keyed turns are shown too.
    overhead_p95 = summary["speech"]["overhead_ms"]["p95"]
    return {
        "parameters": {
            "calls": args.calls,
            "concurrency": args.concurrency,
            "endpointing_ms": args.endpointing_ms,
            "agent": "demo flow, espeak en-us, pocketsphinx grammars",
            "callee_voice": args.callee_voice,
        },
        "elapsed_s": round(elapsed, 1),
        "process": usage,
        "targets": {
            "speech_p50_ms": {"target": target_p50, "measured": p50, "met": p50 <= target_p50},
            "overhead_p95_ms": {"target": 5.0, "measured": overhead_p95, "met": overhead_p95 <= 5.0},
        },
        "summary": summary,
        "calls": calls,
        "turns": turns,
    }


def show(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    params = result["parameters"]
    table = Table(
        title=f"Response latency, {params['calls']} calls ({params['concurrency']} at a time), ms "
        f"(endpointing {params['endpointing_ms']} ms)"
    )
    table.add_column("component")
    for name in ("speech p50", "speech p95", "dtmf p50", "dtmf p95"):
        table.add_column(name, justify="right")
    s = result["summary"]
    for c in (*COMPONENTS, "callee"):
        label = {"total": "total (server record)", "callee": "total (callee's clock)"}.get(c, c)
        table.add_row(
            label,
            *(f"{s[g][f'{c}_ms'][q]:.1f}" for g in ("speech", "dtmf") for q in ("p50", "p95")),
        )
    table.add_row(
        "callee - server",
        *(f"{s[g]['callee_minus_server_ms']['p50']:.1f} (p50)" if s[g]["n"] else "-" for g in ("speech",)),
        f"{s['speech']['callee_minus_server_ms']['min']} .. {s['speech']['callee_minus_server_ms']['max']}",
        f"{s['dtmf']['callee_minus_server_ms']['p50']:.1f} (p50)" if s["dtmf"]["n"] else "-",
        f"{s['dtmf']['callee_minus_server_ms']['min']} .. {s['dtmf']['callee_minus_server_ms']['max']}",
    )
    table.add_row("turns", str(s["speech"]["n"]), "", str(s["dtmf"]["n"]), "")
    console.print(table)
    calls = result["calls"]
    ok = sum(c["results_as_expected"] for c in calls)
    skipped = sum(c["callee_ticks_skipped"] or 0 for c in calls)
    console.print(
        f"calls: {len(calls)}, completed: {sum(c['status'] == 'completed' for c in calls)}, "
        f"results as scripted: {ok}/{len(calls)}, callee ticks skipped: {skipped}, "
        f"process CPU {result['process']['cpu_pct']} % of one core"
    )
    for name, t in result["targets"].items():
        verdict = "[green]met[/]" if t["met"] else "[red]MISSED[/]"
        console.print(f"target {name}: measured {t['measured']} vs {t['target']} -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--endpointing-ms", type=int, default=ENDPOINTING_MS)
    parser.add_argument("--callee-voice", default="en-gb", help="espeak voice of the callee, or 'tone'")
    parser.add_argument(
        "--engine", choices=("flow", "llm"), default="flow", help="the demo flow, or an LLM agent (local model server)"
    )
    parser.add_argument("--ttft-ms", type=float, default=300, help="llm: the model server's time to first token")
    parser.add_argument("--tokens-per-s", type=float, default=50, help="llm: its token rate (~4 characters a token)")
    args = parser.parse_args()
    if args.engine == "llm":
        from latency_llm import run_llm, show_llm

        llm_result = asyncio.run(run_llm(args))
        llm_path = write_result("latency_llm", llm_result)
        show_llm(llm_result)
        print(f"wrote {llm_path}")
        return
    result = asyncio.run(run(args))
    path = write_result("latency", result)
    show(result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
