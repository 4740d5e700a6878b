"""The export writers on their own: no cell a spreadsheet would run as a formula, no NIK in a CSV."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest

from models.exports import Sheet, csv_bytes, xlsx_bytes
from tests.conftest import synthetic_nik

HOSTILE = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", " =1+1", '=HYPERLINK("http://x.invalid")']


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


@pytest.mark.parametrize("typed", HOSTILE)
def test_a_csv_text_cell_never_starts_a_formula(typed: str):
    [header, row] = read_csv(csv_bytes(("Nama", "Jumlah"), [[typed, -5]]))
    assert header == ["Nama", "Jumlah"]
    assert row[0].startswith("'")
    assert row[0][1:].lstrip() == typed.lstrip()  # tab and CR are cleaned to a space
    assert row[1] == "-5"  # a number stays a number


def test_a_csv_masks_any_nik_in_any_text_cell():
    nik = synthetic_nik(serial=4242)
    rows = [["ok", f"{nik[:4]}/{nik[4:8]}/{nik[8:12]}/{nik[12:]}", f"x {nik}7"]]
    [_, row] = read_csv(csv_bytes(("a", "b", "c"), rows))
    assert row == ["ok", "1217••••••••4242", "x 1217••••••••2427"]


def test_xlsx_text_is_a_string_cell_never_a_formula():
    sheet = Sheet("Uji", ("Teks", "NIK"), [[typed, synthetic_nik()] for typed in HOSTILE], frozenset({1}))
    content = xlsx_bytes(sheet)
    page = openpyxl.load_workbook(io.BytesIO(content)).active
    assert page is not None
    cells = [row[0] for row in page.iter_rows(min_row=2)]
    assert [c.value for c in cells] == [" =1+1" if t[0] in "\t\r" else t for t in HOSTILE]
    assert all(c.data_type == "s" for c in cells)
    assert all(c.quotePrefix for c in cells)  # stays text when edited in Excel
    assert "<f>" not in zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    assert [row[1].value for row in page.iter_rows(min_row=2)] == [synthetic_nik()] * len(HOSTILE)
