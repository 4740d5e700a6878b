"""Blocks and warnings about a candidate worker, decided from facts passed in.

Errors (not a NIK at all) live in :mod:`models.rules.nik`. Blocks stop a proposal; warnings let it through
and travel with it to every approver. Facts that need the database (an existing proposal, an active
participant, the social registries) are looked up by the caller and handed in, so these rules stay pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from models.rules.nik import Gender, NikReading, age_on


class Severity(StrEnum):
    BLOCK = "block"
    WARNING = "warning"


class FindingCode(StrEnum):
    """Every block and warning the intake can raise; handlers word them."""

    # blocks
    ALREADY_PROPOSED = "already_proposed"
    ACTIVE_PARTICIPANT = "active_participant"  # filled in by the program-data import
    AGE_OUT_OF_RANGE = "age_out_of_range"
    # warnings
    NIK_OUTSIDE_KABUPATEN = "nik_outside_kabupaten"
    NIK_OTHER_KECAMATAN = "nik_other_kecamatan"
    BIRTH_DATE_DIFFERS = "birth_date_differs"
    GENDER_DIFFERS = "gender_differs"
    NOT_IN_REGISTRY = "not_in_registry"  # filled in by the registry import
    DESIL_ABOVE_THRESHOLD = "desil_above_threshold"  # filled in by the registry import
    REGISTRY_NAME_DIFFERS = "registry_name_differs"  # every registry with the NIK names someone else


@dataclass(frozen=True, slots=True)
class Finding:
    """One block or warning, with the facts needed to explain it in words."""

    severity: Severity
    code: FindingCode
    params: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"severity": self.severity.value, "code": self.code.value, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Finding:
        params = data.get("params") or {}
        assert isinstance(params, dict)
        return cls(Severity(str(data["severity"])), FindingCode(str(data["code"])), {**params})


@dataclass(frozen=True, slots=True)
class AgeLimits:
    """Ages (in whole years, on the coverage start date) the program accepts; BPJS sets the real ones."""

    minimum: int = 15
    maximum: int = 65


@dataclass(frozen=True, slots=True)
class ExistingProposal:
    """Another live proposal of the same NIK: only where it is and how far it got, never whose it is."""

    desa_name: str
    kecamatan_name: str
    status: str
    number: str


def nik_findings(
    reading: NikReading,
    *,
    kabupaten_code: str,
    kabupaten_name: str,
    desa_kecamatan_code: str,
    desa_kecamatan_name: str,
    coverage_start: dt.date,
    ages: AgeLimits,
    existing: ExistingProposal | None = None,
    active_participant: bool = False,
    stated_birth_date: dt.date | None = None,
) -> list[Finding]:
    """Blocks and warnings known once the NIK is read, blocks first.

    The age counts from the stated birth date when the officer corrected it: NIKs keep the date they were
    issued with even after Dukcapil corrects a birth date, so the corrected one is the person's real age.
    """
    found: list[Finding] = []
    if existing is not None:
        found.append(
            Finding(
                Severity.BLOCK,
                FindingCode.ALREADY_PROPOSED,
                {
                    "desa": existing.desa_name,
                    "kecamatan": existing.kecamatan_name,
                    "status": existing.status,
                    "number": existing.number,
                },
            )
        )
    if active_participant:
        found.append(Finding(Severity.BLOCK, FindingCode.ACTIVE_PARTICIPANT))
    age = age_on(stated_birth_date or reading.birth_date, coverage_start)
    if not ages.minimum <= age <= ages.maximum:
        found.append(
            Finding(
                Severity.BLOCK,
                FindingCode.AGE_OUT_OF_RANGE,
                {
                    "age": str(age),
                    "minimum": str(ages.minimum),
                    "maximum": str(ages.maximum),
                    "coverage_start": coverage_start.isoformat(),
                },
            )
        )
    if reading.regency_code != kabupaten_code:
        found.append(
            Finding(
                Severity.WARNING,
                FindingCode.NIK_OUTSIDE_KABUPATEN,
                {"regency": reading.regency_name or reading.regency_code, "kabupaten": kabupaten_name},
            )
        )
    elif reading.district_code != desa_kecamatan_code:
        found.append(
            Finding(
                Severity.WARNING,
                FindingCode.NIK_OTHER_KECAMATAN,
                {
                    "district": reading.district_name or reading.district_code,
                    "kecamatan": desa_kecamatan_name,
                },
            )
        )
    return found


def stated_findings(reading: NikReading, *, birth_date: dt.date, gender: Gender) -> list[Finding]:
    """Warnings when the officer states a birth date or gender other than the NIK's.

    NIKs are not reissued when Dukcapil corrects a birth date, so a difference is allowed but flagged.
    """
    found: list[Finding] = []
    if birth_date != reading.birth_date:
        found.append(
            Finding(
                Severity.WARNING,
                FindingCode.BIRTH_DATE_DIFFERS,
                {"stated": birth_date.isoformat(), "nik": reading.birth_date.isoformat()},
            )
        )
    if gender != reading.gender:
        found.append(
            Finding(
                Severity.WARNING,
                FindingCode.GENDER_DIFFERS,
                {"stated": gender.value, "nik": reading.gender.value},
            )
        )
    return found


def blocks(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.BLOCK]


def warnings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.WARNING]
