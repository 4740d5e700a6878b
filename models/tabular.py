"""Tabular files (CSV or XLSX) read row by row with bounded memory, and the cell readers imports share.

CSV: comma, semicolon or tab (counted in the header line); UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8")
or Windows-1252/Latin-1 (Excel's plain "CSV"), decided by one streaming pass over the bytes before the
rows are read. XLSX: the first sheet, through openpyxl's read-only mode, which never loads the sheet.

Cell readers turn what spreadsheets do to NIKs and dates back into values, or say in Bahasa Indonesia
(the officers who fix the file read it) why they cannot: a reason never quotes a NIK.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

Cell = str | int | float | dt.datetime | dt.date | dt.time | bool | None

CHUNK = 1 << 20


class TabularFileError(Exception):
    """The file as a whole cannot be read (missing, wrong type, unreadable text, missing columns)."""


class CellError(ValueError):
    """One cell cannot be read; the message is the reason shown for its row (Bahasa Indonesia)."""


# ------------------------------------------------------------------------------------------------- files


def _encoding_of(path: Path) -> str:
    """UTF-8 (with or without BOM) if every byte decodes as UTF-8, else Windows-1252; read in chunks."""
    with path.open("rb") as raw:
        head = raw.read(3)
        encoding = "utf-8-sig" if head == codecs.BOM_UTF8 else "utf-8"
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := raw.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            pass
        raw.seek(0)
        try:
            while chunk := raw.read(CHUNK):
                chunk.decode("cp1252")
        except UnicodeDecodeError:
            raise TabularFileError(f"{path.name}: cannot read the text; save the file as CSV UTF-8") from None
    return "cp1252"


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class Table:
    """An open CSV or XLSX file: its header, then ``(line, cells)`` for every non-blank row, lazily.

    ``line`` is the row's number as a spreadsheet shows it (the header is line 1; blank rows count).
    ``done``/``total`` measure progress in ``unit`` (bytes of a CSV, rows of an XLSX; total may be None).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: list[str] = []
        self.unit: Literal["bytes", "rows"] = "rows"
        self.total: int | None = None
        self._done_rows = 0
        self._raw: IO[bytes] | None = None
        self._workbook: Any = None
        self._rows: Iterator[Sequence[Cell]]
        if not path.is_file():
            raise TabularFileError(f"file not found: {path}")
        suffix = path.suffix.lower()
        if suffix == ".csv":
            self._open_csv()
        elif suffix in {".xlsx", ".xlsm"}:
            self._open_xlsx()
        else:
            raise TabularFileError(f"{path.name}: use a .csv or .xlsx file")
        first = next(self._rows, None)
        self.header = [cell_text(c) for c in first] if first is not None else []

    def _open_csv(self) -> None:
        encoding = _encoding_of(self.path)
        self.unit, self.total = "bytes", self.path.stat().st_size
        raw = self.path.open("rb")
        self._raw = raw
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        first_line = text.readline()
        text.seek(0)
        self._rows = csv.reader(text, delimiter=_delimiter(first_line))

    def _open_xlsx(self) -> None:
        from openpyxl import load_workbook  # imported here: only XLSX files need it
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            self._workbook = load_workbook(self.path, read_only=True, data_only=True)
            sheet = self._workbook.worksheets[0]
        except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, IndexError):
            raise TabularFileError(f"{self.path.name}: not a readable Excel workbook (.xlsx)") from None
        self.total = sheet.max_row  # from the sheet's dimension record: None when the file has none
        self._rows = sheet.iter_rows(values_only=True)

    @property
    def done(self) -> int:
        if self._raw is not None and not self._raw.closed:
            return self._raw.tell()
        return self._done_rows

    def __iter__(self) -> Iterator[tuple[int, list[Cell]]]:
        line = 1
        try:
            for row in self._rows:
                line += 1
                self._done_rows = line
                cells = list(row)
                if any(not is_blank(c) for c in cells):
                    yield line, cells
        except csv.Error as exc:
            raise TabularFileError(f"{self.path.name}: line {line + 1} is not valid CSV ({exc})") from None
        if self._raw is not None:
            self._done_rows = line

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        if self._workbook is not None:
            self._workbook.close()

    def __enter__(self) -> Table:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_table(path: Path) -> Table:
    """Open a CSV or XLSX file and read its header row; raises :class:`TabularFileError`."""
    return Table(path)


# ------------------------------------------------------------------------------------------------ header


def header_key(text: str) -> str:
    """A header cell as a key: case, surrounding and repeated spaces, dashes and dots do not matter."""
    return "_".join(text.strip().lower().replace("-", " ").replace(".", " ").split())


@dataclass(frozen=True, slots=True)
class Column:
    """A column an import reads: its key, the other header names it goes by, whether it must be there."""

    key: str
    aliases: tuple[str, ...] = ()
    required: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.key, *self.aliases)


def locate(header: list[str], columns: Sequence[Column], file_name: str) -> dict[str, int]:
    """Where each column is in the header (missing optional ones left out); refuses missing required ones."""
    keys = [header_key(h) for h in header]
    found: dict[str, int] = {}
    for column in columns:
        index = next((keys.index(n) for n in column.names if n in keys), None)
        if index is not None:
            found[column.key] = index
    missing = [c.key for c in columns if c.required and c.key not in found]
    if missing:
        shown = ",".join(h.strip() for h in header if h.strip()) or "nothing"
        raise TabularFileError(
            f"{file_name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"in the first row (found {shown})"
        )
    return found


# ------------------------------------------------------------------------------------------------- cells


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Cell) -> str:
    """A cell as text. Excel turns 081234567890 into the number 81234567890: give digits, not "8.1e10"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_SCIENTIFIC = re.compile(r"^[0-9]+(?:[.,][0-9]+)?[eE][+]?[0-9]+$")
_SEPARATORS = str.maketrans("", "", " .-\u00a0")


def nik_cell(value: Cell) -> str:
    """A 16-digit NIK from a text cell or an integer cell; a float or "1.21701E+15" lost its last digits."""
    if value is None:
        raise CellError("NIK kosong")
    if isinstance(value, bool):
        raise CellError("NIK bukan angka")
    if isinstance(value, float) or (isinstance(value, str) and _SCIENTIFIC.match(value.strip())):
        raise CellError(
            "NIK tertulis sebagai angka ilmiah (mis. 1.21701E+15): angka belakangnya hilang. "
            "Format kolom NIK sebagai Teks, lalu isi ulang NIK dari KTP/KK"
        )
    if isinstance(value, int):
        digits = str(value)
    elif isinstance(value, str):
        digits = value.strip().lstrip("'").translate(_SEPARATORS)
    else:
        raise CellError("NIK bukan angka")
    if not digits:
        raise CellError("NIK kosong")
    if not digits.isascii() or not digits.isdigit():
        raise CellError("NIK berisi selain angka")
    if len(digits) < 16:
        raise CellError(
            f"NIK kurang dari 16 angka ({len(digits)} angka): angka depannya mungkin hilang "
            "karena kolom berformat angka. Format kolom NIK sebagai Teks"
        )
    if len(digits) > 16:
        raise CellError(f"NIK lebih dari 16 angka ({len(digits)} angka)")
    return digits


EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 in the 1900 date system (its 1900 leap-year bug included)
_DATE_FORMATS = ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d")


def _serial(number: float) -> dt.date:
    if not 1 <= number < 2958466:  # 1 January 1900 .. 31 December 9999
        raise CellError(f"tanggal {cell_text(number)} bukan tanggal")
    return EXCEL_EPOCH + dt.timedelta(days=int(number))


def date_cell(value: Cell, what: str = "tanggal") -> dt.date:
    """A date from a date cell, an Excel serial number (46023) or text dd-mm-yyyy / yyyy-mm-dd."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, dt.time):
        raise CellError(f"{what} kosong")
    if isinstance(value, int | float):
        return _serial(value)
    text = value.strip()
    if not text:
        raise CellError(f"{what} kosong")
    if text.isdigit():
        return _serial(int(text))
    head = text.split(" ")[0].split("T")[0]  # "2026-01-01 00:00:00" from a datetime written as text
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(head, pattern).date()
        except ValueError:
            continue
    raise CellError(f"{what} {text!r} tidak terbaca: tulis sebagai dd-mm-yyyy, mis. 01-01-2026")


def int_cell(value: Cell, what: str) -> int:
    """A whole number from a number cell or text."""
    if isinstance(value, bool):
        raise CellError(f"{what} bukan angka")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = cell_text(value).strip()
    if text.isascii() and text.isdigit():
        return int(text)
    raise CellError(f"{what} {text!r} bukan angka bulat")
