"""Hostile and broken spreadsheet files: each is refused with a reason that says what to do, never read
half-way, never an exception other than DeliveryError."""

from __future__ import annotations

import contextlib
import io
import time
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from tempen_ingest.domain.platforms import DeliveryError, parse_spreadsheet, read_csv, read_xlsx
from tempen_ingest.domain.platforms.sheets import MAX_CELL_CHARS, MAX_CELLS, MAX_COLUMNS, MAX_UNCOMPRESSED_BYTES
from tests.ingest.spreadsheets import ms_forms_rows, ms_forms_xlsx, netigate_csv, xlsx
from tests.ingest.unit.platforms.test_spreadsheet import mapping


def test_a_zip_bomb_is_refused_from_its_directory_before_any_xml_is_inflated() -> None:
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(ms_forms_xlsx(1))) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for entry in source.infolist():
            if entry.filename != "xl/worksheets/sheet1.xml":
                bomb.writestr(entry, source.read(entry))
        with bomb.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            chunk = b" " * (1 << 20)
            for _ in range(MAX_UNCOMPRESSED_BYTES // len(chunk) + 1):
                sheet.write(chunk)
    data = out.getvalue()
    assert len(data) < 2 * 1024 * 1024

    started = time.monotonic()
    with pytest.raises(DeliveryError) as refused:
        read_xlsx(data)

    assert refused.value.reason == "too_large"
    assert "inflates" in refused.value.detail
    assert time.monotonic() - started < 1.0


def test_an_empty_sheet_is_refused() -> None:
    with pytest.raises(DeliveryError, match="empty"):
        read_xlsx(xlsx([]))


def test_a_workbook_with_several_sheets_needs_the_one_with_the_responses_named() -> None:
    data = ms_forms_xlsx(2, title="Svar", more_sheets=["Sammanfattning"])

    with pytest.raises(DeliveryError) as refused:
        read_xlsx(data)
    assert refused.value.reason == "ambiguous"
    assert "Svar, Sammanfattning" in refused.value.detail
    with pytest.raises(DeliveryError, match="no sheet 'Blad1'"):
        read_xlsx(data, sheet="Blad1")

    rows = parse_spreadsheet(read_xlsx(data, sheet="Svar"), mapping())
    assert len([row for row in rows if row.submission]) == 2


def test_a_merged_title_above_the_headings_is_read_once_the_header_row_is_named() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Medarbetarenkät 2025"])
    sheet.merge_cells("A1:J1")
    for row in ms_forms_rows(2):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)

    with pytest.raises(DeliveryError) as refused:
        parse_spreadsheet(read_xlsx(out.getvalue()), mapping())
    assert refused.value.reason == "missing_column"
    assert "Medarbetarenkät 2025" in refused.value.detail

    rows = parse_spreadsheet(read_xlsx(out.getvalue(), header_row=2), mapping())
    assert [row.number for row in rows if row.submission] == [3, 4]


def test_a_cell_beyond_excels_own_limit_is_refused() -> None:
    text = netigate_csv().decode("utf-8-sig").replace("Varken eller", "x" * (MAX_CELL_CHARS + 1))
    with pytest.raises(DeliveryError) as refused:
        read_csv(text.encode())
    assert refused.value.reason == "too_large"


def test_too_many_columns_are_refused() -> None:
    header = ";".join(f"F{n}" for n in range(MAX_COLUMNS + 5))
    with pytest.raises(DeliveryError, match="too_large"):
        read_csv(f"{header}\r\n{header}\r\n".encode())
    with pytest.raises(DeliveryError, match="too_large"):
        read_xlsx(xlsx([header.split(";")]))


def test_a_wide_header_over_many_sparse_rows_is_refused_before_it_fills_memory() -> None:
    header: list[object] = [f"F{n}" for n in range(MAX_COLUMNS)]
    sparse: list[list[object]] = [[n] for n in range(MAX_CELLS // MAX_COLUMNS + 1)]
    rows = [header, *sparse]

    with pytest.raises(DeliveryError) as refused:
        read_xlsx(xlsx(rows))
    assert refused.value.reason == "too_large"
    assert f"rows of {MAX_COLUMNS} columns" in refused.value.detail


@pytest.mark.parametrize(
    "data",
    [b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500, b"PK\x03\x04 not really a zip", b"<html>no</html>"],
    ids=["xls", "broken-zip", "html"],
)
def test_files_that_are_not_workbooks_are_refused_with_what_to_save_instead(data: bytes) -> None:
    with pytest.raises(DeliveryError) as refused:
        read_xlsx(data)
    assert refused.value.reason == "malformed"
    assert ".xlsx" in refused.value.detail


def test_a_workbook_whose_sheet_xml_is_cut_short_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(ms_forms_xlsx(2)), "r") as source, zipfile.ZipFile(out, "w") as broken:
        for entry in source.infolist():
            content = source.read(entry)
            broken.writestr(entry, content[: len(content) // 2] if entry.filename.endswith("sheet1.xml") else content)
    with pytest.raises(DeliveryError) as refused:
        read_xlsx(out.getvalue())
    assert refused.value.reason == "malformed"


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(DeliveryError, match="malformed"):
        read_xlsx(out.getvalue())


def test_a_csv_with_nul_characters_is_refused() -> None:
    with pytest.raises(DeliveryError, match="NUL"):
        read_csv(b"ID;Svarsdatum\r\n1;2025-03-01\x00\r\n")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_read_or_refused_with_a_delivery_error(data: bytes) -> None:
    for reader in (read_csv, read_xlsx):
        try:
            table = reader(data)
        except DeliveryError:
            continue
        with contextlib.suppress(DeliveryError):
            parse_spreadsheet(table, mapping())
