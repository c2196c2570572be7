"""Ingest of a campaign's contact CSV into its rows, on a real (SQLite) database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from callwright.services import campaign_ingest
from callwright.services.campaign_ingest import (
    CsvEncodingError,
    CsvHeaderError,
    CsvTooLarge,
    EmptyCsv,
    IngestReport,
    MissingPhoneColumn,
    ingest_csv,
)
from callwright.services.errors import NotFound
from callwright.store.db import Database
from callwright.store.tables import agents, campaign_contacts, campaigns, dnc_numbers, organizations
from callwright.store.types import utcnow


@dataclass
class Camp:
    db: Database
    org_id: uuid.UUID
    id: uuid.UUID


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/cw.db")
    await database.migrate()
    yield database
    await database.dispose()


async def new_campaign(db: Database, org_id: uuid.UUID | None = None) -> Camp:
    now = utcnow()
    agent, camp = uuid.uuid4(), uuid.uuid4()
    async with db.tx() as conn:
        if org_id is None:
            org_id = uuid.uuid4()
            await conn.execute(organizations.insert().values(id=org_id, name=str(org_id), created_at=now))
        await conn.execute(agents.insert().values(
            id=agent, org_id=org_id, name="a", version_id=uuid.uuid4(), version=1, config={}, created_at=now,
            updated_at=now,
        ))
        await conn.execute(campaigns.insert().values(
            id=camp, org_id=org_id, agent_id=agent, name="c", status="draft", context={}, call_source="api_campaign",
            calling_window={}, retry={}, max_concurrency=1, max_attempts_per_day=1, default_region="US",
            metadata={}, created_at=now, updated_at=now,
        ))
    return Camp(db, org_id, camp)


@pytest.fixture
async def camp(db: Database) -> Camp:
    return await new_campaign(db)


async def chunked(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def csv_bytes(lines: Iterable[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


async def ingest(c: Camp, data: bytes, size: int = 7, **kw: Any) -> IngestReport:
    kw.setdefault("default_region", "US")
    return await ingest_csv(c.db, c.org_id, c.id, chunked(data, size), **kw)


async def stored(c: Camp) -> list[Any]:
    async with c.db.read() as conn:
        return list((await conn.execute(
            sa.select(campaign_contacts).where(campaign_contacts.c.campaign_id == c.id)
            .order_by(campaign_contacts.c.row_number)
        )).all())


def errors_of(report: IngestReport) -> dict[int, list[str]]:
    return {e.row: e.errors for e in report.rejected}


@pytest.mark.parametrize("name", ["phone_number", "customer_phone", "numberToCall", "phone", "to", " PHONE ",
                                  "NumberToCall"])
async def test_each_phone_column_alias_is_accepted(camp: Camp, name: str) -> None:
    report = await ingest(camp, csv_bytes([f"{name},first_name", "+14155550100,Ann"]))
    assert report.accepted == 1
    assert [r.phone_number for r in await stored(camp)] == ["+14155550100"]


async def test_valid_row_is_stored_pending_with_its_line_number_and_contact_fields(camp: Camp) -> None:
    data = csv_bytes([
        "customer_phone,first_name,last_name,email,external_id,timezone",
        "(415) 555-0100,Ann,Lee,ann@example.com,X1,America/Chicago",
    ])
    report = await ingest(camp, data)
    assert report.to_json()["accepted"] == 1 and report.to_json()["rejected"] == []
    (row,) = await stored(camp)
    assert (row.row_number, row.phone_number, row.first_name, row.last_name, row.email, row.external_id,
            row.timezone) == (2, "+14155550100", "Ann", "Lee", "ann@example.com", "X1", "America/Chicago")
    assert (row.state, row.attempts, row.attempts_that_day, row.next_attempt_at) == ("pending", 0, 0, None)
    assert row.org_id == camp.org_id


async def test_other_columns_become_variables_and_empty_cells_are_omitted(camp: Camp) -> None:
    data = csv_bytes(["phone,customer_name,loan_id,amount", "+14155550100,Rahul,LN-12345,", "+14155550101,,,12"])
    await ingest(camp, data)
    rows = await stored(camp)
    assert [r.variables for r in rows] == [{"customer_name": "Rahul", "loan_id": "LN-12345"}, {"amount": "12"}]


async def test_country_code_column_reads_national_numbers_in_that_region(camp: Camp) -> None:
    data = csv_bytes(["phone,country_code", "020 7946 0018,GB", "(415) 555-0100,"])
    report = await ingest(camp, data)
    assert report.accepted == 2
    assert [r.phone_number for r in await stored(camp)] == ["+442079460018", "+14155550100"]


async def test_national_number_without_any_region_is_a_row_error(camp: Camp) -> None:
    report = await ingest(camp, csv_bytes(["phone", "415 555 0100"]), default_region=None)
    assert report.accepted == 0
    assert "no country prefix" in errors_of(report)[2][0]


async def test_unknown_timezone_and_country_code_are_row_errors(camp: Camp) -> None:
    data = csv_bytes(["phone,timezone,country_code", "+14155550100,Mars/Base,ZZ"])
    report = await ingest(camp, data)
    (errs,) = errors_of(report).values()
    assert len(errs) == 2 and "timezone" in errs[1] and "country_code" in errs[0]


async def test_number_on_the_do_not_call_list_is_stored_as_skipped_dnc(camp: Camp) -> None:
    async with camp.db.tx() as conn:
        await conn.execute(dnc_numbers.insert().values(
            org_id=camp.org_id, phone_number="+14155550101", reason="asked", created_at=utcnow()))
    report = await ingest(camp, csv_bytes(["phone", "+14155550100", "+1 415 555 0101"]))
    assert (report.accepted, report.skipped_dnc, report.rejected_count) == (1, 1, 0)
    assert [r.state for r in await stored(camp)] == ["pending", "skipped_dnc"]


async def test_another_orgs_do_not_call_list_does_not_apply(db: Database, camp: Camp) -> None:
    other = await new_campaign(db)
    async with db.tx() as conn:
        await conn.execute(dnc_numbers.insert().values(
            org_id=other.org_id, phone_number="+14155550100", reason=None, created_at=utcnow()))
    report = await ingest(camp, csv_bytes(["phone", "+14155550100"]))
    assert (report.accepted, report.skipped_dnc) == (1, 0)


async def test_duplicate_number_in_the_file_is_rejected_naming_the_first_row(camp: Camp) -> None:
    report = await ingest(camp, csv_bytes(["phone", "+14155550100", "+14155550101", "(415) 555-0100"]))
    assert (report.accepted, report.duplicates) == (2, 1)
    assert errors_of(report) == {4: ["duplicate of row 2 (+14155550100)"]}


async def test_number_already_in_the_campaign_from_an_earlier_upload_is_rejected(camp: Camp) -> None:
    await ingest(camp, csv_bytes(["phone", "+14155550100"]))
    report = await ingest(camp, csv_bytes(["phone", "+14155550101", "+14155550100"]))
    assert (report.accepted, report.duplicates) == (1, 1)
    assert errors_of(report) == {3: ["already in this campaign (+14155550100)"]}
    assert len(await stored(camp)) == 2


async def test_same_number_in_two_campaigns_is_accepted_in_both(db: Database, camp: Camp) -> None:
    other = await new_campaign(db, camp.org_id)
    assert (await ingest(camp, csv_bytes(["phone", "+14155550100"]))).accepted == 1
    assert (await ingest(other, csv_bytes(["phone", "+14155550100"]))).accepted == 1


async def test_bad_rows_do_not_block_good_ones(camp: Camp) -> None:
    data = csv_bytes(["phone,name", "nope,A", "+14155550100,B", "+14155550101,C,extra", "+14155550102,D"])
    report = await ingest(camp, data)
    assert (report.rows, report.accepted, report.rejected_count) == (4, 2, 2)
    assert sorted(errors_of(report)) == [2, 4]


async def test_row_with_too_many_cells_is_a_row_error(camp: Camp) -> None:
    report = await ingest(camp, csv_bytes(["phone,name", "+14155550100,A,B"]))
    assert errors_of(report) == {2: ["too many cells: the row has 3, the header has 2"]}


async def test_row_with_too_few_cells_is_a_row_error(camp: Camp) -> None:
    report = await ingest(camp, csv_bytes(["phone,name", "+14155550100"]))
    assert errors_of(report) == {2: ["too few cells: the row has 1, the header has 2"]}


async def test_row_number_is_the_line_a_multiline_quoted_row_starts_on(camp: Camp) -> None:
    data = b'phone,note\n+14155550100,"two\nlines"\n+14155550101,x\nbad,y\n'
    report = await ingest(camp, data, size=3)
    assert [(r.row_number, r.variables) for r in await stored(camp)] == [
        (2, {"note": "two\nlines"}), (4, {"note": "x"})]
    assert list(errors_of(report)) == [5]


async def test_malformed_quoting_is_a_row_error_and_later_rows_still_load(camp: Camp) -> None:
    report = await ingest(camp, b'phone,note\n+14155550100,"a"b\n+14155550101,ok\n')
    assert report.accepted == 1
    assert "cannot be read as CSV" in errors_of(report)[2][0]


async def test_unclosed_quote_at_the_end_is_a_row_error(camp: Camp) -> None:
    report = await ingest(camp, b'phone,note\n+14155550100,ok\n+14155550101,"never closed\n')
    assert report.accepted == 1
    assert errors_of(report) == {3: ["the row cannot be read as CSV: a quoted field is never closed"]}


async def test_utf8_bom_crlf_and_a_last_line_without_newline_are_read(camp: Camp) -> None:
    data = "\ufeffPhone,city\r\n+14155550100,Zürich\r\n+14155550101,Köln".encode()
    report = await ingest(camp, data, size=1)
    assert report.accepted == 2
    assert [r.variables for r in await stored(camp)] == [{"city": "Zürich"}, {"city": "Köln"}]


async def test_blank_lines_are_skipped(camp: Camp) -> None:
    report = await ingest(camp, b"phone\n\n+14155550100\n,\n\n+14155550101\n")
    assert (report.rows, report.accepted) == (2, 2)
    assert [r.row_number for r in await stored(camp)] == [3, 6]


async def test_formula_in_a_cell_is_neutralised_in_the_error_message(camp: Camp) -> None:
    data = csv_bytes(["phone,email,timezone", "=cmd|' /C calc'!A0,@SUM(1),+1", "-2+3,x,y"])
    report = await ingest(camp, data)
    messages = [m for e in report.rejected for m in e.errors]
    assert messages
    for formula in ("=cmd|' /C calc'!A0", "@SUM(1)", "+1", "-2+3"):
        assert any(f"'{formula}" in m for m in messages), formula
        for m in messages:
            assert f'"{formula}' not in m
    assert not any(m.startswith(("=", "+", "-", "@")) for m in messages)


async def test_missing_phone_column_is_a_file_error_listing_the_accepted_names(camp: Camp) -> None:
    with pytest.raises(MissingPhoneColumn) as err:
        await ingest(camp, csv_bytes(["mobile,first_name", "+14155550100,Ann"]))
    for name in ("phone_number", "customer_phone", "numberToCall", "phone", "to"):
        assert name in err.value.msg
    assert err.value.status_code == 422 and err.value.report is None
    assert await stored(camp) == []


async def test_two_phone_columns_are_a_header_error(camp: Camp) -> None:
    with pytest.raises(CsvHeaderError, match="more than one phone column"):
        await ingest(camp, csv_bytes(["phone,to", "+14155550100,+14155550101"]))


async def test_empty_file_is_a_file_error(camp: Camp) -> None:
    with pytest.raises(EmptyCsv, match="0 bytes"):
        await ingest(camp, b"")


async def test_header_only_file_is_a_file_error(camp: Camp) -> None:
    with pytest.raises(EmptyCsv, match="header row but no rows"):
        await ingest(camp, b"phone,first_name\n")


async def test_wrong_encoding_is_a_file_error_naming_byte_offset_and_row(camp: Camp) -> None:
    data = b"phone,name\n+14155550100,Ann\n+14155550101,Jos" + "é\n".encode("latin-1")
    with pytest.raises(CsvEncodingError) as err:
        await ingest(camp, data, size=5)
    offset = data.index(b"\xe9")
    assert f"byte offset {offset} (row 3)" in err.value.msg
    assert err.value.report is not None and err.value.report.accepted == 1
    assert "stay in the campaign" in err.value.msg


async def test_rows_before_a_bad_byte_in_the_same_chunk_are_stored_not_dropped(camp: Camp) -> None:
    """One read holds good rows and then a byte that is not UTF-8: the good rows are ingested and
    counted, and the error says reading stopped at the bad row."""
    good = [f"+1415555{i:04d}" for i in range(3)]
    data = ("phone\n" + "\n".join(good) + "\n+14155550199 Jos").encode() + b"\xe9\n+14155550200\n"
    with pytest.raises(CsvEncodingError) as err:
        await ingest(camp, data, size=len(data))
    assert "(row 5)" in err.value.msg
    assert err.value.report is not None and err.value.report.accepted == 3
    assert sorted(r.phone_number for r in await stored(camp)) == good


async def test_wrong_encoding_in_the_header_stores_nothing(camp: Camp) -> None:
    with pytest.raises(CsvEncodingError, match="byte offset 1 "):
        await ingest(camp, b"p\xffhone\n+14155550100\n")
    assert await stored(camp) == []


async def test_file_over_max_bytes_keeps_the_rows_before_the_limit_and_says_so(camp: Camp) -> None:
    lines = ["phone"] + [f"+1415555{i:04d}" for i in range(100)]
    data = csv_bytes(lines)
    with pytest.raises(CsvTooLarge) as err:
        await ingest(camp, data, size=64, max_bytes=6 + 13 * 10 + 5)
    report = err.value.report
    assert report is not None and report.accepted == 10
    assert "through row 11" in err.value.msg and "stay in the campaign" in err.value.msg
    assert len(await stored(camp)) == 10


async def test_row_errors_are_capped_but_all_counted(camp: Camp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(campaign_ingest, "MAX_ROW_ERRORS", 5)
    report = await ingest(camp, csv_bytes(["phone"] + ["bad"] * 12 + ["+14155550100"]), size=4096)
    body = report.to_json()
    assert (len(body["rejected"]), body["rejected_count"], body["rejected_truncated"], body["accepted"]) == (
        5, 12, True, 1)


async def test_another_orgs_campaign_is_not_found(db: Database, camp: Camp) -> None:
    with pytest.raises(NotFound):
        await ingest_csv(db, uuid.uuid4(), camp.id, chunked(b"phone\n+14155550100\n"), default_region="US")


async def test_rows_are_written_in_batches_of_a_thousand(camp: Camp) -> None:
    progress: list[tuple[int, int]] = []
    lines = ["phone,n"] + [f"+1415{i:07d},{i}" for i in range(2500)]
    report = await ingest(camp, csv_bytes(lines), size=8192, on_progress=lambda r, b: progress.append((r, b)))
    assert (report.rows, report.accepted) == (2500, 2500)
    assert [r for r, _ in progress] == [1000, 2000, 2500]
    rows = await stored(camp)
    assert len(rows) == 2500 and rows[-1].row_number == 2501 and rows[-1].variables == {"n": "2499"}


async def test_report_json_has_the_api_shape(camp: Camp) -> None:
    body = (await ingest(camp, csv_bytes(["phone", "+14155550100", "x"]))).to_json()
    assert body["accepted"] == 1 and body["rows"] == 2
    assert body["rejected"] == [{"row": 3, "errors": [body["rejected"][0]["errors"][0]]}]
    assert {"duplicates", "skipped_dnc"} <= body.keys()
