"""Spreadsheet files made by the tests (synthetic data only)."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Iterable, Iterator
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


# ------------------------------------------------------------------------------------------- hostile files

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def xml_row(line: int, *values: object) -> bytes:
    """A sheet row of inline-string cells (or a number cell for an ``int``), as XML."""
    cells = []
    for column, value in enumerate(values):
        ref = f"{chr(ord('A') + column)}{line}"
        if isinstance(value, int):
            cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        else:
            cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
    return f'<row r="{line}">{"".join(cells)}</row>'.encode()


def forged_xlsx(
    path: Path,
    rows: Iterable[bytes],
    *,
    dimension: str | None = None,
    shared_strings: Iterable[bytes] | None = None,
) -> Path:
    """An XLSX whose first sheet's rows (and shared strings) are the XML given, streamed into the zip.

    Everything else is a workbook openpyxl wrote, so only what the test forges is unusual.
    """
    blank = io.BytesIO()
    Workbook().save(blank)
    with zipfile.ZipFile(blank) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename == "xl/worksheets/sheet1.xml":
                continue
            data = source.read(info)
            if info.filename == "[Content_Types].xml" and shared_strings is not None:
                override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_STRINGS_TYPE}"/>'
                data = data.replace(b"</Types>", override.encode() + b"</Types>")
            target.writestr(info.filename, data)
        with target.open("xl/worksheets/sheet1.xml", "w") as sink:
            sink.write(f'<worksheet xmlns="{MAIN_NS}">'.encode())
            if dimension is not None:
                sink.write(f'<dimension ref="{dimension}"/>'.encode())
            sink.write(b"<sheetData>")
            for chunk in rows:
                sink.write(chunk)
            sink.write(b"</sheetData></worksheet>")
        if shared_strings is not None:
            with target.open("xl/sharedStrings.xml", "w") as sink:
                sink.write(f'<sst xmlns="{MAIN_NS}">'.encode())
                for chunk in shared_strings:
                    sink.write(chunk)
                sink.write(b"</sst>")
    return path


def _repeated(piece: bytes, size: int) -> Iterator[bytes]:
    for _ in range(size // len(piece)):
        yield piece


def _letters(size: int, seed: int = 1) -> bytes:
    """Letters that hardly compress, as a real file's text does not (a forged zip's ratio is low too)."""
    rnd = random.Random(seed)
    return bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(size))


def shared_string_bomb(path: Path, header: list[str]) -> Path:
    """A 70 KB XLSX whose sharedStrings.xml is one string of 64 MB of "A" (unpacks 1.000 times its size)."""
    return forged_xlsx(
        path,
        [xml_row(1, *header), b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>'],
        shared_strings=[b"<si><t>", *_repeated(b"A" * 65_536, 64 << 20), b"</t></si>"],
    )


def long_shared_string(path: Path, header: list[str]) -> Path:
    """A 1,5 MB XLSX whose one shared string is 2 MB of letters (ordinary compression, no spreadsheet's)."""
    piece = _letters(65_536)
    return forged_xlsx(
        path,
        [xml_row(1, *header), b'<row r="2"><c r="A2" t="s"><v>0</v></c></row>'],
        shared_strings=[b"<si><t>", *_repeated(piece, 2 << 20), b"</t></si>"],
    )


def forged_dimension(path: Path, header: list[str], row: list[object]) -> Path:
    """A few cells under ``<dimension ref="A1:XFD1048576"/>``: a header cell far right at XFD1, one row,
    and an empty cell on the sheet's last row (a million rows of 16.384 cells, to a reader that pads)."""
    far = b'<c r="XFD1" t="inlineStr"><is><t>x</t></is></c></row>'
    return forged_xlsx(
        path,
        [
            xml_row(1, *header)[: -len(b"</row>")] + far,
            xml_row(2, *row),
            b'<row r="1048576"><c r="B1048576"/></row>',
        ],
        dimension="A1:XFD1048576",
    )


def wide_xlsx_row(path: Path, header: list[str]) -> Path:
    """An XLSX whose second row is 2 MB of cells (about 50.000)."""
    letters = _letters(8 * 60_000).decode()
    cells = "".join(
        f'<c t="inlineStr"><is><t>{letters[i : i + 8]}</t></is></c>' for i in range(0, len(letters), 8)
    )
    return forged_xlsx(path, [xml_row(1, *header), f'<row r="2">{cells}</row>'.encode()])


def endless_csv_line(path: Path, header: list[str]) -> Path:
    """A CSV whose second line is 3.000.000 commas."""
    path.write_bytes(",".join(header).encode() + b"\n" + b"," * 3_000_000 + b"\n")
    return path


def endless_csv_record(path: Path, header: list[str]) -> Path:
    """A CSV whose second record is 400.000 short quoted fields, each on its own line (2 MB in all)."""
    path.write_bytes(",".join(header).encode() + b"\n" + b'"x\n",' * 400_000 + b"x\n")
    return path


def many_styles(path: Path, header: list[str], size: int = 4 << 20) -> Path:
    """An XLSX whose styles.xml holds ``size`` bytes of cell styles (4 MB: 220.000), each a bit different."""
    plain = forged_xlsx(path.with_name(f"plain-{path.name}"), [xml_row(1, *header)])
    rnd = random.Random(1)
    styles, written = [], 0
    while written < size - 4_000:  # the blank workbook's own styles take about 1 KB
        styles.append(f'<xf numFmtId="{rnd.randrange(50)}"/>'.encode())
        written += len(styles[-1])
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/styles.xml":
                data = data.replace(b"</cellXfs>", b"".join(styles) + b"</cellXfs>")
            target.writestr(info.filename, data)
    plain.unlink()
    return path
