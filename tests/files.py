"""Spreadsheet files made by the tests (synthetic data only)."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook


def xlsx(path: Path, rows: list[list[object]]) -> Path:
    """An XLSX file whose first sheet holds ``rows`` (cells keep their Python types)."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path
