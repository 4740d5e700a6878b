"""The shared tabular reader and its cell readers: files and cells as spreadsheets really write them.

Every file is made by the test; NIKs are synthetic.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
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
    quoted,
)
from tests.conftest import synthetic_nik
from tests.files import (
    endless_csv_line,
    endless_csv_record,
    forged_dimension,
    forged_xlsx,
    long_shared_string,
    many_styles,
    shared_string_bomb,
    wide_xlsx_row,
    xlsx,
    xml_row,
)

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


# ------------------------------------------------------------------------------------------ hostile files

# The most memory reading a hostile file may take, whole process included (measured: 43-45 MB).
READ_MEMORY_MB = 100
PROBE = """
import resource, sys, time
from pathlib import Path
from models.tabular import Table, TabularFileError
start = time.monotonic()
try:
    with Table(Path(sys.argv[1])) as table:
        rows = list(table)
        outcome = f"read {table.header} {rows}"
except TabularFileError as error:
    outcome = f"refused {error}"
# VmHWM: this process's peak memory; ru_maxrss would count the parent's too, copied in by fork
peak = [line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:")]
kilobytes = int(peak[0].split()[1]) if peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
megabytes = kilobytes // 1024
print(f"{time.monotonic() - start:.2f} {megabytes} {outcome[:500]}")
"""


def probe(path: Path) -> tuple[float, int, str]:
    """Read ``path`` in a fresh process: seconds taken, peak memory in MB, and what happened."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=60,  # a forged <dimension> used to take 23 minutes
        cwd=Path(__file__).parents[2],
        check=True,
    )
    seconds, megabytes, outcome = done.stdout.strip().split(" ", 2)
    return float(seconds), int(megabytes), outcome


HOSTILE = {
    "bomb.xlsx": (
        shared_string_bomb,
        "bomb.xlsx: refused: its part xl/sharedStrings.xml unpacks to 1.027 times its packed size",
    ),
    "string.xlsx": (
        long_shared_string,
        "string.xlsx: refused: one <si> or the XML around it is bigger than 1 MB",
    ),
    "row.xlsx": (wide_xlsx_row, "row.xlsx: refused: one <row> or the XML around it is bigger than 1 MB"),
    "styles.xlsx": (
        many_styles,
        "styles.xlsx: refused: its part xl/styles.xml unpacks to 4 MB (at most 1 MB)",
    ),
    "line.csv": (endless_csv_line, "line.csv: refused: line 2 is longer than 1.048.576 characters"),
    "record.csv": (endless_csv_record, "record.csv: refused: line 2 is longer than 1.048.576 characters"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_refused_in_seconds_with_bounded_memory(tmp_path, name):
    make, reason = HOSTILE[name]
    path = make(tmp_path / name, ["NIK", "nama"])

    seconds, megabytes, outcome = probe(path)

    assert outcome.startswith(f"refused {reason}")
    assert seconds < 10
    assert megabytes < READ_MEMORY_MB


def test_a_forged_dimension_is_ignored_and_only_the_headers_columns_are_read(tmp_path):
    path = forged_dimension(tmp_path / "dimension.xlsx", ["NIK", "nama"], [NIK, "Budi"])

    seconds, megabytes, outcome = probe(path)

    assert outcome == f"read ['NIK', 'nama'] [(2, ['{NIK}', 'Budi'])]"  # not 16.384 cells, nor a million rows
    assert seconds < 10
    assert megabytes < READ_MEMORY_MB


def test_the_most_styles_a_workbook_may_hold_are_read_within_the_bound(tmp_path):
    path = many_styles(tmp_path / "styles.xlsx", ["NIK", "nama"], size=1 << 20)  # 55.000 styles

    seconds, megabytes, outcome = probe(path)

    assert outcome == "read ['NIK', 'nama'] []"
    assert seconds < 10
    assert megabytes < READ_MEMORY_MB


def test_rows_far_below_count_against_the_row_cap(tmp_path):
    far = forged_xlsx(tmp_path / "far.xlsx", [xml_row(1, "NIK"), xml_row(3_000_000, "x")])

    with (
        Table(far) as table,
        pytest.raises(TabularFileError, match=r"far\.xlsx: refused: it has more than 2\.000\.000 rows"),
    ):
        list(table)


def test_a_number_cell_no_spreadsheet_writes_refuses_the_file_not_the_reader(tmp_path):
    path = forged_xlsx(
        tmp_path / "digits.xlsx",
        [xml_row(1, "NIK", "desil"), f'<row r="2"><c r="B2"><v>{"9" * 5_000}</v></c></row>'.encode()],
    )

    with (
        Table(path) as table,
        pytest.raises(TabularFileError, match=r"digits\.xlsx: refused: line 2 holds a cell"),
    ):
        list(table)


def test_a_header_of_many_columns_is_refused(tmp_path):
    path = write(tmp_path / "wide.csv", ",".join(f"k{i}" for i in range(600)) + "\n")

    with pytest.raises(
        TabularFileError, match=r"wide\.csv: refused: its first row has more than 512 columns"
    ):
        Table(path)


@pytest.mark.parametrize("value", ["9" * 5_000, "1" * 19])
def test_a_number_of_thousands_of_digits_is_a_bad_cell(value):
    with pytest.raises(CellError, match=f"desil berisi {len(value)} angka: terlalu panjang"):
        int_cell(value, "desil")


@pytest.mark.parametrize("value", ["9" * 5_000, "2" * 5_000 + "-01-01", "1" * 5_000 + ".5", float("inf")])
def test_a_date_of_thousands_of_digits_is_a_bad_cell(value):
    with pytest.raises(CellError) as caught:
        date_cell(value, "mulai")
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (NIK, "'1217••••••••0001'"),
        ("1217 0115 0890 0001", "'1217••••••••0001'"),
        ("tiga", "'tiga'"),
        ("x" * 30 + NIK, "'" + ("x" * 30 + "1217••••••••0001")[:40] + "…'"),
        ("a" * 100, "'" + "a" * 40 + "…'"),
        ("12.17.01.2001", "'12.17.01.2001'"),  # a desa code is no NIK
    ],
)
def test_quoted_cells_hide_nik_like_digits_and_are_cut_short(value, shown):
    assert quoted(value) == shown


def test_reasons_quote_no_nik_from_a_wrong_column():
    for reader in (lambda v: int_cell(v, "desil"), lambda v: date_cell(v, "mulai")):
        with pytest.raises(CellError) as caught:
            reader(f"{NIK} a")
        assert NIK not in str(caught.value)
        assert "1217••••••••0001" in str(caught.value)
    with pytest.raises(CellError) as caught:
        date_cell(int(NIK), "mulai")
    assert NIK not in str(caught.value)


def test_a_missing_column_names_the_header_without_a_nik(tmp_path):
    path = write(tmp_path / "data.csv", f"{NIK},Budi\n")
    with Table(path) as table, pytest.raises(TabularFileError) as refused:
        locate(table.header, [Column("nik", required=True)], path.name)
    assert str(refused.value) == "data.csv: missing column nik in the first row (found 1217••••••••0001,Budi)"


def test_a_sheet_that_is_not_xml_is_refused_with_its_line(tmp_path):
    rows = [xml_row(1, "NIK"), xml_row(2, NIK), b"<row r='3'><c>"]
    # Without a <dimension>, openpyxl reads the whole sheet for one as it opens the file.
    unsized = forged_xlsx(tmp_path / "unsized.xlsx", rows)
    sized = forged_xlsx(tmp_path / "sized.xlsx", rows, dimension="A1:A3")

    with pytest.raises(TabularFileError) as refused_at_open:
        Table(unsized)
    with Table(sized) as table, pytest.raises(TabularFileError) as refused_at_row:
        list(table)

    assert str(refused_at_open.value) == "unsized.xlsx: not a readable Excel workbook (.xlsx)"
    assert str(refused_at_row.value) == "sized.xlsx: refused: the sheet is not valid XML after line 2"
