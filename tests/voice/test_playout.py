"""Outbound playout: paced μ-law frames, marks, confirmation by echo, cut on cancel."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.voice.voice_fakes import WordToneSynth

from callwright.voice.playout import Playout, Sentence, cut_text
from callwright.voice.transport import QueueTransport


async def sent_until_mark(transport: QueueTransport, mark: str) -> list[tuple[str, object]]:
    items: list[tuple[str, object]] = []
    while True:
        kind, value = await asyncio.wait_for(transport.outbound.get(), 5)
        items.append((kind, value))
        if kind == "mark" and value == mark:
            return items


async def test_each_sentence_is_160_byte_frames_then_a_say_mark() -> None:
    transport = QueueTransport()
    playout = Playout(transport, WordToneSynth(ms_per_word=100))
    playout.start()
    playout.speak("one two")
    playout.speak("three")
    items = await sent_until_mark(transport, "say:2")
    await playout.close()
    marks = [(i, v) for i, (k, v) in enumerate(items) if k == "mark"]
    assert [v for _, v in marks] == ["say:1", "say:2"]
    frames = [v for k, v in items if k == "audio"]
    assert all(isinstance(f, bytes) and len(f) == 160 for f in frames)
    assert marks[0][0] == 10 and len(frames) == 15  # 200 ms then 100 ms of audio


async def test_end_turn_names_the_last_sentences_mark() -> None:
    transport = QueueTransport()
    playout = Playout(transport, WordToneSynth())
    playout.start()
    playout.speak("hello there")
    playout.speak("can you come")
    playout.end_turn("listen:confirm")
    items = await sent_until_mark(transport, "listen:confirm")
    await playout.close()
    assert [v for k, v in items if k == "mark"] == ["say:1", "listen:confirm"]


async def test_end_turn_after_everything_was_sent_sends_a_bare_mark() -> None:
    transport = QueueTransport()
    playout = Playout(transport, WordToneSynth(ms_per_word=20))
    playout.start()
    playout.speak("hi")
    await sent_until_mark(transport, "say:1")
    playout.end_turn("listen:")
    assert (await sent_until_mark(transport, "listen:"))[-1] == ("mark", "listen:")
    await playout.close()


async def test_frames_are_paced_at_real_time_after_the_lead() -> None:
    transport = QueueTransport()
    stamps: list[float] = []
    playout = Playout(transport, WordToneSynth(ms_per_word=100), lead_frames=2)
    original = transport.send_audio

    async def stamped(frame: bytes) -> None:
        stamps.append(time.monotonic())
        await original(frame)

    transport.send_audio = stamped  # type: ignore[method-assign]
    playout.start()
    playout.speak("a b c")
    await sent_until_mark(transport, "say:1")
    await playout.close()
    assert len(stamps) == 15
    for k, stamp in enumerate(stamps):
        # Frame k may go out 2 frames (the lead) before its playout slot, never earlier.
        assert stamp - stamps[0] >= (k - 3) * 0.020 - 0.002
    assert len(playout.lateness_ms) == 15


async def test_marks_confirm_sentences_and_clear_busy() -> None:
    transport = QueueTransport()
    playout = Playout(transport, WordToneSynth(ms_per_word=20))
    playout.start()
    first = playout.speak("one")
    second = playout.speak("two")
    await sent_until_mark(transport, "say:2")
    assert playout.busy
    playout.on_mark("say:1")
    assert first.confirmed and not second.confirmed and playout.busy
    playout.on_mark("say:2")
    assert second.confirmed and not playout.busy
    await playout.close()


async def test_cancel_sends_clear_and_cuts_the_playing_sentence() -> None:
    transport = QueueTransport()
    reached = asyncio.Event()

    def on_frame(sentence: Sentence, frame: bytes, play_at: float) -> None:
        if sentence.sent >= 20:  # about 400 ms of a 1 s sentence
            reached.set()

    playout = Playout(transport, WordToneSynth(ms_per_word=100), on_frame=on_frame)
    playout.start()
    playing = playout.speak("one two three four five six seven eight nine ten")
    later = playout.speak("never heard")
    await reached.wait()
    cut = await playout.cancel()
    assert cut == [playing, later]
    assert transport.sent[-1] == ("clear", None)
    heard = playing.heard_text(time.monotonic() + 10)
    assert heard and playing.text.startswith(heard) and heard != playing.text
    assert later.heard_text(time.monotonic()) == ""
    assert not playout.busy
    await playout.close()


async def test_playout_keeps_working_after_cancel() -> None:
    transport = QueueTransport()
    playout = Playout(transport, WordToneSynth(ms_per_word=20))
    playout.start()
    playout.speak("one two three four five")
    await asyncio.sleep(0.03)
    await playout.cancel()
    playout.speak("again")
    assert (await sent_until_mark(transport, "say:2"))[-1] == ("mark", "say:2")
    await playout.close()


async def test_a_failing_synthesis_skips_the_sentence_but_keeps_its_mark() -> None:
    transport = QueueTransport()
    playout = Playout(transport, WordToneSynth(fail_on="bad"))
    playout.start()
    broken = playout.speak("bad sentence")
    playout.speak("good")
    items = await sent_until_mark(transport, "say:2")
    await playout.close()
    assert items[0] == ("mark", "say:1") and broken.error is not None


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.0, ""), (0.25, "one two"), (0.5, "one two three four"), (1.0, "one two three four five six seven eight")],
)
def test_cut_text_keeps_whole_words_in_proportion(fraction: float, expected: str) -> None:
    assert cut_text("one two three four five six seven eight", fraction) == expected
