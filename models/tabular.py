"""Tabular files (CSV or XLSX) read row by row with bounded memory, and the cell readers imports share.

CSV: comma, semicolon or tab (counted in the header line); UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8")
or Windows-1252/Latin-1 (Excel's plain "CSV"), decided by one streaming pass over the bytes before the
rows are read. XLSX: the first sheet, through openpyxl's read-only mode, which never loads the sheet.

Registry files come from outside the office, so a hostile file is refused in seconds with bounded memory:
the zip is checked before openpyxl opens it, the sheet's ``<dimension>`` is ignored (only the header's
columns are read), and rows, CSV records and the XML of one row or one shared string are capped.

Cell readers turn what spreadsheets do to NIKs and dates back into values, or say in Bahasa Indonesia
(the officers who fix the file read it) why they cannot: a reason never quotes a NIK (see :func:`quoted`).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal
from xml.etree.ElementTree import ParseError

from models.rules.privacy import mask_nik_like

Cell = str | int | float | dt.datetime | dt.date | dt.time | bool | None

CHUNK = 1 << 20

# Caps on what a file may hold, far above a real registry: a 1.000.000-row XLSX of 7 columns written by
# openpyxl packs to 58 MB and its sheet unpacks to 453 MB (7,9 times its packed size).
ROWS_MAX = 2_000_000  # lines of a sheet or CSV file, blank ones included
COLUMNS_MAX = 512  # header cells
CELLS_MAX = 16_384  # cells of one CSV row (Excel's own column limit)
CSV_RECORD_MAX = 1 << 20  # characters of one CSV row, its quoted line breaks included
ZIP_ENTRIES_MAX = 1_000
ZIP_ENTRY_MAX = 2 << 30  # unpacked bytes of one sheet, of sharedStrings.xml or of a part never read
ZIP_PART_MAX = 1 << 20  # unpacked bytes of any other XML part (styles, workbook, relationships)
ZIP_TOTAL_MAX = 3 << 30  # unpacked bytes of all parts together
ZIP_RATIO_MAX = 100  # unpacked / packed size of a part bigger than ZIP_RATIO_FROM
ZIP_RATIO_FROM = 1 << 20
XML_SPAN_MAX = 1 << 20  # bytes of one sheet <row>, one shared string <si>, or of the XML around them


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


def _size(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB".replace(",", ".")


def _count(number: int) -> str:
    return f"{number:,}".replace(",", ".")


class _CsvLines:
    """The lines of a CSV text stream for :mod:`csv`, refused before one record grows past its cap.

    ``readline`` is given a limit, so even a file of one endless line is read a bounded piece at a time;
    ``pending`` counts the characters of the record being read (a quoted field may span lines).
    """

    def __init__(self, text: IO[str], name: str) -> None:
        self.text, self.name = text, name
        self.pending = 0
        self.line = 1  # the line the record being read starts on

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.text.readline(CSV_RECORD_MAX + 1)
        if not line:
            raise StopIteration
        self.pending += len(line)
        if self.pending > CSV_RECORD_MAX:
            raise TabularFileError(
                f"{self.name}: refused: line {self.line} is longer than {_count(CSV_RECORD_MAX)} characters"
            )
        return line


_SHEET_PART = re.compile(r"(?i)(?:^|/)worksheets/[^/]+\.xml$")
_STRINGS_PART = re.compile(r"(?i)(?:^|/)sharedstrings[^/]*\.xml$")
_XML_PART = re.compile(r"(?i)\.(?:xml|rels|vml)$")


def _check_zip(path: Path) -> None:
    """Refuse a workbook whose parts would unpack too big, or suspiciously well, before anything reads them.

    The sizes are the zip directory's: :mod:`zipfile` never unpacks more of an entry than it declares.
    """
    name = path.name
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise TabularFileError(f"{name}: not a readable Excel workbook (.xlsx)") from None
    if len(entries) > ZIP_ENTRIES_MAX:
        raise TabularFileError(
            f"{name}: refused: the workbook holds {_count(len(entries))} parts (at most {ZIP_ENTRIES_MAX})"
        )
    total = 0
    for entry in entries:
        part, size, packed = entry.filename[:80], entry.file_size, max(entry.compress_size, 1)
        read_whole = _XML_PART.search(entry.filename) and not (
            _SHEET_PART.search(entry.filename) or _STRINGS_PART.search(entry.filename)
        )
        limit = ZIP_PART_MAX if read_whole else ZIP_ENTRY_MAX
        if size > limit:
            raise TabularFileError(
                f"{name}: refused: its part {part} unpacks to {_size(size)} (at most {_size(limit)})"
            )
        if size > ZIP_RATIO_FROM and size > ZIP_RATIO_MAX * packed:
            raise TabularFileError(
                f"{name}: refused: its part {part} unpacks to {_count(size // packed)} times its packed "
                f"size (at most {ZIP_RATIO_MAX}); no spreadsheet program writes that"
            )
        total += size
    if total > ZIP_TOTAL_MAX:
        raise TabularFileError(
            f"{name}: refused: it unpacks to {_size(total)} (at most {_size(ZIP_TOTAL_MAX)})"
        )


class _XmlSpans:
    """A zip part read as XML, refused once one element of its repeated kind (a sheet's ``<row>``, a shared
    string's ``<si>``), or what lies before, between or after them, spans more than ``XML_SPAN_MAX`` bytes.

    The XML parser holds such an element whole until it ends: this keeps one row of millions of cells, or
    one shared string of millions of characters, from ever being built.
    """

    def __init__(self, raw: IO[bytes], tag: bytes, refuse: Callable[[str], TabularFileError]) -> None:
        self._raw, self._refuse = raw, refuse
        self._start = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?" + tag + rb"[\s/>]")
        self._what = tag.decode()
        self._tail = b""
        self._offset = 0  # bytes read so far
        self._last = 0  # where the last start tag began

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        window = self._tail + data
        base = self._offset - len(self._tail)
        for found in self._start.finditer(window):
            at = base + found.start()
            if at <= self._last:
                continue  # seen in the previous read's tail
            if at - self._last > XML_SPAN_MAX:
                break
            self._last = at
        self._offset += len(data)
        self._tail = window[-64:]
        if self._offset - self._last > XML_SPAN_MAX:
            raise self._refuse(
                f"one <{self._what}> or the XML around it is bigger than {_size(XML_SPAN_MAX)}"
            )
        return data

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _XmlSpans:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def cell_at(cells: Sequence[Cell], index: int | None) -> Cell:
    """The cell at ``index`` of a row, or None when the column is absent or the row is shorter."""
    return cells[index] if index is not None and index < len(cells) else None


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
        self._lines: _CsvLines | None = None
        self._header_cells: list[Cell] | None = None
        if not path.is_file():
            raise TabularFileError(f"file not found: {path}")
        suffix = path.suffix.lower()
        if suffix not in {".csv", ".xlsx", ".xlsm"}:
            raise TabularFileError(f"{path.name}: use a .csv or .xlsx file")
        try:
            if suffix == ".csv":
                self._open_csv()
                first = self._first_csv_row()
                if first is not None and len(first) > COLUMNS_MAX:
                    raise self._refusal(f"its first row has more than {COLUMNS_MAX} columns")
                self._header_cells = list(first) if first is not None else []
            else:
                self._open_xlsx()
        except BaseException:
            self.close()
            raise
        self.header = [cell_text(c) for c in self._header_cells or []]

    def _first_csv_row(self) -> Sequence[Cell] | None:
        try:
            return next(self._rows, None)
        except csv.Error as exc:
            raise TabularFileError(f"{self.path.name}: line 1 is not valid CSV ({exc})") from None

    def _open_csv(self) -> None:
        encoding = _encoding_of(self.path)
        self.unit, self.total = "bytes", self.path.stat().st_size
        raw = self.path.open("rb")
        self._raw = raw
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        first_line = text.readline(CSV_RECORD_MAX)
        text.seek(0)
        self._lines = _CsvLines(text, self.path.name)
        self._rows = csv.reader(self._lines, delimiter=_delimiter(first_line))

    def _open_xlsx(self) -> None:
        from openpyxl.reader.excel import ExcelReader  # imported here: only XLSX files need it
        from openpyxl.utils.exceptions import InvalidFileException

        _check_zip(self.path)
        try:
            reader = ExcelReader(self.path, read_only=True, data_only=True, keep_links=False)
            archive = reader.archive
            opened = archive.open

            def guarded(name: Any, *args: Any, **kwargs: Any) -> Any:
                part = name if isinstance(name, str) else name.filename
                raw = opened(name, *args, **kwargs)
                if _SHEET_PART.search(part):
                    return _XmlSpans(raw, b"row", self._refusal)
                if _STRINGS_PART.search(part):
                    return _XmlSpans(raw, b"si", self._refusal)
                return raw

            archive.open = guarded
            reader.read()
            self._workbook = reader.wb
            sheet = self._workbook.worksheets[0]
        except (
            zipfile.BadZipFile,
            InvalidFileException,
            KeyError,
            OSError,
            IndexError,
            ValueError,
            ParseError,
        ):
            raise TabularFileError(f"{self.path.name}: not a readable Excel workbook (.xlsx)") from None
        # The <dimension> record only sizes the progress bar: a forged one (A1:XFD1048576) would make
        # openpyxl pad every row to 16.384 cells and add a million empty rows.
        rows = sheet.max_row
        self.total = rows if isinstance(rows, int) and 0 < rows <= ROWS_MAX else None
        sheet.reset_dimensions()
        try:
            head = next(sheet.iter_rows(max_row=1, max_col=COLUMNS_MAX + 1, values_only=True), ())
        except ValueError:
            raise self._refusal("its first row cannot be read") from None
        width = len(head)
        while width and is_blank(head[width - 1]):
            width -= 1
        if width > COLUMNS_MAX:
            raise self._refusal(f"its first row has more than {COLUMNS_MAX} columns")
        self._header_cells = list(head[:width])
        # Only the header's columns: cells beyond them are never padded nor kept.
        self._rows = sheet.iter_rows(min_row=2, max_col=max(width, 1), values_only=True)

    def _refusal(self, why: str) -> TabularFileError:
        return TabularFileError(f"{self.path.name}: refused: {why}")

    @property
    def done(self) -> int:
        if self._raw is not None and not self._raw.closed:
            return self._raw.tell()
        return self._done_rows

    def __iter__(self) -> Iterator[tuple[int, list[Cell]]]:
        line = 1
        lines = self._lines
        if lines is not None:
            lines.pending, lines.line = 0, 2
        try:
            for row in self._rows:
                line += 1
                if line > ROWS_MAX:
                    raise self._refusal(f"it has more than {_count(ROWS_MAX)} rows")
                self._done_rows = line
                if lines is not None:
                    lines.pending, lines.line = 0, line + 1
                    if len(row) > CELLS_MAX:
                        raise self._refusal(f"line {line} has more than {_count(CELLS_MAX)} cells")
                cells = list(row)
                if any(not is_blank(c) for c in cells):
                    yield line, cells
        except csv.Error as exc:
            raise TabularFileError(f"{self.path.name}: line {line + 1} is not valid CSV ({exc})") from None
        except ValueError:  # openpyxl on a cell no spreadsheet program writes (a number of 5.000 digits)
            raise self._refusal(f"line {line + 1} holds a cell that cannot be read") from None
        except ParseError:
            raise self._refusal(f"the sheet is not valid XML after line {line}") from None
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
        found_names = ",".join(
            shown(h) for h in header[:COLUMNS_MAX] if h.strip()
        )  # a data row may hold NIKs
        found_names = found_names if len(found_names) <= 200 else found_names[:200] + "…"
        raise TabularFileError(
            f"{file_name}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"in the first row (found {found_names or 'nothing'})"
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


QUOTE_MAX = 40  # characters of a cell a reason quotes
DIGITS_MAX = 18  # digits of a number or date cell worth reading (Python refuses int() of 4.300 digits)


def shown(value: Cell) -> str:
    """A cell as a reason shows it: NIK-like runs masked as everywhere (mask_nik_like), cut to QUOTE_MAX."""
    text = cell_text(value).strip()
    # Masked before the cut, so a cut never leaves the first digits of a NIK.
    masked = mask_nik_like(text[: QUOTE_MAX + 64])
    return masked[:QUOTE_MAX] + "…" if len(masked) > QUOTE_MAX else masked


def quoted(value: Cell) -> str:
    """:func:`shown`, in quotes."""
    return repr(shown(value))


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


def _serial(number: float, what: str) -> dt.date:
    if not 1 <= number < 2958466:  # 1 January 1900 .. 31 December 9999
        raise CellError(f"{what} {shown(number)} bukan tanggal")
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
        return _serial(value, what)
    text = value.strip()
    if not text:
        raise CellError(f"{what} kosong")
    if text.isdigit():
        if len(text) > DIGITS_MAX:
            raise CellError(f"{what} berisi {len(text)} angka: bukan tanggal")
        return _serial(int(text), what)
    head = text.split(" ")[0].split("T")[0]  # "2026-01-01 00:00:00" from a datetime written as text
    if len(head) <= 32:  # longer is no date in any of the formats
        for pattern in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(head, pattern).date()
            except ValueError:
                continue
    raise CellError(f"{what} {quoted(text)} tidak terbaca: tulis sebagai dd-mm-yyyy, mis. 01-01-2026")


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
        if len(text) > DIGITS_MAX:
            raise CellError(f"{what} berisi {len(text)} angka: terlalu panjang")
        return int(text)
    raise CellError(f"{what} {quoted(text)} bukan angka bulat")
