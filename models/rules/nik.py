"""NIK rules: what refuses the input, what blocks a proposal, what only warns.

Pure Python on top of lokal-id's NIK parser; no database, no chat framework.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from lokal import parse_nik
from lokal.wilayah import wilayah_name

from models.rules.privacy import clean_text


class Gender(StrEnum):
    """Gender as encoded in a NIK (women's birth day + 40)."""

    L = "L"
    P = "P"


@dataclass(frozen=True, slots=True)
class NikReading:
    """What a structurally valid NIK says about its holder."""

    nik: str
    birth_date: dt.date
    gender: Gender
    province_code: str
    regency_code: str
    district_code: str
    regency_name: str | None
    district_name: str | None


@dataclass(frozen=True, slots=True)
class NikError:
    """Why the typed text is not a NIK at all; the officer is asked again."""

    code: str  # format | province | wilayah | birth_date | serial


@dataclass(slots=True)
class NikCheck:
    """Outcome of reading a NIK: either errors, or a reading."""

    reading: NikReading | None = None
    errors: list[NikError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reading is not None and not self.errors


def read_nik(text: str, *, today: dt.date) -> NikCheck:
    """Read a typed NIK (spaces, dots and dashes allowed) and refuse what cannot be a NIK."""
    # A NIK copied from a chat or a document often carries invisible direction marks or zero-width spaces.
    info = parse_nik(clean_text(text).strip(), lookup_wilayah=wilayah_name, reference_date=today)
    if info.errors:
        errors = []
        for issue in info.errors:
            # lokal-id reports province, region, date and serial problems separately; keep them all
            # so the officer can fix every mistake in one go.
            errors.append(NikError(issue.code))
        return NikCheck(errors=errors)
    assert info.nik and info.birth_date and info.gender
    birth_date = dt.date.fromisoformat(info.birth_date)
    if birth_date > today:  # lokal-id infers the century but never refuses a birthday in the future
        return NikCheck(errors=[NikError("birth_date")])
    return NikCheck(
        reading=NikReading(
            nik=info.nik,
            birth_date=birth_date,
            gender=Gender(info.gender),
            province_code=info.province_code or "",
            regency_code=info.regency_code or "",
            district_code=info.district_code or "",
            regency_name=info.regency,
            district_name=info.district,
        )
    )


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Age in whole years on a given day (a 29 February birthday counts on 1 March)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def mask_nik(nik: str) -> str:
    """Mask a NIK for chats: 1217••••••••0001."""
    if len(nik) != 16:
        return "••••••••••••••••"
    return f"{nik[:4]}{'•' * 8}{nik[-4:]}"
