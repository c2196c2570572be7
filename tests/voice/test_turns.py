"""Turn-taking rules: endpointing, barge-in, DTMF assembly (on the stream clock, no timers)."""

from __future__ import annotations

from callwright.voice.turns import BargeInPolicy, DtmfCollector, Endpointer


def feed(endpointer: Endpointer, flags: str, start_ms: int = 0) -> int | None:
    """Feed frames ('v' voiced, '.' not); return the start ms of the frame that ended the turn."""
    for i, flag in enumerate(flags):
        at = start_ms + i * 20
        if endpointer.frame(at, flag == "v"):
            return at
    return None


def test_turn_ends_after_endpointing_ms_of_silence() -> None:
    ep = Endpointer(500)
    ep.start(0)
    ended = feed(ep, "v" * 10 + "." * 40)
    # Last voiced frame ends at 200 ms; 500 ms later is the end of the frame starting at 680.
    assert ended == 680


def test_a_pause_shorter_than_endpointing_does_not_end_the_turn() -> None:
    ep = Endpointer(500)
    ep.start(0)
    assert feed(ep, "v" * 10 + "." * 20 + "v" * 10) is None
    assert ep.in_speech


def test_nothing_ends_before_speech_started() -> None:
    ep = Endpointer(100)
    assert feed(ep, "." * 50) is None


def test_voiced_duration_is_counted() -> None:
    ep = Endpointer(500)
    ep.start(0)
    feed(ep, "v" * 15 + "." * 3 + "v" * 5)
    assert ep.voiced_ms == 400


def test_barge_in_needs_the_minimum_duration() -> None:
    policy = BargeInPolicy(allow=True, min_ms=300)
    assert not policy.should_interrupt(280)
    assert policy.should_interrupt(300)


def test_barge_in_never_happens_when_interruptions_are_off() -> None:
    assert not BargeInPolicy(allow=False).should_interrupt(5000, "stop stop stop")


def test_barge_in_with_partial_text_needs_enough_words() -> None:
    policy = BargeInPolicy(min_ms=300, min_words=2)
    assert not policy.should_interrupt(600, "um")
    assert policy.should_interrupt(600, "wait no")


def test_dtmf_turn_ends_at_the_expected_length() -> None:
    collector = DtmfCollector(expected_length=4)
    results = [collector.push(d, i * 100) for i, d in enumerate("1234")]
    assert results == [None, None, None, "1234"]


def test_dtmf_turn_ends_on_hash_without_the_hash() -> None:
    collector = DtmfCollector()
    for i, d in enumerate("42"):
        assert collector.push(d, i * 100) is None
    assert collector.push("#", 300) == "42"


def test_dtmf_turn_ends_after_the_inter_digit_timeout() -> None:
    collector = DtmfCollector(timeout_ms=1500)
    collector.push("7", 1000)
    assert collector.poll(2400) is None
    assert collector.poll(2500) == "7"
    assert not collector.pending


def test_a_lone_hash_is_not_a_turn() -> None:
    assert DtmfCollector().push("#", 0) is None


def test_backchannels_alone_never_interrupt() -> None:
    policy = BargeInPolicy(min_ms=300, min_words=1)
    for said in ("Uh-huh.", "mm-hm", "Okay, okay.", "Yeah, right.", "I see.", "Got it."):
        assert not policy.should_interrupt(900, said), said


def test_one_short_word_waits_for_more_speech_unless_it_asks_to_stop() -> None:
    policy = BargeInPolicy(min_ms=300, min_words=1)
    assert not policy.should_interrupt(340, "at")
    assert policy.should_interrupt(700, "appointment")
    assert policy.should_interrupt(340, "Stop!")
    assert policy.should_interrupt(340, "wait, no")
