"""Rules for the rows of BPJS Ketenagakerjaan's registration result: status, KPJ, effective date, note."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

from models.rules.privacy import mask_nik_like
from models.tabular import Cell, CellError, cell_text, date_cell, quoted

NOTE_MAX = 200
KPJ_MIN, KPJ_MAX = 8, 16

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("januari", "jan"),
            ("februari", "feb", "pebruari", "peb"),
            ("maret", "mar"),
            ("april", "apr"),
            ("mei",),
            ("juni", "jun"),
            ("juli", "jul"),
            ("agustus", "agu", "agt", "ags", "aug"),
            ("september", "sep", "sept"),
            ("oktober", "okt", "oct"),
            ("november", "nov", "nop", "nopember"),
            ("desember", "des", "dec"),
        ),
        1,
    )
    for name in names
}
_WORDED = re.compile(r"^(\d{1,2})[\s\-/.]+([A-Za-z]+)[\s\-/.,]+(\d{4})$")


class Result(StrEnum):
    """What BPJS says of one worker."""

    BERHASIL = "berhasil"
    GAGAL = "gagal"


RESULT_WORDS = {
    "berhasil": Result.BERHASIL,
    "sukses": Result.BERHASIL,
    "success": Result.BERHASIL,
    "ok": Result.BERHASIL,
    "terdaftar": Result.BERHASIL,
    "aktif": Result.BERHASIL,
    "gagal": Result.GAGAL,
    "ditolak": Result.GAGAL,
    "failed": Result.GAGAL,
    "tidak berhasil": Result.GAGAL,
    "tidak terdaftar": Result.GAGAL,
}


def result_cell(value: Cell) -> Result:
    """berhasil/gagal and the words BPJS's files use for them."""
    text = " ".join(cell_text(value).lower().split())
    if not text:
        raise CellError("status kosong: isi berhasil atau gagal")
    found = RESULT_WORDS.get(text)
    if found is None:
        raise CellError(f"status {quoted(text)} tidak dikenal: isi berhasil atau gagal")
    return found


def kpj_cell(value: Cell) -> str:
    """The participation number (KPJ) as digits; spreadsheets may have turned it into a number."""
    if isinstance(value, float) and not value.is_integer():
        raise CellError("nomor kepesertaan tertulis sebagai angka pecahan: format kolomnya sebagai Teks")
    text = cell_text(value).strip().lstrip("'").replace(" ", "").replace("-", "").replace(".", "")
    if not text:
        raise CellError("nomor kepesertaan (KPJ) kosong")
    if not text.isascii() or not text.isdigit():
        raise CellError("nomor kepesertaan (KPJ) berisi selain angka")
    if not KPJ_MIN <= len(text) <= KPJ_MAX:
        raise CellError(f"nomor kepesertaan (KPJ) {len(text)} angka: harus {KPJ_MIN} sampai {KPJ_MAX} angka")
    return text


def effective_cell(value: Cell, what: str = "tanggal efektif") -> dt.date:
    """A date as date_cell reads it, or written in Indonesian: 1 Februari 2026, 01-Feb-2026."""
    if isinstance(value, str):
        match = _WORDED.match(" ".join(value.split()))
        if match:
            day, month_name, year = match.groups()
            month = MONTHS.get(month_name.lower())
            if month is None:
                raise CellError(f"{what} {quoted(value)}: bulan {quoted(month_name)} tidak dikenal")
            try:
                return dt.date(int(year), month, int(day))
            except ValueError:
                raise CellError(f"{what} {quoted(value)} bukan tanggal") from None
    try:
        return date_cell(value, what)
    except CellError as error:
        if isinstance(value, str) and value.strip():
            raise CellError(
                f"{what} {quoted(value)} tidak terbaca: tulis sebagai 01-02-2026, 2026-02-01 "
                "atau 1 Februari 2026"
            ) from error
        raise


def note_text(value: Cell) -> str | None:
    """BPJS's reason as it is kept and shown: cleaned, NIK-like numbers masked, at most NOTE_MAX."""
    text = " ".join(mask_nik_like(cell_text(value)).split())
    if not text:
        return None
    return text if len(text) <= NOTE_MAX else text[: NOTE_MAX - 1] + "…"


def mask_kpj(kpj: str) -> str:
    """A KPJ as chats show it to whoever is not the dinas: the last four digits."""
    return "•" * max(len(kpj) - 4, 4) + kpj[-4:]
