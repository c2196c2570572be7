"""A small English sentiment scorer for what callers say, written for phone speech.

Speech-to-text gives lower-case words without punctuation, and callers mostly answer questions
("yes", "wednesday"), so a general-purpose lexicon would call most calls Neutral for the wrong
reasons or punish plain answers like "no". The rules:

- phrases are matched before single words ("no problem" is positive, "stop calling" strongly
  negative), longest first;
- a negator ("not", "don't", "never"...) up to four words before a sentiment word flips it:
  a negated positive counts fully negative ("not happy"), a negated negative mildly positive
  ("not bad");
- an intensifier ("very", "really", "so") just before multiplies the next sentiment word, a
  softener ("a bit", "kind of") halves it;
- "but"/"however" halves what came before in the same turn ("thanks, but stop calling me");
- backchannels ("yes", "okay", "sure") are mildly positive, and all of them together count for
  at most ``BACKCHANNEL_CAP``: a cooperative caller is Neutral unless they say something warmer;
- bare "no" is an answer, not a complaint, so it only ever negates.

The total over the caller's turns decides: ``>= POSITIVE_AT`` Positive, ``<= NEGATIVE_AT``
Negative, otherwise Neutral (also when the caller said nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from callwright.services.analysis.base import Sentiment

POSITIVE_AT = 1.0
NEGATIVE_AT = -0.75
BACKCHANNEL_CAP = 0.75

_BACKCHANNEL = 0.25
_NEGATION_WINDOW = 4

# Weights: +1 a clear positive word, +0.5 a mild one; -1 a clear negative, -3 a complaint that
# alone makes the call Negative.
_LEXICON: dict[str, float] = {}


def _add(weight: float, words: str) -> None:
    for entry in words.split(","):
        entry = " ".join(entry.split())
        if entry:
            _LEXICON[entry] = weight


_add(
    1.0,
    """thank you, thanks, thank u, thanks a lot, many thanks, much appreciated, appreciate it, i appreciate,
    appreciated, great, perfect, wonderful, excellent, awesome, fantastic, amazing, brilliant, lovely,
    love, love it, loved, happy, glad, pleased, delighted, thrilled, excited, helpful, good news,
    sounds great, sounds good, sounds perfect, works for me, that works, works great, that helps,
    you've been great, you have been great, terrific, superb, fabulous, grateful, thankful, relieved,
    a relief, no problem, no problem at all, no worries, not a problem, of course, absolutely,
    definitely, certainly, gladly, with pleasure, my pleasure, happy to, i'd love to, id love to,
    looking forward, look forward, can't wait, cant wait, well done, good job, great job, enjoyed,
    satisfied, bless you, have a nice day, have a good day, have a great day, have a lovely day""",
)
_add(
    0.5,
    """good, nice, fine by me, kind, sweet, cool, beautiful, impressive, convenient, easy, smooth,
    fair enough, best, better, enjoy, pleasant, friendly, polite, quick, efficient, reasonable, fair,
    interested, yes please, cheers, you too, take care, you're welcome, youre welcome""",
)
_add(
    _BACKCHANNEL,
    """yes, yeah, yep, yup, ya, yea, okay, ok, sure, alright, all right, right, correct, that's right,
    thats right, exactly, uh huh, mhm, mm hmm, got it, i see, understood, fine, will do, sounds fine,
    that's fine, thats fine, that's correct, thats correct, indeed, true, agreed, i agree""",
)
_add(
    -0.5,
    """busy, late, slow, hard, difficult, expensive, worried, concerned, nervous, problem, problems,
    issue, issues, trouble, unfortunately, weird, confused, confusing, bad time, not now, never mind,
    refund, strange, odd, unsure, hesitant, tired, sorry to say, no thanks, no thank you""",
)
_add(
    -1.0,
    """bad, terrible, awful, horrible, horrendous, worst, hate, hated, hating, useless, pointless,
    annoying, annoyed, annoy, irritating, irritated, frustrating, frustrated, frustration, upset,
    angry, mad, furious, livid, disappointed, disappointing, disappointment, unhappy, sad, rude,
    wrong, incorrect, broken, mess, messed up, poor, lousy, pathetic, sick of, tired of, fed up,
    enough already, bother, bothering, bothered, nuisance, pest, pushy, aggressive, unprofessional,
    incompetent, ignorant, overcharged, charged twice, complain, complaint, complaints, not interested,
    too expensive, rip off, ripoff, stressed, scared, afraid, nonsense,
    joke, what a joke, garbage, trash, sucks, suck, crappy, dumb, silly, idiot, idiots, creepy,
    suspicious, fake, liar, lying, lied, lawyer, attorney, real person, a human, your manager, your supervisor""",
)
_add(
    -2.0,
    """damn, damn it, goddamn, crap, bloody, shit, bullshit, fuck, fucking, the hell, the heck""",
)
_add(
    -3.0,
    """stop calling, stop calling me, quit calling, don't call, dont call, do not call,
    don't call me again, never call, never call me, take me off, take me off your list, remove me,
    remove my number, unsubscribe, leave me alone, go away, get lost, piss off, screw you, shut up,
    fuck off, this is ridiculous, that's ridiculous, thats ridiculous, ridiculous, absurd, outrageous,
    unacceptable, unbelievable, disgusting, disgraceful, shameful, waste of time, wasting my time,
    waste of my time, scam, scammer, scammers, spam, fraud, harassment, harassing, harass, i'll sue,
    sue you, report you, reporting you, how dare you, what the hell, what the heck, are you kidding,
    are you kidding me, sick and tired, i'm done, im done, hell no, for god's sake, for gods sake,
    worst ever, worst service, never again""",
)

_NEGATORS = frozenset(
    """not no never don't dont doesn't doesnt didn't didnt isn't isnt wasn't wasnt aren't arent weren't
    werent won't wont can't cant cannot couldn't couldnt shouldn't shouldnt wouldn't wouldnt haven't
    havent hasn't hasnt hadn't hadnt nothing nobody none neither nor without hardly barely""".split()
)
_INTENSIFIERS: dict[str, float] = {
    **dict.fromkeys("very really so extremely super totally truly incredibly awfully terribly".split(), 1.5),
    **dict.fromkeys("absolutely definitely quite pretty too highly completely utterly deeply".split(), 1.3),
}
_SOFTENERS = ("a bit", "a little", "slightly", "somewhat", "kind of", "kinda", "sort of", "sorta", "a tad")
_CONTRASTS = frozenset({"but", "however", "although", "though"})

_MAX_PHRASE = max(len(p.split()) for p in _LEXICON)


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("’", "'").replace("-", " ")
    return re.findall(r"[a-z0-9']+", text)


def _match(tokens: list[str], i: int) -> tuple[float, int] | None:
    """The weight and length (in tokens) of the longest lexicon entry starting at ``tokens[i]``."""
    for size in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
        weight = _LEXICON.get(" ".join(tokens[i : i + size]))
        if weight is not None:
            return weight, size
    return None


def _softened(tokens: list[str], i: int) -> bool:
    before = " ".join(tokens[max(0, i - 2) : i])
    return any(before == s or before.endswith(" " + s) for s in _SOFTENERS)


def score_turn(text: str) -> tuple[float, float]:
    """(score without backchannels, backchannel score) of one caller turn."""
    tokens = _tokens(text)
    scores: list[float] = []
    backchannel = 0.0
    negated_until = -1
    multiplier = 1.0
    i = 0
    while i < len(tokens):
        word = tokens[i]
        following = _match(tokens, i + 1) if word in _INTENSIFIERS else None
        if following is not None and following[0] != _BACKCHANNEL:
            multiplier = _INTENSIFIERS[word]  # "very happy", "absolutely terrible"
            i += 1
            continue
        found = _match(tokens, i)
        if found is None:
            if word in _NEGATORS:
                # A bare "no" is usually an answer ("no, wednesday is good"): it negates only
                # the word right after it.
                negated_until = i + (1 if word == "no" else _NEGATION_WINDOW)
            elif word in _CONTRASTS:
                scores = [s * 0.5 for s in scores]
                negated_until = -1
            multiplier = 1.0
            i += 1
            continue
        raw, size = found
        weight = raw * (0.5 if _softened(tokens, i) else multiplier)
        multiplier = 1.0
        if i <= negated_until and not (raw == _BACKCHANNEL and tokens[i - 1] == "no"):
            # "not happy" is as bad as "unhappy"; "not bad" is only faintly good.
            scores.append(-weight if weight > 0 else -weight * 0.5)
        elif raw == _BACKCHANNEL:
            backchannel += weight
        else:
            scores.append(weight)
        negated_until = -1
        i += size
    return sum(scores), backchannel


def sentiment_score(user_turns: Iterable[str]) -> float:
    """The caller's total score over all turns (backchannels capped)."""
    total = 0.0
    backchannel = 0.0
    for text in user_turns:
        turn, soft = score_turn(text)
        total += turn
        backchannel += soft
    return total + min(backchannel, BACKCHANNEL_CAP)


def user_sentiment(user_turns: Iterable[str]) -> Sentiment:
    """Positive, Neutral or Negative from the caller's words; Neutral when they said nothing."""
    score = sentiment_score(user_turns)
    if score >= POSITIVE_AT:
        return "Positive"
    if score <= NEGATIVE_AT:
        return "Negative"
    return "Neutral"
