"""The officer roster file: CSV or XLSX, checked row by row before anything is saved.

Names and 0812-0000-xxxx numbers are synthetic.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.regions import load_kabupaten
from models.roster import RosterFileError, RosterProblem, RosterRow, read_roster
from models.rules.status import Role
from tests.conftest import synthetic_nik
from tests.files import xlsx

SAMOSIR = load_kabupaten("12.17")
HEADER = "nama,peran,kode_wilayah,no_hp"


def write_csv(path: Path, lines: list[str], *, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode())
    return path


def problem_at(problems: list[RosterProblem], line: int) -> str:
    found = [p.reason for p in problems if p.line == line]
    assert len(found) == 1, (line, problems)
    return found[0]


# ---------------------------------------------------------------------------------------------- good rows


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_good_csv_rows_are_read_with_e164_phones(tmp_path, delimiter):
    lines = [
        HEADER,
        "Rina Sitohang,operator,12.17.01.2001,0812-0000-0101",
        "Jonson  Simbolon,camat,12.17.01,+62 812 0000 0201",
        "Maria Naibaho,dinas,12.17,6281200000301",
        "Tigor Manik,Operator,1217012001,0812 0000 0102",
    ]
    path = write_csv(tmp_path / "roster.csv", [line.replace(",", delimiter) for line in lines])

    rows, problems = read_roster(path, SAMOSIR)

    assert problems == []
    assert rows == [
        RosterRow(2, "Rina Sitohang", Role.OPERATOR, "12.17.01.2001", "+6281200000101"),
        RosterRow(3, "Jonson Simbolon", Role.CAMAT, "12.17.01", "+6281200000201"),
        RosterRow(4, "Maria Naibaho", Role.DINAS, "12.17", "+6281200000301"),
        RosterRow(5, "Tigor Manik", Role.OPERATOR, "12.17.01.2001", "+6281200000102"),
    ]


def test_excel_csv_with_bom_and_crlf(tmp_path):
    path = write_csv(
        tmp_path / "roster.csv",
        [HEADER.replace(",", ";"), "Renée Sihombing;operator;12.17.01.2001;081200000101"],
        encoding="utf-8-sig",
        newline="\r\n",
    )

    rows, problems = read_roster(path, SAMOSIR)

    assert problems == []
    assert [(r.name, r.phone) for r in rows] == [("Renée Sihombing", "+6281200000101")]


def test_windows_1252_csv(tmp_path):
    path = write_csv(
        tmp_path / "roster.csv",
        [
            HEADER,
            "Renée Sihombing,operator,12.17.01.2001,081200000101",
            "Zoë Gultom,camat,12.17.02,081200000201",
        ],
        encoding="cp1252",
    )
    assert "é".encode("cp1252") in path.read_bytes()  # really not UTF-8

    rows, problems = read_roster(path, SAMOSIR)

    assert problems == []
    assert [r.name for r in rows] == ["Renée Sihombing", "Zoë Gultom"]


def test_header_is_case_and_space_insensitive_and_extra_columns_are_ignored(tmp_path):
    path = write_csv(
        tmp_path / "roster.csv",
        [
            " Nama , PERAN ,Kode_Wilayah, no_hp ,catatan",
            "Rina Sitohang,operator,12.17.01.2001,081200000101,x",
        ],
    )

    rows, problems = read_roster(path, SAMOSIR)

    assert problems == []
    assert [r.phone for r in rows] == ["+6281200000101"]


def test_blank_lines_are_skipped_but_counted(tmp_path):
    path = write_csv(
        tmp_path / "roster.csv",
        [
            HEADER,
            "",
            "Rina Sitohang,operator,12.17.01.2001,081200000101",
            ",,,",
            "Maria Naibaho,dinas,12.17,x",
        ],
    )

    rows, problems = read_roster(path, SAMOSIR)

    assert [r.line for r in rows] == [3]
    assert [p.line for p in problems] == [5]


def test_xlsx_with_phones_as_number_cells(tmp_path):
    path = xlsx(
        tmp_path / "roster.xlsx",
        [
            ["nama", "peran", "kode_wilayah", "no_hp"],
            ["Rina Sitohang", "operator", "12.17.01.2001", 81200000101],  # Excel dropped the leading 0
            ["Jonson Simbolon", "camat", "12.17.01", 6281200000201],
            ["Maria Naibaho", "dinas", "12.17", 6281200000301.0],  # a float cell
            ["Tigor Manik", "operator", "12.17.01.2001", "+62 812-0000-0102"],
            [None, None, None, None],
            ["Lamria Sinaga", "camat", "12.17.99", "081200000103"],
        ],
    )

    rows, problems = read_roster(path, SAMOSIR)

    assert [(r.line, r.name, r.role, r.phone) for r in rows] == [
        (2, "Rina Sitohang", Role.OPERATOR, "+6281200000101"),
        (3, "Jonson Simbolon", Role.CAMAT, "+6281200000201"),
        (4, "Maria Naibaho", Role.DINAS, "+6281200000301"),
        (5, "Tigor Manik", Role.OPERATOR, "+6281200000102"),
    ]
    assert [p.line for p in problems] == [7]
    assert "12.17.99" in problems[0].reason


def test_xlsx_with_a_wrong_header_is_refused(tmp_path):
    path = xlsx(tmp_path / "roster.xlsx", [["name", "role", "region", "phone"]])

    with pytest.raises(RosterFileError, match="nama,peran,kode_wilayah,no_hp"):
        read_roster(path, SAMOSIR)


# ----------------------------------------------------------------------------------------------- bad rows


def test_bad_rows_are_reported_with_line_and_reason_while_good_rows_are_read(tmp_path):
    path = write_csv(
        tmp_path / "roster.csv",
        [
            HEADER,
            "Rina Sitohang,operator,12.17.01.2001,081200000101",  # 2 good
            "Tigor Manik,kepala desa,12.17.01.2001,081200000102",  # 3 unknown role
            "Lamria Sinaga,operator,12.71.01.1001,081200000103",  # 4 code in Kota Medan
            "Jonson Simbolon,camat,12.17.01.2001,081200000201",  # 5 a camat needs a kecamatan
            "Maria Naibaho,operator,12.17,081200000301",  # 6 an operator needs a desa
            "Tiur Siallagan,operator,12.17.01.2001,nomor saya",  # 7 bad phone
            ",operator,12.17.01.2001,081200000104",  # 8 empty name
            "Rina Kembar,operator,12.17.01.2002,+62 812-0000-0101",  # 9 same phone as line 2
            "Sahat Sinaga,camat,,081200000202",  # 10 empty code
            "Ruth Manik,dinas,12.17,",  # 11 empty phone
            "Butet Sinaga,dinas,12.17,081200000302",  # 12 good
        ],
    )

    rows, problems = read_roster(path, SAMOSIR)

    assert [r.line for r in rows] == [2, 12]
    assert [p.line for p in problems] == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "peran 'kepala desa' is not one of operator, camat, dinas" in problem_at(problems, 3)
    assert "12.71.01.1001 is not in Kabupaten Samosir (12.17)" in problem_at(problems, 4)
    assert "is a desa, but a camat needs a kecamatan" in problem_at(problems, 5)
    assert "is a kabupaten, but a operator needs a desa" in problem_at(problems, 6)
    assert "no_hp 'nomor saya' is not an Indonesian phone number" in problem_at(problems, 7)
    assert "nama is empty" in problem_at(problems, 8)
    assert "same as on line 2" in problem_at(problems, 9)
    assert "kode_wilayah is empty" in problem_at(problems, 10)
    assert "no_hp is empty" in problem_at(problems, 11)


def test_every_problem_of_a_row_is_reported_together(tmp_path):
    path = write_csv(tmp_path / "roster.csv", [HEADER, ",lurah,99.99,12"])

    rows, problems = read_roster(path, SAMOSIR)

    assert rows == []
    reason = problem_at(problems, 2)
    for part in ("nama is empty", "peran 'lurah'", "kode_wilayah 99.99", "no_hp '12'"):
        assert part in reason


def test_a_short_row_is_a_problem_not_a_crash(tmp_path):
    path = write_csv(tmp_path / "roster.csv", [HEADER, "Rina Sitohang,operator"])

    rows, problems = read_roster(path, SAMOSIR)

    assert rows == []
    assert "kode_wilayah is empty" in problem_at(problems, 2)


def test_an_overlong_name_is_a_problem(tmp_path):
    path = write_csv(tmp_path / "roster.csv", [HEADER, "A" * 101 + ",dinas,12.17,081200000301"])

    _, problems = read_roster(path, SAMOSIR)

    assert "nama is longer than 100 characters" in problem_at(problems, 2)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Rina 2", "nama may hold only letters, spaces, dots, apostrophes and hyphens"),
        ("Rina <b>Sitohang</b>", "nama may hold only letters, spaces, dots, apostrophes and hyphens"),
        ("R.", "nama is too short: write the full name"),
    ],
)
def test_names_are_checked_like_a_candidates(tmp_path, name, reason):
    path = write_csv(tmp_path / "roster.csv", [HEADER, f"{name},dinas,12.17,081200000301"])

    rows, problems = read_roster(path, SAMOSIR)

    assert rows == []
    assert problem_at(problems, 2) == reason


def test_format_characters_are_taken_out_of_a_name(tmp_path):
    """A bidi override or a zero-width space (copied from a chat or a web page) cannot reorder a name on
    a card: it is removed, as from every free text the bot takes in."""
    path = write_csv(tmp_path / "roster.csv", [HEADER, "Rina \u202eSito\u200bhang,dinas,12.17,081200000301"])

    rows, problems = read_roster(path, SAMOSIR)

    assert problems == []
    assert [row.name for row in rows] == ["Rina Sitohang"]


# ------------------------------------------------------------------------------------------ whole files


def test_a_wrong_header_is_refused(tmp_path):
    path = write_csv(tmp_path / "roster.csv", ["name,role,region,phone", "Rina,operator,12.17.01.2001,0812"])

    with pytest.raises(
        RosterFileError, match=r"roster\.csv: the first row must be nama,peran,kode_wilayah,no_hp"
    ):
        read_roster(path, SAMOSIR)


def test_columns_in_another_order_are_refused(tmp_path):
    path = write_csv(tmp_path / "roster.csv", ["peran,nama,kode_wilayah,no_hp"])

    with pytest.raises(RosterFileError):
        read_roster(path, SAMOSIR)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"")

    with pytest.raises(RosterFileError):
        read_roster(path, SAMOSIR)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(RosterFileError, match="file not found"):
        read_roster(tmp_path / "nowhere.csv", SAMOSIR)


def test_a_folder_is_refused(tmp_path):
    folder = tmp_path / "roster.csv"
    folder.mkdir()

    with pytest.raises(RosterFileError):
        read_roster(folder, SAMOSIR)


def test_a_text_file_is_refused(tmp_path):
    path = write_csv(tmp_path / "roster.txt", [HEADER, "Rina Sitohang,operator,12.17.01.2001,081200000101"])

    with pytest.raises(RosterFileError, match=r"roster\.txt: use a \.csv or \.xlsx file"):
        read_roster(path, SAMOSIR)


def test_a_csv_in_neither_utf8_nor_cp1252_is_refused_cleanly(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(HEADER.encode() + b"\n\x81\x8d\x8f\x90\x9d,operator,12.17.01.2001,081200000101\n")

    with pytest.raises(RosterFileError):
        read_roster(path, SAMOSIR)


def test_a_corrupt_xlsx_is_refused_cleanly(tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(HEADER.encode() + b"\n")  # a CSV saved with the wrong extension

    with pytest.raises(RosterFileError):
        read_roster(path, SAMOSIR)


def test_reasons_never_quote_a_nik_in_the_wrong_column_and_cut_long_cells(tmp_path):
    nik = synthetic_nik()
    path = write_csv(
        tmp_path / "roster.csv",
        [
            HEADER,
            f"Rina Sitohang,{nik},{nik},{nik}",
            f"Rina Sitohang,{'operator ' * 1000},12.17.01.2001,{nik}",
        ],
    )

    _, problems = read_roster(path, SAMOSIR)

    reasons = " ".join(p.reason for p in problems)
    assert "kode_wilayah 1217••••••••0001 is not in" in reasons
    assert re.search(r"[0-9]{12}", reasons) is None
    assert len(problem_at(problems, 3)) < 200
    assert "peran 'operator operator operator operator oper…' is not one of" in problem_at(problems, 3)


def test_a_header_that_is_a_data_row_is_refused_without_its_nik(tmp_path):
    path = write_csv(tmp_path / "roster.csv", [f"Rina Sitohang,operator,12.17.01.2001,{synthetic_nik()}"])

    with pytest.raises(RosterFileError) as refused:
        read_roster(path, SAMOSIR)

    assert "(found rina sitohang,operator,12.17.01.2001,1217••••••••0001)" in str(refused.value)
