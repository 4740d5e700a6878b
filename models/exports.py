"""Files for people who live in Excel: XLSX sheets and CSV, written so they open right in Excel and
LibreOffice (bold frozen header, fitted columns, dates as dates, NIKs as text, never 1,21701E+15).

Text a person typed is never run as a formula: a CSV cell starting with = + - @, a tab or a carriage
return gets a leading apostrophe (OWASP's advice against CSV injection); an XLSX text cell is a string
cell with Excel's quote prefix, so not even editing it later turns it into a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from models.rules.privacy import clean_text, mask_nik_like

DATE_FORMAT = "DD-MM-YYYY"
TEXT_FORMAT = "@"
MAX_WIDTH = 50
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Sheet:
    """One table: headers, rows, and which columns are text that looks like a number (NIK, phone)."""

    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[object]]
    text_columns: frozenset[int] = field(default_factory=frozenset)  # 0-based


def xlsx_bytes(sheet: Sheet) -> bytes:
    """The sheet as an XLSX file."""
    book = Workbook()
    page = book.active
    assert page is not None
    page.title = sheet.title[:31]  # Excel's limit for a sheet name
    page.append(list(sheet.headers))
    for cell in page[1]:
        cell.font = Font(bold=True)
    widths = [len(str(h)) for h in sheet.headers]
    for values in sheet.rows:
        row = []
        for i, value in enumerate(values):
            # Text columns stay text even when they are all digits: a NIK as a number loses its last digits.
            cell = "" if value is None else str(value) if i in sheet.text_columns else value
            row.append(clean_text(cell) if isinstance(cell, str) else cell)  # openpyxl refuses control chars
            widths[i] = max(widths[i], len(_shown(value)))
        page.append(row)
        for cell in page[page.max_row]:
            if isinstance(cell.value, str):
                # openpyxl stores any str starting with "=" as a formula; a typed text must stay text.
                cell.data_type = "s"
                cell.quotePrefix = _formula_like(cell.value)
    for i, width in enumerate(widths, 1):
        letter = get_column_letter(i)
        page.column_dimensions[letter].width = min(width + 2, MAX_WIDTH)
        for cell in page[letter][1:]:
            if i - 1 in sheet.text_columns:
                cell.number_format = TEXT_FORMAT
            elif isinstance(cell.value, dt.date):
                cell.number_format = DATE_FORMAT
    page.freeze_panes = "A2"
    if sheet.rows:
        page.auto_filter.ref = page.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _shown(value: object) -> str:
    if isinstance(value, dt.date):
        return "00-00-0000"
    return "" if value is None else str(value)


def _formula_like(text: str) -> bool:
    # LibreOffice can be told to trim spaces on import: " =1+1" would then be a formula too.
    return text.startswith(FORMULA_START) or text.lstrip().startswith(FORMULA_START)


def neutralised(text: str) -> str:
    """A CSV text cell that a spreadsheet will not take for a formula."""
    return "'" + text if _formula_like(text) else text


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return neutralised(mask_nik_like(value))
    return value


def csv_bytes(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """CSV as Excel in Indonesia opens it by double-click: UTF-8 with BOM, semicolons, ISO dates.

    A CSV carries no full NIK: every text cell is masked again here, whatever its builder did.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([_csv_cell(h) for h in headers])
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
