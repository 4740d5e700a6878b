"""The shared tabular reader and its cell readers: files and cells as spreadsheets really write them.

Every file is made by the test; NIKs are synthetic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from models.tabular import (
    CellError,
    Column,
    Table,
    TabularFileError,
    date_cell,
    int_cell,
    locate,
    nik_cell,
)
from tests.conftest import synthetic_nik
from tests.files import xlsx

NIK = synthetic_nik()  # 1217011508900001


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def rows_of(path: Path) -> tuple[list[str], list[tuple[int, list[object]]]]:
    with Table(path) as table:
        return table.header, list(table)


@pytest.mark.parametrize(
    ("encoding", "delimiter", "newline"),
    [("utf-8", ",", "\n"), ("utf-8-sig", ";", "\r\n"), ("cp1252", ";", "\r\n"), ("utf-8", "\t", "\n")],
)
def test_csv_in_every_encoding_and_delimiter_excel_writes(tmp_path, encoding, delimiter, newline):
    text = newline.join([f"NIK{delimiter}Nama", f"{NIK}{delimiter}Renée Sihombing", ""])
    path = write(tmp_path / "data.csv", text, encoding)

    header, rows = rows_of(path)

    assert header == ["NIK", "Nama"]
    assert rows == [(2, [NIK, "Renée Sihombing"])]


def test_blank_rows_are_skipped_but_keep_their_line_numbers(tmp_path):
    path = write(tmp_path / "data.csv", f"nik,nama\n\n{NIK},A\n,\n{NIK},B\n")

    _, rows = rows_of(path)

    assert [line for line, _ in rows] == [3, 5]


def test_progress_of_a_csv_is_in_bytes(tmp_path):
    path = write(tmp_path / "data.csv", "nik,nama\n" + "".join(f"{NIK},Orang {i}\n" for i in range(5000)))

    with Table(path) as table:
        assert table.unit == "bytes"
        assert table.total == path.stat().st_size
        seen = [table.done for _ in table]
    assert 0 < seen[0] <= seen[-1] <= path.stat().st_size


def test_a_utf8_file_with_a_latin1_byte_late_in_it_is_read_as_cp1252(tmp_path):
    # The encoding is decided over the whole file, not a first sample.
    body = "".join(f"{NIK},Orang {i}\n" for i in range(100_000))
    path = write(tmp_path / "data.csv", "nik,nama\n" + body + f"{NIK},Zoë\n", "cp1252")

    _, rows = rows_of(path)

    assert rows[-1][1] == [NIK, "Zoë"]


def test_bytes_neither_utf8_nor_cp1252_are_refused(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"nik,nama\n1,\x81\x8d\n")

    with pytest.raises(TabularFileError, match="CSV UTF-8"):
        Table(path)


def test_xlsx_first_sheet_with_typed_cells_and_rows_for_progress(tmp_path):
    path = xlsx(
        tmp_path / "data.xlsx",
        [
            ["NIK", "Nama", "Mulai"],
            [int(NIK), "Budi", dt.datetime(2026, 1, 1)],
            [None, None, None],
            [NIK, "Sari", 46023],
        ],
    )

    with Table(path) as table:
        assert table.unit == "rows"
        assert table.total == 4
        rows = list(table)

    assert rows == [(2, [int(NIK), "Budi", dt.datetime(2026, 1, 1)]), (4, [NIK, "Sari", 46023])]


@pytest.mark.parametrize("name", ["data.txt", "nowhere.csv"])
def test_wrong_or_missing_files_are_refused(tmp_path, name):
    if name.endswith(".txt"):
        write(tmp_path / name, "nik,nama\n")
    with pytest.raises(TabularFileError):
        Table(tmp_path / name)


def test_a_corrupt_xlsx_is_refused(tmp_path):
    with pytest.raises(TabularFileError, match="xlsx"):
        Table(write(tmp_path / "data.xlsx", "nik,nama\n"))


# ------------------------------------------------------------------------------------------------ header

COLUMNS = (Column("nik", required=True), Column("nama", ("nama_lengkap",), required=True), Column("desil"))


def test_header_matching_ignores_case_spaces_and_takes_aliases():
    found = locate(["  NIK ", "Nama  Lengkap", "Alamat", "DESIL"], COLUMNS, "x.csv")

    assert found == {"nik": 0, "nama": 1, "desil": 3}


def test_missing_required_columns_are_named():
    with pytest.raises(
        TabularFileError, match=r"x\.csv: missing column nama in the first row \(found NIK,alamat\)"
    ):
        locate(["NIK", "alamat"], COLUMNS, "x.csv")


# ------------------------------------------------------------------------------------------------- cells


@pytest.mark.parametrize(
    "value", [NIK, int(NIK), f" {NIK} ", "1217 0115 0890 0001", "1217.0115.0890.0001", "'" + NIK]
)
def test_nik_cells_that_are_fine(value):
    assert nik_cell(value) == NIK


@pytest.mark.parametrize(
    "value", ["1.21701E+15", "1,217011508900E+15", "1217011508900000E0", 1.217011508900001e15]
)
def test_nik_in_scientific_notation_or_a_float_cell_is_refused(value):
    with pytest.raises(CellError, match="NIK tertulis sebagai angka ilmiah"):
        nik_cell(value)


@pytest.mark.parametrize("value", [NIK[1:], int(NIK[2:]), "12170115"])
def test_a_nik_with_lost_digits_is_refused(value):
    with pytest.raises(CellError, match="NIK kurang dari 16 angka"):
        nik_cell(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "NIK kosong"),
        ("", "NIK kosong"),
        (NIK + "1", "lebih dari 16"),
        ("1217O11508900001", "selain angka"),
    ],
)
def test_other_bad_niks_say_why_without_quoting_the_value(value, reason):
    with pytest.raises(CellError, match=reason) as caught:
        nik_cell(value)
    assert NIK[:10] not in str(caught.value)


@pytest.mark.parametrize(
    "value",
    [
        dt.date(2026, 1, 1),
        dt.datetime(2026, 1, 1, 0, 0),
        46023,  # Excel's serial for 1 January 2026
        46023.0,
        "46023",
        "01-01-2026",
        "1/1/2026",
        "01.01.2026",
        "2026-01-01",
        "2026-01-01 00:00:00",
    ],
)
def test_dates_as_excel_serials_datetime_cells_or_text(value):
    assert date_cell(value) == dt.date(2026, 1, 1)


@pytest.mark.parametrize("value", ["31-02-2026", "Januari 2026", "", None, 0])
def test_unreadable_dates_are_refused(value):
    with pytest.raises(CellError):
        date_cell(value, "mulai")


def test_whole_numbers_from_cells():
    assert [int_cell(v, "desil") for v in (3, 3.0, " 3 ")] == [3, 3, 3]
    with pytest.raises(CellError, match="desil 'tiga' bukan angka bulat"):
        int_cell("tiga", "desil")
