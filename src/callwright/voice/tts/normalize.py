"""Text as it should be spoken: numbers, money, phone numbers and times written out in words.

espeak-ng reads "$500.00" as "dollar five hundred point zero zero" and "+15551234567" as one
huge number. :func:`speakable` rewrites such things the way a person on the phone says them,
before the text reaches a synthesizer. English only, like the voices it feeds.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_MAX_WORDS = 10**15  # beyond this, digits are read one by one


def number_to_words(n: int) -> str:
    """Cardinal number in words, American style: 1250 -> "one thousand two hundred fifty"."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= _MAX_WORDS:
        return digits_to_words(str(n))
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (" " + _ONES[ones] if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + (" " + number_to_words(rest) if rest else "")
    for size, name in _SCALES:
        if n >= size:
            high, rest = divmod(n, size)
            return number_to_words(high) + " " + name + (" " + number_to_words(rest) if rest else "")
    raise AssertionError("unreachable")


def ordinal_to_words(n: int) -> str:
    """Ordinal number in words: 1 -> "first", 22 -> "twenty second", 100 -> "one hundredth"."""
    words = number_to_words(n).split(" ")
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def digits_to_words(digits: str) -> str:
    """Digit by digit: "4567" -> "four five six seven"."""
    return " ".join(_ONES[int(d)] for d in digits if d.isdigit())


def decimal_to_words(whole: str, fraction: str = "") -> str:
    """ "3", "14" -> "three point one four"; grouping commas in ``whole`` are ignored."""
    spoken = number_to_words(int(whole.replace(",", "") or "0"))
    return spoken + (" point " + digits_to_words(fraction) if fraction else "")


# --- phone numbers -------------------------------------------------------------------------

_PHONE_PATTERNS = (
    r"\+\d[\d\s().-]{6,18}\d",  # international: +15551234567, +44 20 7123 4567
    r"(?:\b1[\s.-]?)?\(\d{3}\)\s?\d{3}[\s.-]?\d{4}\b",  # (555) 123-4567
    r"\b(?:1[\s.-])?\d{3}[.-]\d{3}[.-]\d{4}\b",  # 555-123-4567, 1-800-555-0199
    r"\b\d{3}-\d{4}\b",  # 123-4567
)
_PHONE = re.compile("|".join(f"(?:{p})" for p in _PHONE_PATTERNS))


def _digit_groups(digits: str) -> list[str]:
    """Groups for a run of digits written without separators."""
    n = len(digits)
    if n == 10:
        return [digits[:3], digits[3:6], digits[6:]]
    if n == 11 and digits[0] == "1":
        return [digits[0], digits[1:4], digits[4:7], digits[7:]]
    if n <= 4:
        return [digits]
    if n % 4 == 0:
        return [digits[i : i + 4] for i in range(0, n, 4)]
    cut = n - 4 if n % 3 == 1 else n  # end on a group of four rather than a lone digit
    return [digits[i : i + 3] for i in range(0, cut, 3)] + ([digits[cut:]] if cut < n else [])


def _speak_groups(groups: list[str]) -> str:
    return ", ".join(digits_to_words(g) for g in groups if g)


def _phone(match: re.Match[str]) -> str:
    written = match.group(0)
    if written.startswith("+"):
        try:
            number = phonenumbers.parse(written, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None:
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            groups = re.findall(r"\d+", national)
            if len(groups) == 1:
                groups = _digit_groups(groups[0])
            return _speak_groups(groups)
        return "plus " + _speak_groups(_digit_groups(re.sub(r"\D", "", written)))
    return _speak_groups(re.findall(r"\d+", written))


# --- money ---------------------------------------------------------------------------------

_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
}
_SCALE_WORDS = {"k": "thousand", "m": "million", "bn": "billion"}
_MONEY = re.compile(
    r"(?<![\w.])(-\s?)?([$€£])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"
    r"(?:\s?(thousand|million|billion|trillion|bn|k|m)\b)?",
    re.IGNORECASE,
)


def _money(match: re.Match[str]) -> str:
    minus, symbol, whole, fraction, scale = match.groups()
    one, many, sub_one, sub_many = _CURRENCIES[symbol]
    sign = "minus " if minus else ""
    if scale:
        scale_word = _SCALE_WORDS.get(scale.lower(), scale.lower())
        return f"{sign}{decimal_to_words(whole, fraction or '')} {scale_word} {many}"
    units = int(whole.replace(",", ""))
    cents = round(float("0." + fraction) * 100) if fraction else 0
    if cents == 100:
        units, cents = units + 1, 0
    parts = []
    if units or not cents:
        parts.append(f"{number_to_words(units)} {one if units == 1 else many}")
    if cents:
        parts.append(f"{number_to_words(cents)} {sub_one if cents == 1 else sub_many}")
    return sign + " and ".join(parts)


# --- times ---------------------------------------------------------------------------------

_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})(?::\d{2})?(?:\s?([ap])\.?\s?m\b(\.?))?", re.IGNORECASE)
_HOUR_ONLY = re.compile(r"\b(\d{1,2})\s?([ap])\.?\s?m\b(\.?)", re.IGNORECASE)


def _meridiem(letter: str, match: re.Match[str], dot_group: int) -> str:
    """ " p m", keeping a written final dot only where it ends the sentence."""
    ends_sentence = match.group(dot_group) and re.match(r"\s*(?:$|[A-Z])", match.string[match.end() :])
    return f" {letter.lower()} m" + ("." if ends_sentence else "")


def _clock(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    letter = match.group(3)
    if hour > 23 or minute > 59 or (letter and not 1 <= hour <= 12):
        return match.group(0)
    if not letter and (hour == 0 or hour > 12):  # 24-hour clock: say it the 12-hour way
        letter = "a" if hour < 12 else "p"
    spoken_hour = number_to_words(hour % 12 or 12) if letter else number_to_words(hour)
    if minute == 0:
        spoken = spoken_hour + ("" if letter else " o'clock")
    elif minute < 10:
        spoken = f"{spoken_hour} oh {_ONES[minute]}"
    else:
        spoken = f"{spoken_hour} {number_to_words(minute)}"
    return spoken + (_meridiem(letter, match, 4) if letter else "")


def _hour_only(match: re.Match[str]) -> str:
    hour = int(match.group(1))
    if not 1 <= hour <= 12:
        return match.group(0)
    return number_to_words(hour) + _meridiem(match.group(2), match, 3)


# --- everything else -----------------------------------------------------------------------

_PERCENT = re.compile(r"(?<![\w.])(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s?%")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])(-(?=\d))?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?!\d)(?=([A-Za-z])?)")


_MONTHS = "January February March April May June July August September October November December".split()
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_YEAR = re.compile(
    r"\b((?:in|since|until|by|of|from|before|after|year|" + "|".join(_MONTHS) + r")(?:\s\d{1,2}(?:st|nd|rd|th)?,)?\s)"
    r"((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(r"\b(" + "|".join(_MONTHS) + r")\s(\d{1,2})(?:st|nd|rd|th)?\b(?!:)")
_DIGIT_GROUPS = re.compile(r"\b\d{3,4}(?:[ -]\d{3,4}){2,}\b")  # card and account numbers
_DOTTED = re.compile(r"\b\d+(?:\.\d+){2,}\b")  # versions, addresses: 2.0.1
_RANGE = re.compile(r"(?<![\w.,-])(\d{1,4})\s?[-–]\s?(\d{1,4})(?![\w.,-]*\d)")


def year_to_words(year: int) -> str:
    """1999 -> "nineteen ninety nine", 2005 -> "two thousand five", 2024 -> "twenty twenty four"."""
    high, low = divmod(year, 100)
    if 2000 <= year < 2010 or not 1000 <= year < 10000:
        return number_to_words(year)
    if low == 0:
        return number_to_words(high) + " hundred"
    return number_to_words(high) + (" oh " if low < 10 else " ") + number_to_words(low)


def _iso_date(match: re.Match[str]) -> str:
    year, month, day = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return match.group(0)
    return f"{_MONTHS[month - 1]} {ordinal_to_words(day)}, {year_to_words(year)}"


def _year(match: re.Match[str]) -> str:
    return match.group(1) + year_to_words(int(match.group(2)))


def _month_day(match: re.Match[str]) -> str:
    day = int(match.group(2))
    return f"{match.group(1)} {ordinal_to_words(day)}" if 1 <= day <= 31 else match.group(0)


def _digit_run(match: re.Match[str]) -> str:
    return _speak_groups(re.findall(r"\d+", match.group(0)))


def _dotted(match: re.Match[str]) -> str:
    return " point ".join(number_to_words(int(part)) for part in match.group(0).split("."))


def _range(match: re.Match[str]) -> str:
    return f"{number_to_words(int(match.group(1)))} to {number_to_words(int(match.group(2)))}"


def _percent(match: re.Match[str]) -> str:
    minus, whole, fraction = match.groups()
    return ("minus " if minus else "") + decimal_to_words(whole, fraction or "") + " percent"


def _ordinal(match: re.Match[str]) -> str:
    return ordinal_to_words(int(match.group(1)))


def _number(match: re.Match[str]) -> str:
    minus, whole, fraction, letter_after = match.groups()
    sign = "minus " if minus else ""
    space = " " if letter_after else ""  # "12B" -> "twelve B"
    if fraction:
        return sign + decimal_to_words(whole, fraction) + space
    if "," not in whole and (len(whole) >= 7 or (len(whole) > 1 and whole[0] == "0")):
        # Account numbers, codes, zip codes with a leading zero: digit by digit, grouped.
        return sign + _speak_groups(_digit_groups(whole)) + space
    return sign + number_to_words(int(whole.replace(",", ""))) + space


_RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str], ...] = (
    (_PHONE, _phone),
    (_ISO_DATE, _iso_date),
    (_DIGIT_GROUPS, _digit_run),
    (_MONEY, _money),
    (_CLOCK, _clock),
    (_HOUR_ONLY, _hour_only),
    (_PERCENT, _percent),
    (_DOTTED, _dotted),
    (_RANGE, _range),
    (_YEAR, _year),
    (_MONTH_DAY, _month_day),
    (_ORDINAL, _ordinal),
    (_NUMBER, _number),
    (re.compile(r"\s&\s"), " and "),
)


def speakable(text: str) -> str:
    """``text`` with numbers, money, phone numbers, times, ordinals and percentages in words."""
    if not any(c.isdigit() or c == "&" for c in text):
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return re.sub(r"[ \t]{2,}", " ", text)
