"""NIK reading (errors), masking and ages. Every NIK here is synthetic."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.regions import load_kabupaten
from models.rules.nik import Gender, age_on, mask_nik, read_nik
from tests.conftest import synthetic_nik

TODAY = dt.date(2026, 11, 24)  # the tests' "now" (tests/conftest.py NOW)


def error_codes(text: str, today: dt.date = TODAY) -> set[str]:
    check = read_nik(text, today=today)
    assert check.reading is None
    assert not check.ok
    return {e.code for e in check.errors}


def test_a_mans_nik_gives_his_birth_date_gender_and_region():
    check = read_nik(synthetic_nik(district="121701", day=15, month=8, year=1990, serial=1), today=TODAY)

    assert check.ok
    assert check.errors == []
    reading = check.reading
    assert reading is not None
    assert reading.nik == "1217011508900001"
    assert reading.birth_date == dt.date(1990, 8, 15)
    assert reading.gender is Gender.L
    assert (reading.province_code, reading.regency_code, reading.district_code) == ("12", "12.17", "12.17.01")
    assert reading.regency_name == "Kabupaten Samosir"
    assert reading.district_name == "Simanindo"


def test_a_womans_day_is_plus_40():
    nik = synthetic_nik(day=15, month=8, year=1990, female=True)
    assert nik[6:8] == "55"

    reading = read_nik(nik, today=TODAY).reading

    assert reading is not None
    assert reading.gender is Gender.P
    assert reading.birth_date == dt.date(1990, 8, 15)


@pytest.mark.parametrize("female", [False, True])
def test_29_february_in_a_leap_year_is_a_date(female):
    reading = read_nik(synthetic_nik(day=29, month=2, year=1992, female=female), today=TODAY).reading

    assert reading is not None
    assert reading.birth_date == dt.date(1992, 2, 29)
    assert reading.gender is (Gender.P if female else Gender.L)


@pytest.mark.parametrize("female", [False, True])
def test_29_february_in_a_non_leap_year_is_refused(female):
    assert error_codes(synthetic_nik(day=29, month=2, year=1991, female=female)) == {"birth_date"}


@pytest.mark.parametrize(
    ("day_digits", "month_digits"),
    [("00", "08"), ("32", "08"), ("40", "08"), ("72", "08"), ("15", "00"), ("15", "13"), ("31", "04")],
    ids=["day-0", "day-32", "day-40", "woman-day-32", "month-0", "month-13", "31-april"],
)
def test_impossible_dates_are_refused(day_digits, month_digits):
    assert error_codes(f"121701{day_digits}{month_digits}900001") == {"birth_date"}


def test_serial_0000_is_refused():
    assert error_codes(synthetic_nik(serial=0)) == {"serial"}


@pytest.mark.parametrize(
    "typed",
    [
        "1217 0115 0890 0001",
        "1217.0115.0890.0001",
        "1217-0115-0890-0001",
        "12.17.01 150890 0001",
        "  1217011508900001\n",
        "1217\t0115-08.90 0001",
    ],
)
def test_spaces_dots_and_dashes_are_accepted(typed):
    check = read_nik(typed, today=TODAY)

    assert check.ok
    assert check.reading is not None
    assert check.reading.nik == "1217011508900001"


@pytest.mark.parametrize(
    "typed",
    [
        "12170115089O0001",  # letter O for zero
        "121701150890001",  # 15 digits
        "12170115089000011",  # 17 digits
        "NIK 1217011508900001",
        "1217/0115/0890/0001",
        "",
        "   ",
        "🙂" * 16,
        "1217011508900001🙂",
        "1" * 4000,
        "١٢١٧٠١١٥٠٨٩٠٠٠٠١",  # Arabic-Indic digits
    ],
    ids=[
        "letter",
        "15",
        "17",
        "words",
        "slashes",
        "empty",
        "blank",
        "emoji",
        "digits+emoji",
        "4000",
        "arabic",
    ],
)
def test_what_is_not_16_digits_is_a_format_error(typed):
    assert error_codes(typed) == {"format"}


def test_unknown_province_is_refused():
    assert "province" in error_codes(synthetic_nik(district="991701"))


@pytest.mark.parametrize("district", ["120001", "121700"], ids=["kabupaten-00", "kecamatan-00"])
def test_zero_kabupaten_or_kecamatan_is_refused(district):
    assert error_codes(synthetic_nik(district=district)) == {"wilayah"}


def test_every_mistake_is_reported_at_once():
    # unknown province, kecamatan 00, 30 February, serial 0000
    assert error_codes("9917003002900000") == {"province", "wilayah", "birth_date", "serial"}


def test_unknown_regency_in_a_known_province_still_reads():
    # NIKs keep the code they were issued with, even after pemekaran: a warning elsewhere, not an error.
    reading = read_nik(synthetic_nik(district="129901"), today=TODAY).reading

    assert reading is not None
    assert reading.regency_code == "12.99"
    assert reading.regency_name is None


@pytest.mark.parametrize(
    ("yy", "year"),
    [("00", 2000), ("10", 2010), ("25", 2025), ("26", 2026), ("27", 1927), ("90", 1990), ("99", 1999)],
)
def test_century_two_digit_years_up_to_this_year_are_2000s(yy, year):
    # lokal-id's rule: yy <= today.year % 100 -> 20yy, else 19yy.
    reading = read_nik(f"1217010101{yy}0001", today=TODAY).reading

    assert reading is not None
    assert reading.birth_date == dt.date(year, 1, 1)


def test_century_follows_the_given_today():
    reading = read_nik("1217010101270001", today=dt.date(2027, 1, 1)).reading

    assert reading is not None
    assert reading.birth_date == dt.date(2027, 1, 1)


def test_a_birth_date_after_today_is_an_impossible_date():
    # yy=26 <= 26 is read as 2026; 15 December 2026 is after 24 November 2026.
    assert error_codes(synthetic_nik(day=15, month=12, year=2026)) == {"birth_date"}


# ------------------------------------------------------------------------------------------------ masking


def test_mask_shows_region_and_serial_only():
    assert mask_nik("1217011508900001") == "1217••••••••0001"


def test_mask_hides_the_birth_date():
    masked = mask_nik(synthetic_nik(day=29, month=2, year=1992, serial=4321))

    assert masked == "1217••••••••4321"


@pytest.mark.parametrize("text", ["", "1217", "12170115089000011"])
def test_mask_of_something_that_is_not_a_nik_reveals_nothing(text):
    assert mask_nik(text) == "•" * 16


# --------------------------------------------------------------------------------------------------- ages


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (dt.date(1990, 8, 15), dt.date(2026, 8, 15), 36),
        (dt.date(1990, 8, 15), dt.date(2026, 8, 14), 35),
        (dt.date(1990, 8, 15), dt.date(2026, 12, 31), 36),
        (dt.date(1990, 12, 31), dt.date(2027, 1, 1), 36),
        (dt.date(2026, 11, 24), dt.date(2026, 11, 24), 0),
        # 29 February: in a non-leap year the birthday counts on 1 March
        (dt.date(1992, 2, 29), dt.date(2027, 2, 28), 34),
        (dt.date(1992, 2, 29), dt.date(2027, 3, 1), 35),
        (dt.date(1992, 2, 29), dt.date(2028, 2, 28), 35),
        (dt.date(1992, 2, 29), dt.date(2028, 2, 29), 36),
    ],
)
def test_age_on(birth, day, age):
    assert age_on(birth, day) == age


# ---------------------------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_any_16_digits_give_a_reading_or_errors_never_an_exception(digits):
    check = read_nik(digits, today=TODAY)

    assert (check.reading is None) == bool(check.errors)
    assert {e.code for e in check.errors} <= {"province", "wilayah", "birth_date", "serial"}
    if check.reading is not None:
        assert check.reading.nik == digits


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=64))
def test_any_text_never_raises(text):
    check = read_nik(text, today=TODAY)

    assert check.ok == (check.reading is not None)


SAMOSIR_KECAMATAN = [k.code for k in load_kabupaten("12.17").kecamatan]


@settings(max_examples=200, deadline=None)
@given(
    kecamatan=st.sampled_from(SAMOSIR_KECAMATAN),
    # the two-digit year is unambiguous from 1 January 1927 up to today (2026-11-24)
    birth=st.dates(min_value=dt.date(1927, 1, 1), max_value=TODAY),
    female=st.booleans(),
    serial=st.integers(min_value=1, max_value=9999),
)
def test_a_valid_nik_reads_back_exactly(kecamatan, birth, female, serial):
    nik = synthetic_nik(
        district=kecamatan.replace(".", ""),
        day=birth.day,
        month=birth.month,
        year=birth.year,
        female=female,
        serial=serial,
    )

    check = read_nik(nik, today=TODAY)

    assert check.ok, check.errors
    reading = check.reading
    assert reading is not None
    assert reading.birth_date == birth
    assert reading.gender is (Gender.P if female else Gender.L)
    assert reading.district_code == kecamatan
    assert reading.regency_code == "12.17"
    assert reading.nik == nik


def test_a_nik_pasted_with_invisible_characters_is_read():
    """Copied from a chat: a zero-width space and direction marks around and inside."""
    nik = synthetic_nik(serial=4321)
    check = read_nik(f"\u202a{nik[:8]}\u200b{nik[8:]}\u202c", today=TODAY)
    assert check.ok
    assert check.reading is not None
    assert check.reading.nik == nik
