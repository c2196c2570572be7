"""The opt-out matcher: explicit requests not to be called again match; rescheduling, negated
requests and the agent's own words do not."""

from __future__ import annotations

import pytest

from callwright.domain.opt_out import asks_not_to_be_called, transcript_opts_out


@pytest.mark.parametrize(
    "said",
    [
        "Stop calling me.",
        "Please stop calling me, I'm not interested.",
        "stop calling this number",
        "Just stop calling!",
        "Take me off your list.",
        "Can you take me off your calling list?",
        "Remove me from your list please",
        "remove my number from your call list",
        "Don't call me again.",
        "do not call me again",
        "Dont call me anymore",
        "Never call this number again.",
        "Don\u2019t ever call me again",
        "Put me on your do not call list.",
        "please add my number to the do-not-call list",
        "Put me on the DNC list",
        "I want to opt out.",
        "I don't want any more calls from you",
        "No more calls, thanks.",
        "Sure, I'm busy, but stop calling me.",
    ],
)
def test_an_explicit_request_not_to_be_called_matches(said: str) -> None:
    assert asks_not_to_be_called(said)


@pytest.mark.parametrize(
    "said",
    [
        "Don't call me back tomorrow, call me next week.",
        "Don't call me before noon.",
        "Call me back later, I'm driving.",
        "Please don't take me off your list.",
        "I'm not asking you to stop calling me.",
        "I never said stop calling me.",
        "Don't call me Shirley.",
        "Call me at my office number instead.",
        "Yes, the appointment on Friday works.",
        "My list of questions is long.",
        "Stop, I need to get a pen.",
        "Can you call me again on Monday?",
        "No more calls today, I'm at work.",
        "I don't want any calls before noon.",
    ],
)
def test_rescheduling_negation_and_ordinary_talk_do_not_match(said: str) -> None:
    assert not asks_not_to_be_called(said)


def test_a_transcript_opts_out_when_the_caller_asks() -> None:
    transcript = [
        {"role": "agent", "text": "Hi, this is Acme about your appointment."},
        {"role": "user", "text": "Honestly, take me off your list."},
    ]
    assert transcript_opts_out(transcript)


def test_the_agents_own_words_never_opt_the_caller_out() -> None:
    transcript = [
        {"role": "agent", "text": "If you'd like, I can take you off our list. Just say stop calling me."},
        {"role": "user", "text": "No thanks, I'm happy to hear from you."},
    ]
    assert not transcript_opts_out(transcript)
