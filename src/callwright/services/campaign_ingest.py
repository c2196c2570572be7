"""Ingest a campaign's contact CSV into ``campaign_contacts``, streamed and set-based.

The upload is never held whole: chunks are decoded and parsed as they come, and valid rows are
written in transactions of ``BATCH_ROWS`` rows, each with one do-not-call lookup and one
multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (the returned numbers tell which rows
were already in the campaign). Bad rows are reported and never block good ones; a problem with
the file itself raises a ``CsvFileError`` (a 422) that says which rows were already stored.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from callwright.domain.campaign_csv import (
    Columns,
    CsvDecodeError,
    CsvStream,
    HeaderError,
    NoPhoneColumnError,
    Record,
    ValidRow,
    read_header,
    validate_row,
)
from callwright.services.errors import InvalidInput, NotFound
from callwright.store.db import Database
from callwright.store.tables import campaign_contacts, campaigns, dnc_numbers
from callwright.store.types import utcnow

BATCH_ROWS = 1000
"""Rows per transaction: large enough for multi-row inserts to pay, small enough to keep
SQLite's single writer free for calls between batches."""

MAX_ROW_ERRORS = 1000
"""Row errors kept in the report; ``rejected_count`` still counts them all."""

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row was not stored; ``row`` is its line in the file (the header is row 1)."""

    row: int
    errors: list[str]


@dataclass(slots=True)
class IngestReport:
    """What became of the rows: ``rows`` = ``accepted`` + ``skipped_dnc`` + ``rejected_count``.

    ``accepted`` rows wait to be dialed; ``skipped_dnc`` rows are stored but never dialed (the
    number is on the do-not-call list); ``duplicates`` are among the rejected rows."""

    rows: int = 0
    accepted: int = 0
    skipped_dnc: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    rejected: list[RowError] = field(default_factory=list)
    bytes_read: int = 0
    last_row: int = 1

    def reject(self, row: int, errors: list[str]) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_ROW_ERRORS:
            self.rejected.append(RowError(row, errors))

    def to_json(self) -> dict[str, Any]:
        """The API's response: ``{"accepted", "rejected": [{"row", "errors"}]}`` and the counts."""
        return {
            "accepted": self.accepted,
            "rejected": [{"row": e.row, "errors": e.errors} for e in sorted(self.rejected, key=lambda e: e.row)],
            "rejected_count": self.rejected_count,
            "rejected_truncated": self.rejected_count > len(self.rejected),
            "duplicates": self.duplicates,
            "skipped_dnc": self.skipped_dnc,
            "rows": self.rows,
        }


class CsvFileError(InvalidInput):
    """The file itself cannot be ingested (a 422). ``report`` holds the rows already stored before
    the problem was found (they stay in the campaign), or None when nothing was stored."""

    type_name = "value_error.csv"

    def __init__(self, msg: str, report: IngestReport | None = None) -> None:
        super().__init__(["body"], msg, self.type_name)
        self.report = report

    def as_detail(self) -> list[dict[str, object]]:
        detail = super().as_detail()
        if self.report is not None:
            detail[0]["ctx"] = {"report": self.report.to_json()}
        return detail


class EmptyCsv(CsvFileError):
    """A 0-byte file, or one with a header and no rows."""

    type_name = "value_error.csv_empty"


class CsvHeaderError(CsvFileError):
    """The header row cannot be used (unreadable, or a column named twice)."""

    type_name = "value_error.csv_header"


class MissingPhoneColumn(CsvHeaderError):
    """No column has one of the accepted phone-column names; the message lists them."""

    type_name = "value_error.csv_phone_column"


class CsvEncodingError(CsvFileError):
    """Bytes that are not UTF-8; the message gives the byte offset and the row."""

    type_name = "value_error.csv_encoding"


class CsvTooLarge(CsvFileError):
    """The file is over ``max_bytes``; the rows before the limit were ingested and stay."""

    type_name = "value_error.csv_too_large"


def _upsert(dialect: Any) -> Any:
    return (
        dialect.insert(campaign_contacts)
        .on_conflict_do_nothing(index_elements=["campaign_id", "phone_number"])
        .returning(campaign_contacts.c.phone_number)
    )


# Built once: a prebuilt statement keeps its cache key, so SQLAlchemy does not rebuild it per batch.
_INSERT_SQLITE = _upsert(sqlite)
_INSERT_PG = _upsert(postgresql)
_CAMPAIGN = sa.select(campaigns.c.id).where(
    campaigns.c.id == sa.bindparam("id"), campaigns.c.org_id == sa.bindparam("org_id")
)


class _Ingest:
    """One upload's state: the header, the rows waiting for their batch, the numbers seen."""

    def __init__(self, db: Database, org_id: uuid.UUID, campaign_id: uuid.UUID, default_region: str | None,
                 on_progress: Callable[[int, int], None] | None) -> None:
        self.db = db
        self.org_id = org_id
        self.campaign_id = campaign_id
        self.default_region = default_region
        self.on_progress = on_progress
        self.report = IngestReport()
        self.columns: Columns | None = None
        self.batch: list[ValidRow] = []
        self.seen: dict[str, int] = {}  # number -> the row it first appeared on in this file
        self.insert = _INSERT_SQLITE if db.is_sqlite else _INSERT_PG

    async def add(self, records: list[Record]) -> None:
        for record in records:
            if self.columns is None:
                self.columns = _header(record)
                continue
            self._row(self.columns, record)
            if len(self.batch) >= BATCH_ROWS:
                await self.flush()

    def _row(self, cols: Columns, record: Record) -> None:
        report = self.report
        report.rows += 1
        report.last_row = record.row
        if record.error is not None:
            report.reject(record.row, [record.error])
            return
        result = validate_row(cols, record, self.default_region)
        if isinstance(result, list):
            report.reject(record.row, result)
            return
        first = self.seen.setdefault(result.phone_number, record.row)
        if first != record.row:
            report.duplicates += 1
            report.reject(record.row, [f"duplicate of row {first} ({result.phone_number})"])
            return
        self.batch.append(result)

    async def flush(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        listed, inserted = await self.db.run_tx(lambda conn: self._write(conn, batch))
        for row in batch:
            if row.phone_number not in inserted:
                self.report.duplicates += 1
                self.report.reject(row.row, [f"already in this campaign ({row.phone_number})"])
            elif row.phone_number in listed:
                self.report.skipped_dnc += 1
            else:
                self.report.accepted += 1
        if self.on_progress is not None:
            self.on_progress(self.report.rows, self.report.bytes_read)

    def _write(self, conn: Connection, batch: list[ValidRow]) -> tuple[set[str], set[str]]:
        """One batch in one transaction: which numbers are on the do-not-call list, then insert all."""
        phones = [r.phone_number for r in batch]
        listed = set(conn.execute(
            sa.select(dnc_numbers.c.phone_number).where(
                dnc_numbers.c.org_id == self.org_id, dnc_numbers.c.phone_number.in_(phones)
            )
        ).scalars())
        now = utcnow()
        values = [
            {
                "id": uuid.uuid4(), "org_id": self.org_id, "campaign_id": self.campaign_id, "row_number": r.row,
                "phone_number": r.phone_number, "first_name": r.first_name, "last_name": r.last_name,
                "email": r.email, "external_id": r.external_id, "timezone": r.timezone, "variables": r.variables,
                "state": "skipped_dnc" if r.phone_number in listed else "pending", "attempts": 0,
                "next_attempt_at": None, "last_call_id": None, "last_outcome": None, "retry_context": None,
                "errors": None, "attempt_day": None, "attempts_that_day": 0, "created_at": now, "updated_at": now,
            }
            for r in batch
        ]
        inserted = set(conn.execute(self.insert, values).scalars())
        return listed, inserted


def _header(record: Record) -> Columns:
    if record.error is not None:
        raise CsvHeaderError(f"the header row (row {record.row}) {record.error.removeprefix('the row ')}")
    try:
        return read_header(record.cells)
    except NoPhoneColumnError as exc:
        raise MissingPhoneColumn(str(exc)) from exc
    except HeaderError as exc:
        raise CsvHeaderError(str(exc)) from exc


def _stored(report: IngestReport) -> str:
    return (
        f"the {report.rows} rows through row {report.last_row} were ingested and stay in the campaign "
        f"({report.accepted} accepted, {report.skipped_dnc} on the do-not-call list, "
        f"{report.rejected_count} rejected)"
    )


async def ingest_csv(
    db: Database,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    chunks: AsyncIterator[bytes],
    *,
    default_region: str | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Read the CSV in ``chunks`` into the campaign's rows and report on every row.

    ``on_progress(rows_seen, bytes_read)`` is called after each batch is written. Raises
    ``NotFound`` for another org's or a missing campaign, and a ``CsvFileError`` subclass for a
    problem with the file as a whole (``EmptyCsv``, ``MissingPhoneColumn``, ``CsvHeaderError``,
    ``CsvEncodingError``, ``CsvTooLarge``); rows stored before it stay, and its ``report`` says so."""
    async with db.read() as conn:
        if (await conn.execute(_CAMPAIGN, {"id": campaign_id, "org_id": org_id})).first() is None:
            raise NotFound("campaign not found")
    ing = _Ingest(db, org_id, campaign_id, default_region, on_progress)
    stream = CsvStream()
    total = 0
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            room = max_bytes - total
            total += len(chunk)
            if len(chunk) > room:
                # Rows wholly inside the limit are still ingested; the one cut by it is not.
                await ing.add(stream.feed(chunk[:room]))
                ing.report.bytes_read = max_bytes
                await ing.flush()
                limit = f"{max_bytes / (1024 * 1024):g} MiB" if max_bytes >= 1024 * 1024 else f"{max_bytes} bytes"
                raise CsvTooLarge(
                    f"the file is larger than the {limit} limit; reading stopped at byte {max_bytes}: "
                    + (_stored(ing.report) + f"; upload the rows after row {ing.report.last_row} as another file"
                       if ing.report.rows else "no rows were ingested"),
                    ing.report,
                )
            ing.report.bytes_read = total
            await ing.add(stream.feed(chunk))
        await ing.add(stream.finish())
    except CsvDecodeError as exc:
        await ing.add(exc.records)
        await ing.flush()
        stored = _stored(ing.report) if ing.report.rows else "no rows were ingested"
        raise CsvEncodingError(
            f"{exc}; save the file as UTF-8 (CSV UTF-8) and upload it again; {stored}",
            ing.report if ing.report.rows else None,
        ) from exc
    await ing.flush()
    if total == 0:
        raise EmptyCsv("the file is empty (0 bytes)")
    if ing.columns is None:
        raise EmptyCsv("the file has no header row (only blank lines)")
    if ing.report.rows == 0:
        raise EmptyCsv("the file has a header row but no rows")
    return ing.report
