"""A campaign's contact CSV, parsed incrementally and validated row by row (no I/O here).

The upload arrives in chunks of bytes; ``CsvStream`` turns them into complete records without
ever holding the whole file, ``read_header`` finds the columns, and ``validate_row`` turns one
record into a row to store or a list of errors. Every cell value echoed in an error goes through
``shown`` so a spreadsheet opening the error report never evaluates it as a formula.
"""

from __future__ import annotations

import codecs
import csv
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callwright.domain.phones import REGIONS, PhoneNumberError, to_e164

PHONE_COLUMNS: tuple[str, ...] = ("phone_number", "customer_phone", "numberToCall", "phone", "to")
"""Accepted names of the phone column (compared case-insensitively, trimmed)."""

_PHONE_KEYS = frozenset(n.lower() for n in PHONE_COLUMNS)
_CONTACT_KEYS: dict[str, str] = {
    "first_name": "first_name", "firstname": "first_name",
    "last_name": "last_name", "lastname": "last_name",
    "email": "email",
    "external_id": "external_id", "externalid": "external_id",
}
_LIMITS = {"first_name": 200, "last_name": 200, "email": 320, "external_id": 200}
"""Column widths of ``campaign_contacts``: PostgreSQL refuses longer values, so they are row errors."""

_BOM = codecs.BOM_UTF8
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_SHOWN_MAX = 60


def shown(value: str) -> str:
    """A cell value as it may appear in an error message: quoted, cut to 60 characters, and with
    a leading ``'`` when it starts like a spreadsheet formula (``=``, ``+``, ``-``, ``@``)."""
    text = value if len(value) <= _SHOWN_MAX else value[:_SHOWN_MAX] + "…"
    if text.startswith(_FORMULA_LEADS):
        text = "'" + text
    return '"' + text.replace('"', '""') + '"'


def header_key(name: str) -> str:
    """Header names are matched trimmed, case-insensitively, with spaces and hyphens as ``_``."""
    return name.strip().lower().replace(" ", "_").replace("-", "_")


class CsvDecodeError(ValueError):
    """Bytes that are not UTF-8, at ``offset`` (0-based byte offset in the file) on line ``row``."""

    def __init__(self, offset: int, row: int, reason: str, records: list[Record] | None = None) -> None:
        super().__init__(f"the file is not UTF-8: byte offset {offset} (row {row}): {reason}")
        self.offset = offset
        self.row = row
        self.records: list[Record] = records or []
        """The complete records before the bad bytes: they are good rows and must not vanish."""


@dataclass(frozen=True, slots=True)
class Record:
    """One parsed CSV record: the line it starts on (1-based) and its cells, or why it cannot be read."""

    row: int
    cells: list[str]
    error: str | None = None


class _Lines:
    """The line source of a ``csv.reader`` that can run dry and be refilled: it remembers the
    lines of the record being read so an incomplete record (a quoted field still open at the end
    of the data so far) can be put back and read again once more data has come."""

    def __init__(self) -> None:
        self.pending: deque[str] = deque()
        self.taken: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if not self.pending:
            raise StopIteration
        line = self.pending.popleft()
        self.taken.append(line)
        return line

    def put_back(self) -> None:
        self.pending.extendleft(reversed(self.taken))
        self.taken = []


class CsvStream:
    """Bytes in, records out: incremental UTF-8 decoding (a leading BOM is dropped) and the csv
    module in strict mode, so malformed quoting is a row error instead of silently merged rows.

    Memory holds at most the records of one chunk plus one incomplete record."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._head = b""  # the first bytes, until it is known whether they are a BOM
        self._started = False
        self._bytes = 0  # bytes given to the decoder so far (BOM included)
        self._lines_done = 0  # complete lines handed to the csv reader
        self._tail = ""  # text after the last newline
        self._src = _Lines()
        self._reader = csv.reader(self._src, strict=True)
        self._next_row = 1  # the line the next record starts on

    @property
    def bytes_read(self) -> int:
        return self._bytes + len(self._head)

    def feed(self, data: bytes) -> list[Record]:
        """The records completed by ``data``. Raises ``CsvDecodeError`` on bytes that are not UTF-8."""
        if not self._started:
            self._head += data
            if len(self._head) < len(_BOM) and _BOM.startswith(self._head):
                return []
            data, self._head, self._started = self._head, b"", True
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
                self._bytes = len(_BOM)
        return self._take(self._decode(data, final=False), final=False)

    def finish(self) -> list[Record]:
        """The records left at the end of the file (a last line without a newline included)."""
        data, self._head, self._started = self._head, b"", True
        return self._take(self._decode(data, final=True), final=True)

    def _decode(self, data: bytes, *, final: bool) -> str:
        pending = len(self._decoder.getstate()[0])
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            start = self._bytes - pending + exc.start
            good = bytes(exc.object[: exc.start])
            row = self._lines_done + self._tail.count("\n") + good.count(b"\n") + 1
            # The lines wholly before the bad bytes are rows like any other (the line holding
            # them is not: it is where reading stops).
            before = self._take(good.decode("utf-8"), final=False)
            raise CsvDecodeError(start, row, exc.reason, before) from exc
        self._bytes += len(data)
        return text

    def _take(self, text: str, *, final: bool) -> list[Record]:
        text = self._tail + text
        cut = text.rfind("\n") + 1
        if final:
            cut = len(text)
        self._tail = text[cut:]
        if cut:
            # Only \n ends a line (str.splitlines would also break at \r, \x0b, \x1c, ...).
            self._src.pending.extend(_split_lf(text[:cut]))
        return self._records(final)

    def _records(self, final: bool) -> list[Record]:
        out: list[Record] = []
        while True:
            self._src.taken = []
            try:
                cells = next(self._reader)
            except StopIteration:
                return out
            except csv.Error as exc:
                lines = len(self._src.taken)
                if str(exc).startswith("unexpected end of data") and not final:
                    self._src.put_back()
                    return out
                row = self._next_row
                self._next_row += max(lines, 1)
                self._lines_done += lines
                reason = "a quoted field is never closed" if str(exc).startswith("unexpected end") else str(exc)
                out.append(Record(row, [], f"the row cannot be read as CSV: {reason}"))
                continue
            row = self._next_row
            lines = len(self._src.taken)
            self._next_row += lines
            self._lines_done += lines
            if cells and any(c.strip() for c in cells):
                out.append(Record(row, cells))


def _split_lf(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


class HeaderError(ValueError):
    """The header row cannot be used; the message says why."""


class NoPhoneColumnError(HeaderError):
    """No column has one of the ``PHONE_COLUMNS`` names."""


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each known field sits in a row, from the header."""

    width: int
    phone: int
    phone_name: str
    contact: dict[str, int]
    timezone: int | None
    country_code: int | None
    variables: list[tuple[int, str]]
    unnamed: list[int] = field(default_factory=list)


def read_header(cells: list[str]) -> Columns:
    """Map the header's columns; ``HeaderError`` when there is no phone column or a name repeats."""
    seen: dict[str, int] = {}
    phones: list[int] = []
    contact: dict[str, int] = {}
    timezone = country = None
    variables: list[tuple[int, str]] = []
    unnamed: list[int] = []
    for i, raw in enumerate(cells):
        name = raw.strip()
        key = header_key(name)
        if not key:
            unnamed.append(i)
            continue
        if key in seen:
            raise HeaderError(f"column {shown(name)} appears twice (columns {seen[key] + 1} and {i + 1})")
        seen[key] = i
        if key in _PHONE_KEYS:
            phones.append(i)
        elif key in _CONTACT_KEYS:
            if _CONTACT_KEYS[key] in contact:
                raise HeaderError(f"two columns give {_CONTACT_KEYS[key]}; keep one")
            contact[_CONTACT_KEYS[key]] = i
        elif key == "timezone":
            timezone = i
        elif key == "country_code":
            country = i
        else:
            variables.append((i, name))
    if not phones:
        found = ", ".join(shown(c.strip()) for c in cells if c.strip()) or "none"
        raise NoPhoneColumnError(
            f"no phone column: name one of {', '.join(PHONE_COLUMNS)} (any case); the columns are {found}"
        )
    if len(phones) > 1:
        names = ", ".join(shown(cells[i].strip()) for i in phones)
        raise HeaderError(f"more than one phone column ({names}); keep one")
    return Columns(
        width=len(cells), phone=phones[0], phone_name=cells[phones[0]].strip(), contact=contact,
        timezone=timezone, country_code=country, variables=variables, unnamed=unnamed,
    )


@dataclass(slots=True)
class ValidRow:
    """A row ready to store: the number in E.164 and the contact fields and variables of its row."""

    row: int
    phone_number: str
    first_name: str | None
    last_name: str | None
    email: str | None
    external_id: str | None
    timezone: str | None
    variables: dict[str, Any]


@lru_cache(maxsize=1024)
def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_REGIONS = frozenset(REGIONS)


def validate_row(cols: Columns, record: Record, default_region: str | None) -> ValidRow | list[str]:
    """The row to store, or every error found in it (never the first only)."""
    cells = record.cells
    if len(cells) != cols.width:
        more = "too many" if len(cells) > cols.width else "too few"
        return [f"{more} cells: the row has {len(cells)}, the header has {cols.width}"]
    errors: list[str] = []
    region: str | None = None
    if cols.country_code is not None and (cc := cells[cols.country_code].strip()):
        if cc.upper() in _REGIONS:
            region = cc.upper()
        else:
            errors.append(f"country_code {shown(cc)} is not a region code such as US or GB")
    raw = cells[cols.phone]
    e164 = ""
    try:
        e164 = to_e164(raw, region, default_region)
    except PhoneNumberError as exc:
        errors.append(_phone_error(cols.phone_name, raw, str(exc)))
    contact: dict[str, str | None] = dict.fromkeys(_LIMITS)
    for name, i in cols.contact.items():
        value = cells[i].strip()
        if not value:
            continue
        if len(value) > _LIMITS[name]:
            errors.append(f"{name} is longer than {_LIMITS[name]} characters")
        elif name == "email" and not _looks_like_email(value):
            errors.append(f"email {shown(value)} is not an email address")
        else:
            contact[name] = value
    tz: str | None = None
    if cols.timezone is not None and (zone := cells[cols.timezone].strip()):
        if len(zone) <= 64 and _zone_ok(zone):
            tz = zone
        else:
            errors.append(f"timezone {shown(zone)} is not an IANA time zone such as America/New_York")
    for i in cols.unnamed:
        if cells[i].strip():
            errors.append(f"column {i + 1} has a value but no name in the header")
    if errors:
        return errors
    variables = {name: v for i, name in cols.variables if (v := cells[i].strip())}
    return ValidRow(
        row=record.row, phone_number=e164, first_name=contact["first_name"], last_name=contact["last_name"],
        email=contact["email"], external_id=contact["external_id"], timezone=tz, variables=variables,
    )


def _looks_like_email(value: str) -> bool:
    """Something@somewhere, without spaces: the mail server is the real judge."""
    local, _, domain = value.rpartition("@")
    return bool(local) and bool(domain) and not any(c.isspace() for c in value)


def _phone_error(column: str, raw: str, message: str) -> str:
    """The parser's reason, with the number it echoes replaced by its ``shown`` form."""
    text = (raw or "").strip()
    if text:
        message = message.replace(repr(text), "").strip()
        return f"{column} {shown(text)}: {message}"
    return f"{column}: {message}"
