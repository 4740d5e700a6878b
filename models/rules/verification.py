"""Re-verification rules (penyesuaian data): statuses, removal reasons and what the rules pre-mark."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from models.rules.nik import age_on, read_nik

DEFAULT_DESIL_THRESHOLD = 4  # as intake, for a year whose figures set none


class ItemStatus(StrEnum):
    """Where one participant's verification stands (VerificationItem.status)."""

    MENUNGGU = "menunggu"  # the desa's operator has not looked yet
    LANJUT = "lanjut"  # still qualifies
    USUL_KELUAR = "usul_keluar"  # the operator proposed to remove: waiting for the camat
    KELUAR_CAMAT = "keluar_camat"  # the camat agreed: waiting for the dinas
    KELUAR = "keluar"  # removed: the participation ended
    TETAP = "tetap"  # a removal refused: the participant continues


CONTINUING = frozenset({ItemStatus.LANJUT, ItemStatus.TETAP})

# Why an operator says a participant no longer qualifies (the code is stored, the label shown).
REASONS: dict[str, str] = {
    "meninggal": "meninggal dunia",
    "pindah": "pindah domisili",
    "bekerja": "sudah bekerja dengan upah / punya jaminan lain",
    "usia": "usia melewati batas",
    "takkenal": "tidak dikenal di desa",
    "lainnya": "lainnya",
}


class Decider(StrEnum):
    OPERATOR = "operator"
    CAMAT = "camat"
    DINAS = "dinas"


# (who, the status they decide in, the action) -> the status after it
TRANSITIONS: dict[tuple[Decider, ItemStatus, str], ItemStatus] = {
    (Decider.OPERATOR, ItemStatus.MENUNGGU, "ok"): ItemStatus.LANJUT,
    (Decider.OPERATOR, ItemStatus.MENUNGGU, "out"): ItemStatus.USUL_KELUAR,
    (Decider.CAMAT, ItemStatus.USUL_KELUAR, "out"): ItemStatus.KELUAR_CAMAT,
    (Decider.CAMAT, ItemStatus.USUL_KELUAR, "keep"): ItemStatus.TETAP,
    (Decider.DINAS, ItemStatus.KELUAR_CAMAT, "out"): ItemStatus.KELUAR,
    (Decider.DINAS, ItemStatus.KELUAR_CAMAT, "keep"): ItemStatus.TETAP,
}

# the status each decider decides in (what waits for them)
STAGE = {
    Decider.OPERATOR: ItemStatus.MENUNGGU,
    Decider.CAMAT: ItemStatus.USUL_KELUAR,
    Decider.DINAS: ItemStatus.KELUAR_CAMAT,
}


def next_status(decider: Decider, status: str, action: str) -> ItemStatus | None:
    """The status an action leads to, or None when this decider may not take it in this status."""
    try:
        return TRANSITIONS.get((decider, ItemStatus(status), action))
    except ValueError:
        return None


def reference_day(year: int, coverage_start: dt.date | None) -> dt.date:
    """The day ages are counted on: the year's coverage start, else 1 January of the year."""
    return (
        coverage_start if coverage_start is not None and coverage_start.year == year else dt.date(year, 1, 1)
    )


def birth_date_of(nik: str, *, today: dt.date) -> dt.date | None:
    """The birth date a NIK states, as :func:`models.rules.nik.read_nik` reads it, or None when it cannot
    be read. A list of participants was read at its import: 16 digits take the short way (the date's six
    digits, women's day + 40, the century as lokal-id infers it), which a round over 100.000 needs; a
    property test holds it to ``read_nik``."""
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        check = read_nik(nik, today=today)
        return check.reading.birth_date if check.reading is not None else None
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > 40:
        day -= 40
    year = 2000 + yy if yy <= today.year % 100 else 1900 + yy
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return None
    return born if born <= today and nik[12:] != "0000" else None


@dataclass(frozen=True, slots=True)
class Premark:
    """What the rules can see against a participant; the officer still decides."""

    code: str  # usia | desil | dtsen
    value: int | None = None  # the age or the desil
    limit: int | None = None  # the age limit or the desil threshold

    def encode(self) -> str:
        return ":".join(str(part) for part in (self.code, self.value, self.limit) if part is not None)

    @classmethod
    def decode(cls, text: str) -> Premark | None:
        code, *numbers = text.split(":")
        if code not in {"usia", "desil", "dtsen"} or not all(n.isdigit() for n in numbers):
            return None
        values = [int(n) for n in numbers] + [None, None]
        return cls(code, values[0], values[1])


def premarks(
    *,
    birth_date: dt.date | None,
    reference: dt.date,
    age_max: int | None,
    dtsen_imported: bool,
    in_dtsen: bool,
    desil: int | None,
    desil_threshold: int | None,
) -> list[Premark]:
    """Age over the limit on the reference day; in the latest DTSEN above the desil threshold, or absent
    from it (only when a DTSEN is imported: absence from nothing says nothing)."""
    found: list[Premark] = []
    if birth_date is not None and age_max is not None:
        age = age_on(birth_date, reference)
        if age > age_max:
            found.append(Premark("usia", age, age_max))
    if dtsen_imported:
        threshold = DEFAULT_DESIL_THRESHOLD if desil_threshold is None else desil_threshold
        if not in_dtsen:
            found.append(Premark("dtsen"))
        elif desil is not None and desil > threshold:
            found.append(Premark("desil", desil, threshold))
    return found
