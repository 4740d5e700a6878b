"""Blocks and warnings about a candidate, from a read NIK and facts handed in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from models.rules.candidate import (
    AgeLimits,
    ExistingProposal,
    Finding,
    FindingCode,
    Severity,
    blocks,
    nik_findings,
    stated_findings,
    warnings,
)
from models.rules.nik import Gender, NikReading, read_nik
from tests.conftest import synthetic_nik

TODAY = dt.date(2026, 11, 24)
COVERAGE_START = dt.date(2027, 1, 1)


def reading_of(**nik_parts: object) -> NikReading:
    reading = read_nik(synthetic_nik(**nik_parts), today=TODAY).reading  # type: ignore[arg-type]
    assert reading is not None
    return reading


def findings(reading: NikReading, **overrides: object) -> list[Finding]:
    """nik_findings for a desa in Kec. Simanindo, Kabupaten Samosir, unless overridden."""
    arguments: dict[str, object] = {
        "kabupaten_code": "12.17",
        "kabupaten_name": "Kabupaten Samosir",
        "desa_kecamatan_code": "12.17.01",
        "desa_kecamatan_name": "Simanindo",
        "coverage_start": COVERAGE_START,
        "ages": AgeLimits(),
    }
    arguments.update(overrides)
    return nik_findings(reading, **arguments)  # type: ignore[arg-type]


def codes(found: list[Finding]) -> list[FindingCode]:
    return [f.code for f in found]


def test_a_nik_of_the_desas_own_kecamatan_in_the_age_range_raises_nothing():
    assert findings(reading_of(district="121701", year=1990)) == []


def test_default_age_limits_are_15_to_65():
    assert (AgeLimits().minimum, AgeLimits().maximum) == (15, 65)


# --------------------------------------------------------------------------------------------------- ages


@pytest.mark.parametrize(
    ("birth", "blocked", "age"),
    [
        (dt.date(2012, 1, 1), False, 15),  # turns 15 on the coverage start date: inclusive
        (dt.date(2012, 1, 2), True, 14),  # turns 15 the day after
        (dt.date(1961, 1, 2), False, 65),  # turns 66 the day after the coverage start date
        (dt.date(1961, 1, 1), True, 66),  # turns 66 on the coverage start date
        (dt.date(2000, 6, 30), False, 26),
    ],
    ids=["just-15", "almost-15", "still-65", "just-66", "middle"],
)
def test_age_limits_are_inclusive_on_the_coverage_start_date(birth, blocked, age):
    reading = reading_of(day=birth.day, month=birth.month, year=birth.year)

    found = findings(reading)

    if blocked:
        assert found == [
            Finding(
                Severity.BLOCK,
                FindingCode.AGE_OUT_OF_RANGE,
                {"age": str(age), "minimum": "15", "maximum": "65", "coverage_start": "2027-01-01"},
            )
        ]
    else:
        assert found == []


def test_age_is_taken_on_the_coverage_start_date_not_today():
    reading = reading_of(day=15, month=12, year=2011)  # 14 today, 15 on 1 January 2027

    assert findings(reading, coverage_start=dt.date(2027, 1, 1)) == []
    assert codes(findings(reading, coverage_start=dt.date(2026, 12, 1))) == [FindingCode.AGE_OUT_OF_RANGE]


def test_configured_age_limits_apply():
    ages = AgeLimits(minimum=18, maximum=60)
    seventeen = reading_of(day=1, month=6, year=2009)
    sixty_one = reading_of(day=1, month=6, year=1965)

    assert findings(seventeen, ages=ages)[0].params["minimum"] == "18"
    assert codes(findings(seventeen, ages=ages)) == [FindingCode.AGE_OUT_OF_RANGE]
    assert codes(findings(sixty_one, ages=ages)) == [FindingCode.AGE_OUT_OF_RANGE]
    assert findings(seventeen) == []  # 17 is fine under the default 15-65


# ------------------------------------------------------------------------------------------------ regions


def test_a_nik_from_another_kabupaten_is_a_warning_naming_it():
    reading = reading_of(district="127101")  # Kota Medan

    found = findings(reading)

    assert found == [
        Finding(
            Severity.WARNING,
            FindingCode.NIK_OUTSIDE_KABUPATEN,
            {"regency": reading.regency_name or "", "kabupaten": "Kabupaten Samosir"},
        )
    ]
    assert reading.regency_name  # the warning names the NIK's regency, not only its code
    assert blocks(found) == []


def test_a_nik_from_a_regency_unknown_to_the_data_falls_back_to_its_code():
    found = findings(reading_of(district="129901"))

    assert codes(found) == [FindingCode.NIK_OUTSIDE_KABUPATEN]
    assert found[0].params["regency"] == "12.99"


def test_a_nik_from_another_kecamatan_of_the_kabupaten_is_a_warning():
    found = findings(reading_of(district="121708"))  # Pangururan, for a desa in Simanindo

    assert found == [
        Finding(
            Severity.WARNING,
            FindingCode.NIK_OTHER_KECAMATAN,
            {"district": "Pangururan", "kecamatan": "Simanindo"},
        )
    ]


# ------------------------------------------------------------------------------------------------- blocks


EXISTING = ExistingProposal(
    desa_name="Pardomuan", kecamatan_name="Onan Runggu", status="menunggu_camat", number="U-00007"
)


def test_an_existing_live_proposal_blocks_and_says_where_and_how_far_only():
    nik = synthetic_nik(district="121701", day=15, month=8, year=1990, serial=4242)
    reading = read_nik(nik, today=TODAY).reading
    assert reading is not None

    found = findings(reading, existing=EXISTING)

    assert found == [
        Finding(
            Severity.BLOCK,
            FindingCode.ALREADY_PROPOSED,
            {
                "desa": "Pardomuan",
                "kecamatan": "Onan Runggu",
                "status": "menunggu_camat",
                "number": "U-00007",
            },
        )
    ]
    serialised = json.dumps(found[0].to_json())
    for personal in (nik, "1990-08-15", "4242"):
        assert personal not in serialised
    # the fact handed in cannot carry the other person's details at all
    assert [f.name for f in dataclasses.fields(ExistingProposal)] == [
        "desa_name",
        "kecamatan_name",
        "status",
        "number",
    ]


def test_an_active_participant_is_blocked():
    assert codes(findings(reading_of(), active_participant=True)) == [FindingCode.ACTIVE_PARTICIPANT]


def test_blocks_come_before_warnings():
    reading = reading_of(district="127101", year=2015)  # outside, and 11 years old

    found = findings(reading, existing=EXISTING, active_participant=True)

    assert [f.severity for f in found] == [Severity.BLOCK] * 3 + [Severity.WARNING]
    assert codes(blocks(found)) == [
        FindingCode.ALREADY_PROPOSED,
        FindingCode.ACTIVE_PARTICIPANT,
        FindingCode.AGE_OUT_OF_RANGE,
    ]
    assert codes(warnings(found)) == [FindingCode.NIK_OUTSIDE_KABUPATEN]


# ----------------------------------------------------------------------------------------- stated values


def test_stating_what_the_nik_says_raises_nothing():
    reading = reading_of(day=15, month=8, year=1990, female=True)

    assert stated_findings(reading, birth_date=dt.date(1990, 8, 15), gender=Gender.P) == []


def test_a_different_stated_birth_date_is_a_warning_with_both_dates():
    reading = reading_of(day=15, month=8, year=1990)

    found = stated_findings(reading, birth_date=dt.date(1990, 8, 16), gender=Gender.L)

    assert found == [
        Finding(
            Severity.WARNING,
            FindingCode.BIRTH_DATE_DIFFERS,
            {"stated": "1990-08-16", "nik": "1990-08-15"},
        )
    ]


def test_a_different_stated_gender_is_a_warning():
    reading = reading_of(female=False)

    found = stated_findings(reading, birth_date=reading.birth_date, gender=Gender.P)

    assert found == [Finding(Severity.WARNING, FindingCode.GENDER_DIFFERS, {"stated": "P", "nik": "L"})]


def test_both_differing_give_two_warnings_and_no_block():
    reading = reading_of(day=15, month=8, year=1990, female=True)

    found = stated_findings(reading, birth_date=dt.date(1991, 8, 15), gender=Gender.L)

    assert codes(found) == [FindingCode.BIRTH_DATE_DIFFERS, FindingCode.GENDER_DIFFERS]
    assert blocks(found) == []


# -------------------------------------------------------------------------------------------------- JSON


ALL_KINDS = [
    Finding(Severity.BLOCK, FindingCode.ALREADY_PROPOSED, {"desa": "Tomok", "status": "ditetapkan"}),
    Finding(Severity.BLOCK, FindingCode.ACTIVE_PARTICIPANT),
    Finding(Severity.WARNING, FindingCode.NIK_OTHER_KECAMATAN, {"district": "Palipi", "kecamatan": "Harian"}),
    Finding(Severity.WARNING, FindingCode.BIRTH_DATE_DIFFERS, {"stated": "1990-08-16", "nik": "1990-08-15"}),
]


@pytest.mark.parametrize("finding", ALL_KINDS, ids=lambda f: f.code.value)
def test_finding_survives_a_json_round_trip(finding):
    stored = json.loads(json.dumps(finding.to_json()))

    assert stored["severity"] == finding.severity.value
    assert stored["code"] == finding.code.value
    assert Finding.from_json(stored) == finding


def test_from_json_without_params_has_empty_params():
    assert Finding.from_json({"severity": "block", "code": "active_participant"}) == Finding(
        Severity.BLOCK, FindingCode.ACTIVE_PARTICIPANT, {}
    )


def test_to_json_is_a_copy():
    finding = Finding(Severity.WARNING, FindingCode.GENDER_DIFFERS, {"stated": "P", "nik": "L"})

    finding.to_json()["params"]["stated"] = "L"  # type: ignore[index]

    assert finding.params["stated"] == "P"


def test_from_json_refuses_unknown_codes():
    with pytest.raises(ValueError, match="no_such_code"):
        Finding.from_json({"severity": "warning", "code": "no_such_code"})
