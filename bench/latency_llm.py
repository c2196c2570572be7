"""``python bench/latency.py --engine llm``: response latency of an LLM agent over real simulated
calls, against a local model server with a set time to first token and token rate.

The model server is the tests' fake Chat Completions server (``tests/fakes/openai_server.py``,
streamed), in a child process as a provider would be elsewhere (in a thread of this process
it would compete for the server's GIL), scripted per caller line: every answer is two
sentences, the first one short; the last answer also calls ``end_call``. Its schedule:
request received -> first content token after ``--ttft-ms``, then one ~4-character token
every 1/``--tokens-per-s`` seconds. It stamps (``time.monotonic``: CLOCK_MONOTONIC, the
clock the session uses too, shared by the processes) when each request arrived and when
each stream chunk left.

The agent (``engine: llm``, espeak voice, the scripted transcriber given the callee's exact
lines, endpointing 500 ms) talks to it through the server's settings (``openai_base_url``).
The callee (real audio over the Media Streams WebSocket) asks one or two questions, then says
goodbye.

Per turn, all on the same monotonic clock:
- the stored record's ``latency`` (endpointing, STT, dialogue, tools, TTS first frame,
  overhead, total), and the callee's own clock, as in the flow run;
- the session's turn timer and the dialogue's per-request log (``LlmDialogue.requests``: the
  client-side TTFT), which the record does not keep: the benchmark wraps
  ``LatencyTracker.first_audio`` and ``CallSession.run`` in this process to keep them (read
  only: one list append per turn, nothing the session does changes);
- the model server's stamps.

So "dialogue" (transcript ready -> first sentence speakable) splits into: the request path
(transcript ready -> request at the model server), the provider's time to the token that
completes the first sentence (TTFT + that sentence's tokens), and what comes after that token
(waiting for the next fragment, parsing, sentence splitting).

Writes bench/results/latency_llm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import logging
import multiprocessing as mp
import re
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: tests.fakes

from starlette.requests import Request
from starlette.responses import Response
from tests.fakes.openai_server import FakeOpenAIServer, Reply, ToolCall

from callwright.voice.latency import LatencyTracker, TurnTimer
from callwright.voice.sentences import SentenceSplitter
from callwright.voice.session import CallSession
from voice_common import CpuMeter, VoiceStack, pct

API_KEY = "sk-bench-latency"
MODEL = "fake-model"
CHUNK_CHARS = 4  # about one token
RECORD = ("endpointing", "stt", "dialogue", "tools", "tts", "overhead", "total")
PROMPT = "You are the front desk of Acme Dental. Answer in two short sentences. Call reference: {{ref}}."
FIRST_MESSAGE = "Hello, this is Acme Dental. How can I help?"
GOODBYE = "That is all I needed."
# Caller line -> (the model's answer, whether it ends the call). First sentences of 4-6 words.
ANSWERS: dict[str, tuple[str, bool]] = {
    "What time do you open tomorrow?": ("We open at nine tomorrow. Would you like me to book a visit?", False),
    "Do you take walk in patients?": ("Yes, walk-ins are welcome here. Mornings are usually the quietest.", False),
    "How long is the usual wait?": ("It is about twenty minutes. Fridays can be a little longer.", False),
    GOODBYE: ("You are very welcome then. Have a lovely day!", True),
}
FALLBACK = "Sorry, could you say that again? I did not catch it."
CALLEES: list[list[str]] = [
    ["What time do you open tomorrow?", GOODBYE],
    ["Do you take walk in patients?", "How long is the usual wait?", GOODBYE],
]
_REF = re.compile(r"Call reference: (\S+?)\.")
_ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("arrived")


def first_sentence_tokens(text: str, size: int = CHUNK_CHARS) -> int:
    """Which streamed chunk (1-based) lets the session's sentence splitter end the first sentence:
    after a full stop it needs the next word's first letter."""
    splitter = SentenceSplitter()
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    for n, chunk in enumerate(chunks, 1):
        if splitter.push(chunk):
            return n
    return len(chunks)


# --- the model server -----------------------------------------------------------------------


@dataclass
class ModelRequest:
    """One streamed request as the model server saw it (monotonic seconds)."""

    ref: str
    turn: int  # user messages in the request: the dialogue's turn number
    heard: str
    arrived: float  # the request reached the server's handler (headers parsed, body not yet read)
    first_sentence_chunk: int  # content chunk (1-based) that completes the first sentence
    sent: list[float] = field(default_factory=list)  # per stream chunk; [0] is the role chunk


class BenchModel:
    """The fake model server, answering by the caller's last line on a fixed token schedule."""

    def __init__(self, ttft_s: float, tokens_per_s: float) -> None:
        self.ttft_s = ttft_s
        self.token_s = 1.0 / tokens_per_s
        self.requests: dict[int, ModelRequest] = {}  # id(request body) -> its stamps
        self.rejected_other = 0
        self._lock = threading.Lock()
        self.server = _TimedServer(self)

    def answer(self, body: dict[str, Any]) -> Reply:
        if not body.get("stream"):  # post-call analysis: not measured here, falls back to its rules
            self.rejected_other += 1
            return Reply.error(400, "post-call analysis is not part of this benchmark")
        messages = body.get("messages") or []
        system = str(messages[0].get("content") or "") if messages else ""
        users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
        heard = users[-1] if users else ""
        text, ends = ANSWERS.get(heard, (FALLBACK, False))
        found = _REF.search(system)
        record = ModelRequest(
            ref=found.group(1) if found else "?",
            turn=len(users),
            heard=heard,
            arrived=_ARRIVED.get(time.monotonic()),
            first_sentence_chunk=first_sentence_tokens(text),
        )
        with self._lock:
            self.requests[id(body)] = record
        # The role chunk goes first; the first content token one token interval later, at TTFT.
        timing: dict[str, Any] = {
            "delay_s": max(0.0, self.ttft_s - self.token_s),
            "chunk_delay_s": self.token_s,
            "chunk_chars": CHUNK_CHARS,
        }
        if ends:
            return Reply.tools(ToolCall("end_call", {}), content=text, **timing)
        return Reply.text(text, **timing)

    def stamps(self, body: dict[str, Any]) -> ModelRequest | None:
        with self._lock:
            return self.requests.get(id(body))

    def all_stamps(self) -> list[ModelRequest]:
        with self._lock:
            return sorted(self.requests.values(), key=lambda r: r.arrived)


class _TimedServer(FakeOpenAIServer):
    """The tests' fake, stamping when each stream chunk is handed to the server."""

    def __init__(self, model: BenchModel) -> None:
        super().__init__(api_key=API_KEY, models=(MODEL,), default=model.answer)
        self._model = model

    async def _completions(self, request: Request) -> Response:
        _ARRIVED.set(time.monotonic())  # read by ``BenchModel.answer``, in the same task
        return await super()._completions(request)

    async def _stream(self, body: dict[str, Any], reply: Reply) -> AsyncIterator[bytes]:
        record = self._model.stamps(body)
        async for piece in super()._stream(body, reply):
            if record is not None:
                record.sent.append(time.monotonic())
            yield piece


def _model_process(conn: Any, ttft_s: float, tokens_per_s: float) -> None:
    """The child: serve until told to stop; on request, send back every request's stamps."""
    model = BenchModel(ttft_s, tokens_per_s)
    with model.server:
        conn.send(model.server.base_url)
        while (command := conn.recv()) != "stop":
            if command == "stamps":
                conn.send(([asdict(r) for r in model.all_stamps()], model.rejected_other))
    conn.send("stopped")


class ModelProcess:
    """``async with ModelProcess(...) as model``: the bench model server in a child process."""

    def __init__(self, ttft_s: float, tokens_per_s: float) -> None:
        self._conn, child = mp.get_context("spawn").Pipe()
        self._process = mp.get_context("spawn").Process(
            target=_model_process, args=(child, ttft_s, tokens_per_s), daemon=True, name="bench-model"
        )
        self.base_url = ""

    async def _ask(self, command: str | None) -> Any:
        if command is not None:
            self._conn.send(command)
        ready = await asyncio.to_thread(self._conn.poll, 60)
        if not ready:
            raise RuntimeError("the model server process did not answer")
        return self._conn.recv()

    async def __aenter__(self) -> ModelProcess:
        self._process.start()
        self.base_url = str(await self._ask(None))
        return self

    async def stamps(self) -> tuple[list[ModelRequest], int]:
        records, other = await self._ask("stamps")
        return [ModelRequest(**r) for r in records], int(other)

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self._ask("stop")
        await asyncio.to_thread(self._process.join, 10)
        if self._process.is_alive():
            self._process.terminate()


# --- probes in the session (read only) -------------------------------------------------------


@contextlib.contextmanager
def session_probes() -> Iterator[None]:
    """Keep each finished turn timer and the dialogue's request log on the session's result
    (``bench_probe``, collected by ``VoiceStack``). Costs one list append per turn."""
    original_run = CallSession.run
    original_first_audio = LatencyTracker.first_audio

    def first_audio(self: LatencyTracker, at: float) -> None:
        timer = self.current
        was_open = timer is not None and timer.first_audio is None
        original_first_audio(self, at)
        if was_open and timer is not None and timer.first_audio is not None:
            self.__dict__.setdefault("_bench_timers", []).append(timer)

    async def run(self: CallSession) -> Any:
        result = await original_run(self)
        probe = {
            "timers": list(self._latency.__dict__.get("_bench_timers", [])),
            "requests": [dict(r) for r in getattr(self.dialogue, "requests", [])],
        }
        setattr(result, "bench_probe", probe)  # noqa: B010 - SessionResult has no such field
        return result

    setattr(CallSession, "run", run)  # noqa: B010
    setattr(LatencyTracker, "first_audio", first_audio)  # noqa: B010
    try:
        yield
    finally:
        setattr(CallSession, "run", original_run)  # noqa: B010
        setattr(LatencyTracker, "first_audio", original_first_audio)  # noqa: B010


# --- the run ---------------------------------------------------------------------------------


def agent_body(lines: list[str], endpointing_ms: int, ttft_s: float) -> dict[str, Any]:
    return {
        "name": "Latency benchmark (LLM)",
        "prompt": PROMPT,
        "first_message": FIRST_MESSAGE,
        "dialogue": {"engine": "llm", "model": MODEL, "timeout_s": min(30.0, max(4.0, ttft_s + 2))},
        "voice": {"provider": "espeak", "voice_id": "en-us"},
        "transcriber": {"provider": "scripted", "hints": lines},
        "turn_taking": {"endpointing_ms": endpointing_ms},
        "phone": {"provider": "simulator", "from_number": "+14155550100"},
        "end_call_after_silence_s": 10,
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def turn_detail(
    timer: TurnTimer | None, model_requests: list[ModelRequest], client_requests: list[dict[str, Any]], t0: float
) -> dict[str, Any]:
    """The dialogue component split by the model server's and the session's stamps; ``at_s``:
    the turn's stamps in seconds since ``t0`` (to see which turns of two calls overlapped)."""
    if timer is None or timer.stt_done is None or timer.dialogue_first is None:
        return {}
    stt_done, first = timer.stt_done, timer.dialogue_first
    stamps = ("speech_end", "endpoint", "stt_done", "dialogue_first", "first_audio")
    at = {name: round(v - t0, 4) for name in stamps if (v := getattr(timer, name)) is not None}
    request = next((r for r in model_requests if stt_done <= r.arrived <= first), None)
    if request is None or len(request.sent) <= request.first_sentence_chunk:
        return {}
    k = request.first_sentence_chunk
    at["model_request"] = round(request.arrived - t0, 4)
    out: dict[str, Any] = {
        "at_s": at,
        "first_sentence_tokens": k,
        "request_ms": _ms(request.arrived - stt_done),
        "provider_ttft_ms": _ms(request.sent[1] - request.arrived),
        "provider_first_sentence_ms": _ms(request.sent[k] - request.arrived),
        "after_last_token_ms": _ms(first - request.sent[k]),
    }
    if len(request.sent) > k + 1:  # the chunk after the one that completes the sentence
        out["next_token_wait_ms"] = _ms(request.sent[k + 1] - request.sent[k])
        out["after_next_token_ms"] = _ms(first - request.sent[k + 1])
    client = next((c for c in client_requests if c.get("turn") == request.turn), None)
    if client is not None and client.get("ttft_ms") is not None:
        out["client_ttft_ms"] = client["ttft_ms"]
    return out


async def run_llm(args: argparse.Namespace) -> dict[str, Any]:
    ttft_s = args.ttft_ms / 1000
    raw: list[dict[str, Any]] = []  # per call, what the stack kept; turns are built once the stamps are in
    calls: list[dict[str, Any]] = []
    # Post-call analysis asks the same server (not streamed); it is refused and falls back to rules.
    logging.getLogger("callwright.services.analysis.llm").setLevel(logging.ERROR)
    async with ModelProcess(ttft_s, args.tokens_per_s) as model:
        settings = {"openai_base_url": model.base_url, "openai_api_key": API_KEY}
        with session_probes():
            async with VoiceStack(callee_voice=args.callee_voice, ring_ms=100, settings=settings) as stack:
                agents = [await stack.create_agent(agent_body(lines, args.endpointing_ms, ttft_s)) for lines in CALLEES]
                sem = asyncio.Semaphore(args.concurrency)
                meter = CpuMeter()
                meter.start()

                async def one(i: int) -> None:
                    async with sem:
                        kind = i % len(CALLEES)
                        lines = CALLEES[kind]
                        ref = f"bench-{i}"
                        r = await stack.api.post(
                            "/v1/calls",
                            json={
                                "agent_id": agents[kind],
                                "to": f"+1555020{i:04d}",
                                "simulated_callee": {"says": lines},
                                "variables": {"ref": ref},
                            },
                        )
                        r.raise_for_status()
                        call_id = str(r.json()["id"])
                        await stack.wait_all([call_id], timeout_s=180)
                        record = await stack.record(call_id)
                        peer = stack.peer_for(call_id)
                        probe = stack.probes.get(call_id) or {}
                        spoken = " ".join(t["text"] for t in record.get("transcript", []) if t["role"] == "agent")
                        server_turns = (record.get("latency") or {}).get("turns", [])
                        calls.append(
                            {
                                "call_id": call_id,
                                "ref": ref,
                                "status": record["status"],
                                "end_reason": record.get("end_reason"),
                                "answers_as_scripted": all(ANSWERS[line][0] in spoken for line in lines),
                                "ended_by_end_call": [c["name"] for c in record.get("tool_calls", [])] == ["end_call"],
                                "turns": len(server_turns),
                                "turn_timers": len(probe.get("timers", [])),
                                "callee_ticks_skipped": peer.ticks_skipped if peer else None,
                            }
                        )
                        raw.append(
                            {
                                "call": i,
                                "ref": ref,
                                "server_turns": server_turns,
                                "timings": list(peer.turn_timings) if peer is not None else [],
                                "timers": probe.get("timers", []),
                                "requests": probe.get("requests", []),
                            }
                        )

                started = time.monotonic()
                await asyncio.gather(*(one(i) for i in range(args.calls)))
                usage = meter.stop()
                elapsed = time.monotonic() - started
        stamps, other_requests = await model.stamps()

    turns: list[dict[str, Any]] = []
    for c in sorted(raw, key=lambda c: int(c["call"])):
        model_requests = [r for r in stamps if r.ref == c["ref"]]
        timers: list[TurnTimer] = c["timers"]
        aligned = len(timers) == len(c["server_turns"])
        for n, st in enumerate(c["server_turns"]):
            timing = c["timings"][n] if n < len(c["timings"]) else None
            row: dict[str, Any] = {
                "call": c["call"],
                "turn": n + 1,
                "kind": timing.kind if timing else "unknown",
                "said": timing.text if timing else None,
                **{f"{k}_ms": st[f"{k}_ms"] for k in RECORD},
                "callee_ms": round(timing.response_ms, 2) if timing and timing.response_ms else None,
            }
            row["check_ms"] = round(st["total_ms"] - st["endpointing_ms"] - st["dialogue_ms"] - st["tts_ms"], 2)
            row["dialogue_minus_ttft_ms"] = round(st["dialogue_ms"] - args.ttft_ms, 2)
            row.update(turn_detail(timers[n] if aligned else None, model_requests, c["requests"], started))
            if "provider_first_sentence_ms" in row:
                row["platform_ms"] = round(
                    st["total_ms"] - st["endpointing_ms"] - st["tts_ms"] - row["provider_first_sentence_ms"], 2
                )
            turns.append(row)

    speech = [t for t in turns if t["kind"] == "speech"]
    keys = [
        *(f"{c}_ms" for c in RECORD),
        "callee_ms",
        "check_ms",
        "dialogue_minus_ttft_ms",
        "request_ms",
        "client_ttft_ms",
        "provider_ttft_ms",
        "provider_first_sentence_ms",
        "after_last_token_ms",
        "next_token_wait_ms",
        "after_next_token_ms",
        "platform_ms",
    ]
    summary: dict[str, Any] = {"n": len(speech)}
    for key in keys:
        values = [t[key] for t in speech if t.get(key) is not None]
        summary[key] = (
            {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "max": round(max(values), 2)}
            if values
            else None
        )
    diffs = [t["callee_ms"] - t["total_ms"] for t in speech if t["callee_ms"] is not None]
    summary["callee_minus_server_ms"] = (
        {"p50": pct(diffs, 50), "min": round(min(diffs), 2), "max": round(max(diffs), 2)} if diffs else None
    )
    # A call's first model request also pays for its client (and the process's first, for imports).
    summary["by_turn"] = {
        name: {
            key: {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95)}
            for key in ("request_ms", "platform_ms", "overhead_ms")
            if (values := [t[key] for t in speech if t.get(key) is not None and (t["turn"] == 1) == first])
        }
        for name, first in (("first_turn_of_call", True), ("later_turns", False))
    }
    token_ms = 1000 / args.tokens_per_s
    ks = sorted({t["first_sentence_tokens"] for t in speech if "first_sentence_tokens" in t})
    overhead_p95 = summary["overhead_ms"]["p95"] if summary["overhead_ms"] else float("nan")
    platform = summary["platform_ms"]
    return {
        "parameters": {
            "engine": "llm",
            "calls": args.calls,
            "concurrency": args.concurrency,
            "endpointing_ms": args.endpointing_ms,
            "ttft_ms": args.ttft_ms,
            "tokens_per_s": args.tokens_per_s,
            "chars_per_token": CHUNK_CHARS,
            "first_sentence_tokens": ks,
            "expected_provider_first_sentence_ms": [round(args.ttft_ms + (k - 1) * token_ms, 2) for k in ks],
            "agent": "LLM (local fake Chat Completions server, streamed), espeak en-us, scripted transcriber",
            "callee_voice": args.callee_voice,
        },
        "elapsed_s": round(elapsed, 1),
        "process": usage,
        "model_server": {"conversation_requests": len(stamps), "other_requests_refused": other_requests},
        "targets": {
            "overhead_p95_ms": {"target": 5.0, "measured": overhead_p95, "met": overhead_p95 <= 5.0},
            "platform_beyond_provider_times_p95_ms": {
                "target": 5.0,
                "measured": platform["p95"] if platform else None,
                "met": bool(platform and platform["p95"] <= 5.0),
            },
        },
        "summary": summary,
        "calls": calls,
        "turns": turns,
    }


def show_llm(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    p = result["parameters"]
    s = result["summary"]
    table = Table(
        title=f"LLM response latency, {p['calls']} calls ({p['concurrency']} at a time), ms: endpointing "
        f"{p['endpointing_ms']}, TTFT {p['ttft_ms']:g}, {p['tokens_per_s']:g} tokens/s"
    )
    table.add_column("per speech turn")
    for name in ("p50", "p95", "max"):
        table.add_column(name, justify="right")
    rows = [
        ("endpointing", "endpointing_ms"),
        ("stt (scripted)", "stt_ms"),
        ("dialogue", "dialogue_ms"),
        ("tools", "tools_ms"),
        ("tts (first frame)", "tts_ms"),
        ("overhead (record)", "overhead_ms"),
        ("total (server record)", "total_ms"),
        ("total (callee's clock)", "callee_ms"),
        ("total - (endpointing + dialogue + tts)", "check_ms"),
        ("dialogue - configured TTFT", "dialogue_minus_ttft_ms"),
        ("  request path (transcript -> model server)", "request_ms"),
        ("  provider: first token", "provider_ttft_ms"),
        ("  provider: token completing 1st sentence", "provider_first_sentence_ms"),
        ("  after that token -> sentence speakable", "after_last_token_ms"),
        ("    of which waiting for the next token", "next_token_wait_ms"),
        ("    after the next token", "after_next_token_ms"),
        ("  TTFT as the client saw it", "client_ttft_ms"),
        ("platform = total - (endpointing + provider + tts)", "platform_ms"),
    ]
    for label, key in rows:
        v = s.get(key)
        table.add_row(label, *((f"{v[q]:.1f}" for q in ("p50", "p95", "max")) if v else ("-", "-", "-")))
    console.print(table)
    for name, figures in s["by_turn"].items():
        text = ", ".join(f"{k[:-3]} p50 {v['p50']:.1f} / p95 {v['p95']:.1f}" for k, v in figures.items())
        console.print(f"{name.replace('_', ' ')} (n={next(iter(figures.values()))['n'] if figures else 0}): {text}")
    d = s["callee_minus_server_ms"]
    if d:
        console.print(f"callee - server: p50 {d['p50']:.1f} ms (min {d['min']}, max {d['max']})")
    calls = result["calls"]
    console.print(
        f"calls: {len(calls)}, completed: {sum(c['status'] == 'completed' for c in calls)}, answers as scripted: "
        f"{sum(c['answers_as_scripted'] for c in calls)}/{len(calls)}, ended by end_call: "
        f"{sum(c['ended_by_end_call'] for c in calls)}/{len(calls)}, speech turns: {s['n']}; first sentence "
        f"complete at token {p['first_sentence_tokens']} (provider schedule "
        f"{p['expected_provider_first_sentence_ms']} ms); process CPU {result['process']['cpu_pct']} % of one core"
    )
    for name, t in result["targets"].items():
        verdict = "[green]met[/]" if t["met"] else "[red]MISSED[/]"
        console.print(f"target {name}: measured {t['measured']} vs {t['target']} -> {verdict}")
