"""The re-verification rules: pre-marks, the reference day, the transitions, the premark codes."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from models.rules.verification import (
    Decider,
    ItemStatus,
    Premark,
    birth_date_of,
    next_status,
    premarks,
    reference_day,
)
from tests.conftest import synthetic_nik

JAN_2027 = dt.date(2027, 1, 1)


def marks(**overrides: object) -> list[str]:
    values: dict[str, object] = {
        "birth_date": dt.date(1990, 8, 15),
        "reference": JAN_2027,
        "age_max": 60,
        "dtsen_imported": True,
        "in_dtsen": True,
        "desil": 2,
        "desil_threshold": 4,
    } | overrides
    return [m.encode() for m in premarks(**values)]  # type: ignore[arg-type]


def test_a_participant_the_rules_see_nothing_against_has_no_premark():
    assert marks() == []


def test_age_over_the_limit_on_the_reference_day():
    assert marks(birth_date=dt.date(1965, 3, 10)) == ["usia:61:60"]
    assert marks(birth_date=dt.date(1966, 1, 1)) == ["usia:61:60"]  # 61 on the day itself
    assert marks(birth_date=dt.date(1966, 1, 2)) == []  # still 60 on 1 January
    assert marks(birth_date=None) == []  # an unreadable NIK: nothing to say


def test_the_dtsen_absence_and_the_desil():
    assert marks(in_dtsen=False, desil=None) == ["dtsen"]
    assert marks(desil=5) == ["desil:5:4"]
    assert marks(desil=5, desil_threshold=None) == ["desil:5:4"]  # intake's default threshold
    assert marks(desil=4) == []
    assert marks(dtsen_imported=False, in_dtsen=False) == []  # absent from no registry says nothing


def test_both_marks_at_once():
    assert marks(birth_date=dt.date(1950, 1, 1), in_dtsen=False) == ["usia:77:60", "dtsen"]


@given(st.sampled_from(["usia:61:60", "desil:7:4", "dtsen"]))
def test_a_premark_reads_back(code: str):
    mark = Premark.decode(code)
    assert mark is not None
    assert mark.encode() == code


def test_an_unknown_premark_is_ignored():
    assert Premark.decode("usia:x") is None
    assert Premark.decode("nik:1217011508900001") is None


def test_the_reference_day():
    assert reference_day(2027, dt.date(2027, 2, 1)) == dt.date(2027, 2, 1)
    assert reference_day(2027, None) == JAN_2027
    assert reference_day(2027, dt.date(2026, 1, 1)) == JAN_2027  # another year's figure: 1 January


def test_the_birth_date_is_read_from_the_nik():
    nik = synthetic_nik(day=10, month=3, year=1965, female=True)
    assert birth_date_of(nik, today=dt.date(2026, 11, 24)) == dt.date(1965, 3, 10)
    assert birth_date_of("12345", today=dt.date(2026, 11, 24)) is None


def test_who_decides_what():
    assert next_status(Decider.OPERATOR, "menunggu", "ok") is ItemStatus.LANJUT
    assert next_status(Decider.OPERATOR, "menunggu", "out") is ItemStatus.USUL_KELUAR
    assert next_status(Decider.CAMAT, "usul_keluar", "out") is ItemStatus.KELUAR_CAMAT
    assert next_status(Decider.CAMAT, "usul_keluar", "keep") is ItemStatus.TETAP
    assert next_status(Decider.DINAS, "keluar_camat", "out") is ItemStatus.KELUAR
    assert next_status(Decider.DINAS, "keluar_camat", "keep") is ItemStatus.TETAP


@given(
    st.sampled_from(list(Decider)),
    st.sampled_from([*(s.value for s in ItemStatus), "forged"]),
    st.sampled_from(["ok", "out", "keep", "no", "x"]),
)
def test_nobody_skips_a_stage_nor_decides_twice(decider: Decider, status: str, action: str):
    after = next_status(decider, status, action)
    if after is None:
        return
    stage = {Decider.OPERATOR: "menunggu", Decider.CAMAT: "usul_keluar", Decider.DINAS: "keluar_camat"}
    assert status == stage[decider]
    assert next_status(decider, after.value, action) is None  # decided: the same press again is refused


@given(
    st.integers(1, 71),
    st.integers(0, 13),
    st.integers(0, 99),
    st.integers(0, 9999),
    st.sampled_from(["121701", "121708", "317101"]),
)
def test_the_short_reading_of_the_birth_date_is_read_niks(
    day: int, month: int, yy: int, serial: int, area: str
):
    from models.rules.nik import read_nik

    nik = f"{area}{day:02d}{month:02d}{yy:02d}{serial:04d}"
    today = dt.date(2026, 11, 24)
    check = read_nik(nik, today=today)
    expected = check.reading.birth_date if check.reading is not None else None
    got = birth_date_of(nik, today=today)
    if expected is not None:
        assert got == expected
    else:  # refused by read_nik: the short way refuses it too, unless only the region was wrong
        assert got is None or {e.code for e in check.errors} <= {"province", "wilayah"}
