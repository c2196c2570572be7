"""Response latency over real simulated calls: the caller stops speaking -> the first agent audio.

    python bench/latency.py                         # every set, 4 calls a set (~2 min on 2 cores)
    python bench/latency.py --set grammar           # yes/no and choice turns (pocketsphinx grammars)
    python bench/latency.py --set open --calls 6    # open speech (expect: text, Whisper tiny.en)
    python bench/latency.py --set pauses            # mid-answer pauses: smart_turn vs a 500 ms silence rule
    python bench/latency.py --engine llm --ttft-ms 300 --tokens-per-s 50   # an LLM agent

``--engine llm`` (bench/latency_llm.py, which says what it measures) runs an LLM agent
against the local model server; it writes bench/results/latency_llm.json. What follows is the
default, ``--engine flow``.

A real server (voice runtime on) runs in this process. Each call goes through POST /v1/calls,
the dialer, the simulated carrier and the server's Media Streams WebSocket. The agent is a
flow (espeak en-us voice, the ``auto`` transcriber: pocketsphinx grammars for yes/no and
choices, Whisper tiny.en for open speech; ``turn_taking`` as given); the callee speaks with
the Piper voice (``--callee-voice``).

Sets (``--set``):
- ``grammar``: four questions a call, yes/no and choice (days, cities);
- ``open``: three ``expect: text`` questions a call, answered with whole sentences (names
  and requests, addresses, dates);
- ``pauses``: one question a call, answered with a pause inside the answer (numbers read out
  with ``<pause 600ms>``..``<pause 900ms>``, hesitations); every answer is asked twice, of an
  agent with ``turn_taking.detector: smart_turn`` and of one with ``detector: silence``
  (endpointing 500 ms). A **cut-in** is the answer split into two user turns, the agent
  speaking before the caller's last word, or the agent's reply cut off by the rest of the
  answer. The requirement: smart_turn cuts in no more often than the silence rule.

Two independent measurements of every grammar/open turn:
- the server's: the stored record's ``latency`` (last voiced caller frame *arrived* -> first
  agent frame *sent*), with its breakdown (endpointing, STT, dialogue, TTS first byte, overhead);
- the callee's: its own clock from sending its last frame with sound (or its last digit) to
  the arrival of the first agent audio frame after it (``CalleePeer.turn_timings``).

Target (issue 8): p50 <= 350 ms for grammar turns and for open-speech turns; platform
overhead p95 <= 5 ms. Writes bench/results/latency.json.
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

TARGET_P50_MS = 350.0
ENDPOINTING_MS = 500
COMPONENTS = ("endpointing", "stt", "dialogue", "tts", "overhead", "total")
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]
CITIES = ["boston", "chicago", "denver", "seattle"]

# grammar: (yes/no, day, yes/no, city) per call, rotated
GRAMMAR_ANSWERS: list[list[str]] = [
    ["yes", "tuesday", "no", "boston"],
    ["no", "wednesday", "yes", "denver"],
    ["yes", "friday", "yes", "chicago"],
    ["no", "monday", "no", "seattle"],
]
OPEN_QUESTIONS = [
    "Please tell me your name and what I can do for you today.",
    "What is the address we should send the letter to?",
    "Which date and time would suit you?",
]
OPEN_ANSWERS: list[list[str]] = [
    [
        "My name is John Smith and I need a new appointment.",
        "Forty two Baker Street in Springfield.",
        "Next Tuesday at ten in the morning, please.",
    ],
    [
        "This is Maria Garcia, I would like to cancel my booking.",
        "It is seventeen Oak Avenue, apartment three.",
        "The fourteenth of March in the afternoon.",
    ],
    [
        "Hi, I am David Lee and I have a question about my bill.",
        "One hundred Main Street, Portland, Oregon.",
        "Friday the second, around three o'clock.",
    ],
    [
        "My name is Sarah Johnson, I want to change my appointment.",
        "Twenty five Elm Road, near the station.",
        "Any morning next week would be fine.",
    ],
]
# pauses: (expect, question, the answer with its pause, words that must be in the stored answer;
# "a|b": either)
PAUSE_ANSWERS: list[tuple[Any, str, str, list[str]]] = [
    ("text", "What would you like to do?", "I'd like to <pause 700ms> book for Tuesday.", ["tuesday"]),
    ("text", "How can I help you?", "I need to <pause 800ms> change my appointment.", ["appointment"]),
    ("text", "What is your name?", "My name is <pause 600ms> John Smith.", ["smith"]),
    ("text", "Where do you live?", "I live at <pause 900ms> forty two Baker Street.", ["baker"]),
    ("text", "What is your phone number?", "Five five five <pause 900ms> one two three, four five six seven.",
     ["7|seven"]),
    ("text", "What is your account number?", "It is four seven <pause 600ms> nine one <pause 700ms> eight two.",
     ["2|two"]),
    ("number", "How many people are coming?", "Um, <pause 800ms> twelve.", ["12"]),
    ("text", "When would you like to come in?", "Let me see, <pause 900ms> Thursday afternoon.", ["thursday"]),
]
DETECTORS = ("smart_turn", "silence")


def _flow(nodes: list[tuple[str, Any]]) -> dict[str, Any]:
    """A flow asking ``nodes`` (question, expect) in order, then saying goodbye."""
    out: dict[str, Any] = {"bye": {"say": "Thank you. Goodbye.", "end": "completed"}}
    for i, (ask, expect) in enumerate(nodes):
        out[f"q{i}"] = {
            "ask": ask,
            "expect": expect,
            "save_as": f"a{i}",
            "next": f"q{i + 1}" if i + 1 < len(nodes) else "bye",
        }
    return {"start": "q0", "nodes": out}


GRAMMAR_FLOW = _flow(
    [
        ("Is this a good time to talk?", "yes_no"),
        ("Which day suits you, monday to friday?", {"choice": DAYS}),
        ("Have you visited us before?", "yes_no"),
        ("Which office is nearest: boston, chicago, denver or seattle?", {"choice": CITIES}),
    ]
)
OPEN_FLOW = _flow([(q, "text") for q in OPEN_QUESTIONS])


def agent_body(name: str, flow: dict[str, Any], turn_taking: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "dialogue": {"engine": "flow", "flow": flow},
        "voice": {"provider": "espeak", "voice_id": "en-us"},
        "transcriber": {"provider": "auto"},
        "turn_taking": turn_taking,
        "phone": {"provider": "simulator", "from_number": "+14155550100"},
        "end_call_after_silence_s": 6,
    }


def words_found(said: str, stored: Any) -> float:
    """Share of the line's words (lower case, no punctuation) in the stored answer: a rough check."""
    norm = "".join(c if c.isalnum() or c.isspace() else " " for c in str(stored).lower()).split()
    want = "".join(c if c.isalnum() or c.isspace() else " " for c in said.lower()).split()
    return round(sum(w in norm for w in want) / len(want), 2) if want else 0.0


async def run_calls(
    stack: VoiceStack, jobs: list[tuple[str, dict[str, Any]]], concurrency: int, prefix: str
) -> list[dict[str, Any]]:
    """Place every (agent, callee) call, ``concurrency`` at a time; return each call's record and callee."""
    sem = asyncio.Semaphore(concurrency)
    out: list[dict[str, Any]] = [{} for _ in jobs]

    async def one(i: int) -> None:
        agent_id, callee = jobs[i]
        async with sem:
            call_id = await stack.place_call(agent_id, f"+1555{prefix}{i:04d}", callee)
            await stack.wait_all([call_id], timeout_s=180)
            out[i] = {"call_id": call_id, "record": await stack.record(call_id), "peer": stack.peer_for(call_id)}

    await asyncio.gather(*(one(i) for i in range(len(jobs))))
    return out


def turn_rows(set_name: str, i: int, done: dict[str, Any]) -> list[dict[str, Any]]:
    record, peer = done["record"], done["peer"]
    server_turns = (record.get("latency") or {}).get("turns", [])
    timings = peer.turn_timings if peer is not None else []
    rows = []
    for n, st in enumerate(server_turns):
        timing = timings[n] if n < len(timings) else None
        rows.append(
            {
                "set": set_name,
                "call": i,
                "kind": timing.kind if timing else "unknown",
                "said": timing.text if timing else None,
                "stored": (record.get("results") or {}).get(f"a{n}"),
                **{f"{c}_ms": st[f"{c}_ms"] for c in COMPONENTS},
                "callee_ms": round(timing.response_ms, 2) if timing and timing.response_ms else None,
            }
        )
    return rows


def call_row(done: dict[str, Any], expected: dict[str, Any] | None) -> dict[str, Any]:
    record, peer = done["record"], done["peer"]
    results = record.get("results") or {}
    return {
        "call_id": done["call_id"],
        "status": record["status"],
        "end_reason": record.get("end_reason"),
        "results": results,
        "results_as_expected": None if expected is None else all(results.get(k) == v for k, v in expected.items()),
        "turns": len((record.get("latency") or {}).get("turns", [])),
        "callee_ticks_skipped": peer.ticks_skipped if peer else None,
        "callee_playout_underruns": peer.playout_underruns if peer else None,
    }


def summarize(group: list[dict[str, Any]]) -> dict[str, Any]:
    callee = [t["callee_ms"] for t in group if t["callee_ms"] is not None]
    diffs = [t["callee_ms"] - t["total_ms"] for t in group if t["callee_ms"] is not None]
    return {
        "n": len(group),
        **{
            f"{c}_ms": {"p50": pct([t[f"{c}_ms"] for t in group], 50), "p95": pct([t[f"{c}_ms"] for t in group], 95)}
            for c in COMPONENTS
        },
        "callee_ms": {"p50": pct(callee, 50), "p95": pct(callee, 95)},
        "callee_minus_server_ms": {
            "p50": pct(diffs, 50),
            "min": round(min(diffs), 2) if diffs else None,
            "max": round(max(diffs), 2) if diffs else None,
        },
    }


async def run_grammar(stack: VoiceStack, args: argparse.Namespace, tt: dict[str, Any]) -> dict[str, Any]:
    agent = await stack.create_agent(agent_body("Latency: grammar turns", GRAMMAR_FLOW, tt))
    answers = [GRAMMAR_ANSWERS[i % len(GRAMMAR_ANSWERS)] for i in range(args.calls)]
    done = await run_calls(stack, [(agent, {"says": a}) for a in answers], args.concurrency, "021")
    calls, turns = [], []
    for i, (d, a) in enumerate(zip(done, answers, strict=True)):
        expected = {"a0": a[0] == "yes", "a1": a[1], "a2": a[2] == "yes", "a3": a[3]}
        calls.append(call_row(d, expected))
        turns += [t for t in turn_rows("grammar", i, d) if t["kind"] == "speech"]
    return {"summary": summarize(turns), "calls": calls, "turns": turns}


async def run_open(stack: VoiceStack, args: argparse.Namespace, tt: dict[str, Any]) -> dict[str, Any]:
    agent = await stack.create_agent(agent_body("Latency: open speech", OPEN_FLOW, tt))
    answers = [OPEN_ANSWERS[i % len(OPEN_ANSWERS)] for i in range(args.calls)]
    done = await run_calls(stack, [(agent, {"says": a}) for a in answers], args.concurrency, "022")
    calls, turns = [], []
    for i, d in enumerate(done):
        calls.append(call_row(d, None))
        for t in turn_rows("open", i, d):
            if t["kind"] == "speech":
                t["words_found"] = words_found(t["said"] or "", t["stored"])
                turns.append(t)
    out: dict[str, Any] = {"summary": summarize(turns), "calls": calls, "turns": turns}
    out["summary"]["words_found_mean"] = (
        round(sum(t["words_found"] for t in turns) / len(turns), 3) if turns else None
    )
    return out


def cut_in(done: dict[str, Any], line: str, must: list[str]) -> dict[str, Any]:
    """Did the agent take the turn inside the caller's pause? One answer per call."""
    record, peer = done["record"], done["peer"]
    transcript = record.get("transcript") or []
    users = [t for t in transcript if t["role"] == "user"]
    timing = peer.turn_timings[0] if peer is not None and peer.turn_timings else None
    spoken = [s for s in (peer.lines_spoken if peer is not None else []) if s.trigger.startswith("listen:")]
    agent_inside = False
    line_end_ms = None
    if spoken and peer is not None:
        # The line's frames were prepared at call start (read only): its last voiced frame gives
        # when the caller's last word went out, on the callee's stream clock.
        prepared = getattr(peer, "_prepared", {}).get(line)
        if prepared is not None and prepared.done():
            line_start_ms = spoken[0].at_s * 1000
            line_end_ms = line_start_ms + (prepared.result().last_voiced + 1) * 20
            # an agent turn (after the question) that started while the caller was still answering
            agent_inside = any(
                t["role"] == "agent" and line_start_ms < t["start_ms"] < line_end_ms - 20 for t in transcript
            )
    interrupted = any(t["role"] == "agent" and t.get("interrupted") for t in transcript)
    stored = (record.get("results") or {}).get("a0")
    complete = stored is not None and all(any(a in str(stored).lower() for a in w.split("|")) for w in must)
    split = len(users) > 1
    return {
        "call_id": done["call_id"],
        "said": line,
        "user_turns": [u["text"] for u in users],
        "stored": stored,
        "answer_complete": complete,
        "split_into_turns": split,
        "agent_spoke_inside_answer": agent_inside,
        "agent_reply_interrupted": interrupted,
        "cleared": getattr(peer, "cleared", None),
        "caller_last_word_ms": round(line_end_ms) if line_end_ms is not None else None,
        "agent_replies_ms": [t["start_ms"] for t in transcript if t["role"] == "agent"],
        "cut_in": split or agent_inside or interrupted,
        "callee_ms": round(timing.response_ms, 2) if timing and timing.response_ms else None,
        "server_total_ms": ((record.get("latency") or {}).get("turns") or [{}])[0].get("total_ms"),
    }


JUDGEMENTS: list[float] = []
JUDGE_MS: list[float] = []


def probe_turn_model() -> None:
    """Keep every Smart Turn probability the sessions receive, and the time from the pause being
    handed to the model to its answer coming back (wraps ``TurnJudging``; read only)."""
    from callwright.voice import turn_judging

    cls = turn_judging.TurnJudging
    init, paused = cls.__init__, cls.paused
    if getattr(init, "bench_probe", False):
        return

    def wrapped(self: Any, model: Any, deliver: Any) -> None:
        def keep(judged: Any) -> None:
            JUDGEMENTS.append(judged.probability)
            started = getattr(self, "_bench_paused_at", None)
            if started is not None:
                JUDGE_MS.append((time.monotonic() - started) * 1000)
            deliver(judged)

        init(self, model, keep)

    def wrapped_paused(self: Any, signal: Any, audio: bytes) -> None:
        self._bench_paused_at = time.monotonic()
        paused(self, signal, audio)

    wrapped.bench_probe = True  # type: ignore[attr-defined]
    cls.__init__ = wrapped  # type: ignore[method-assign]
    cls.paused = wrapped_paused  # type: ignore[method-assign]


def judgement_stats() -> dict[str, Any]:
    judged = sorted(JUDGEMENTS)
    return {
        "n": len(judged),
        "at_or_above_threshold": sum(p >= 0.5 for p in judged),
        "values": [round(p, 3) for p in judged],
        "pause_to_judgement_ms": {"p50": pct(JUDGE_MS, 50), "p95": pct(JUDGE_MS, 95), "max": pct(JUDGE_MS, 100)},
    }


async def run_pauses(stack: VoiceStack, args: argparse.Namespace) -> dict[str, Any]:
    agents: dict[tuple[str, int], str] = {}
    jobs: list[tuple[str, dict[str, Any]]] = []
    index: list[tuple[str, int]] = []
    for det in DETECTORS:
        tt = {"detector": det, "endpointing_ms": ENDPOINTING_MS}
        for k, (expect, question, line, _) in enumerate(PAUSE_ANSWERS):
            body = agent_body(f"Pauses {det} {k}", _flow([(question, expect)]), tt)
            agents[(det, k)] = await stack.create_agent(body)
            for _ in range(args.pause_repeats):
                jobs.append((agents[(det, k)], {"says": [line]}))
                index.append((det, k))
    done = await run_calls(stack, jobs, args.concurrency, "023")
    per: dict[str, list[dict[str, Any]]] = {d: [] for d in DETECTORS}
    for (det, k), d in zip(index, done, strict=True):
        per[det].append(cut_in(d, PAUSE_ANSWERS[k][2], PAUSE_ANSWERS[k][3]))
    summary = {}
    for det, rows in per.items():
        n = len(rows)
        summary[det] = {
            "answers": n,
            "cut_in": sum(r["cut_in"] for r in rows),
            "split_into_turns": sum(r["split_into_turns"] for r in rows),
            "agent_spoke_inside_answer": sum(r["agent_spoke_inside_answer"] for r in rows),
            "agent_reply_interrupted": sum(r["agent_reply_interrupted"] for r in rows),
            "answer_complete": sum(r["answer_complete"] for r in rows),
            "response_after_last_word_ms": {
                "p50": pct([r["server_total_ms"] for r in rows if not r["cut_in"] and r["server_total_ms"]], 50),
                "p95": pct([r["server_total_ms"] for r in rows if not r["cut_in"] and r["server_total_ms"]], 95),
            },
        }
    met = summary["smart_turn"]["cut_in"] <= summary["silence"]["cut_in"]
    return {
        "summary": summary,
        "requirement": {"smart_turn_cut_ins_le_silence_500ms": met},
        "answers": per,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sets = ["grammar", "open", "pauses"] if args.set == "all" else [args.set]
    tt = {"detector": args.detector, "endpointing_ms": args.endpointing_ms}
    out: dict[str, Any] = {}
    if args.callee_voice == "piper":
        load = getattr(callee_synthesizer("piper"), "load", None)
        if load is not None:
            await asyncio.to_thread(load)
    probe_turn_model()
    async with VoiceStack(callee_voice=args.callee_voice, ring_ms=100) as stack:
        meter = CpuMeter()
        meter.start()
        started = time.monotonic()
        for name in sets:
            t0 = time.monotonic()
            load0 = os.getloadavg()[0]
            JUDGEMENTS.clear()
            JUDGE_MS.clear()
            if name == "grammar":
                out[name] = await run_grammar(stack, args, tt)
            elif name == "open":
                out[name] = await run_open(stack, args, tt)
            else:
                out[name] = await run_pauses(stack, args)
            out[name]["smart_turn"] = judgement_stats()
            out[name]["elapsed_s"] = round(time.monotonic() - t0, 1)
            out[name]["loadavg_1m"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
            stack.forget_peers()
        usage = meter.stop()
        elapsed = time.monotonic() - started
    targets: dict[str, Any] = {}
    for name in ("grammar", "open"):
        if name in out and out[name]["summary"]["n"]:
            s = out[name]["summary"]
            targets[f"{name}_p50_ms"] = {
                "target": TARGET_P50_MS, "measured": s["total_ms"]["p50"], "met": s["total_ms"]["p50"] <= TARGET_P50_MS,
                "callee_clock": s["callee_ms"]["p50"],
            }
            targets[f"{name}_overhead_p95_ms"] = {
                "target": 5.0, "measured": s["overhead_ms"]["p95"], "met": s["overhead_ms"]["p95"] <= 5.0,
            }
    if "pauses" in out:
        p = out["pauses"]["summary"]
        targets["pauses_smart_turn_cut_ins_le_silence"] = {
            "target": f"<= {p['silence']['cut_in']}", "measured": p["smart_turn"]["cut_in"],
            "met": out["pauses"]["requirement"]["smart_turn_cut_ins_le_silence_500ms"],
        }
    return {
        "parameters": {
            "sets": sets,
            "calls": args.calls,
            "concurrency": args.concurrency,
            "turn_taking": tt,
            "pause_detectors": {d: {"detector": d, "endpointing_ms": ENDPOINTING_MS} for d in DETECTORS},
            "pause_repeats": args.pause_repeats,
            "agent": "flow, espeak en-us, transcriber auto (pocketsphinx grammars / Whisper tiny.en)",
            "callee_voice": args.callee_voice,
        },
        "elapsed_s": round(elapsed, 1),
        "process": usage,
        "targets": targets,
        "summary": {name: out[name]["summary"] for name in out},
        "sets": out,
    }


def show(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    params = result["parameters"]
    s = result["summary"]
    groups = [g for g in ("grammar", "open") if g in s and s[g]["n"]]
    if groups:
        table = Table(
            title=f"Response latency, {params['calls']} calls a set ({params['concurrency']} at a time), ms; "
            f"turn_taking {params['turn_taking']}"
        )
        table.add_column("component")
        for g in groups:
            table.add_column(f"{g} p50", justify="right")
            table.add_column(f"{g} p95", justify="right")
        for c in (*COMPONENTS, "callee"):
            label = {"total": "total (server record)", "callee": "total (callee's clock)"}.get(c, c)
            table.add_row(label, *(f"{s[g][f'{c}_ms'][q]:.1f}" for g in groups for q in ("p50", "p95")))
        table.add_row("turns", *(x for g in groups for x in (str(s[g]["n"]), "")))
        console.print(table)
        for g in groups:
            calls = result["sets"][g]["calls"]
            ok = [c["results_as_expected"] for c in calls if c["results_as_expected"] is not None]
            extra = f", words found (mean) {s[g]['words_found_mean']}" if g == "open" else ""
            st = result["sets"][g]["smart_turn"]
            console.print(
                f"{g}: calls {len(calls)}, completed {sum(c['status'] == 'completed' for c in calls)}, "
                f"results as scripted {sum(ok)}/{len(ok)}{extra}, load {result['sets'][g]['loadavg_1m']}, "
                f"Smart Turn judgements {st['n']} (pause -> answer p50 {st['pause_to_judgement_ms']['p50']} "
                f"p95 {st['pause_to_judgement_ms']['p95']} ms)"
            )
    if "pauses" in s:
        table = Table(title="Mid-answer pauses: cut-ins (one answer a call)")
        for col in ("detector", "answers", "cut in", "split", "agent inside", "reply cut", "complete",
                    "resp p50", "resp p95"):
            table.add_column(col, justify="right")
        for det, p in s["pauses"].items():
            r = p["response_after_last_word_ms"]
            table.add_row(det, str(p["answers"]), str(p["cut_in"]), str(p["split_into_turns"]),
                          str(p["agent_spoke_inside_answer"]), str(p["agent_reply_interrupted"]),
                          str(p["answer_complete"]), f"{r['p50']}", f"{r['p95']}")
        console.print(table)
        st = result["sets"]["pauses"]["smart_turn"]
        console.print(
            f"Smart Turn on the pauses: {st['at_or_above_threshold']}/{st['n']} judged complete: {st['values']}"
        )
    console.print(f"process CPU {result['process']['cpu_pct']} % of one core, {result['elapsed_s']} s")
    for name, t in result["targets"].items():
        verdict = "[green]met[/]" if t["met"] else "[red]MISSED[/]"
        console.print(f"target {name}: measured {t['measured']} vs {t['target']} -> {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("grammar", "open", "pauses", "all"), default="all")
    parser.add_argument("--calls", type=int, default=4, help="calls per set (grammar: 4 turns, open: 3 turns)")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pause-repeats", type=int, default=1, help="pauses: calls per answer and detector")
    parser.add_argument("--detector", choices=("smart_turn", "silence"), default="smart_turn",
                        help="grammar/open: turn_taking.detector")
    parser.add_argument("--endpointing-ms", type=int, default=ENDPOINTING_MS)
    parser.add_argument("--callee-voice", default="piper", help="'piper', an espeak voice (en-gb), or 'tone'")
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
