"""The free-text answers of the intake: what is accepted, how it is cleaned, and why the rest is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from models.rules.fields import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    FieldError,
    clean_address,
    clean_description,
    clean_mobile,
    clean_name,
    parse_birth_date,
    parse_gender,
)
from models.rules.nik import Gender

TODAY = dt.date(2026, 11, 24)


def refusal(function, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(FieldError) as caught:
        function(*args, **kwargs)
    return caught.value.code


# --------------------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        ("Budi Santoso", "BUDI SANTOSO"),
        ("  budi   santoso \n", "BUDI SANTOSO"),
        ("Tiur O'Brien", "TIUR O'BRIEN"),
        ("Tiur O’Brien", "TIUR O'BRIEN"),  # typographic apostrophe becomes a plain one
        ("Tiur O`Brien", "TIUR O'BRIEN"),
        ("M. Sihombing", "M. SIHOMBING"),
        ("Rina Sitohang-Manik", "RINA SITOHANG-MANIK"),
        ("Renée Naibaho", "RENÉE NAIBAHO"),
        ("Rene\u0301e Naibaho", "RENÉE NAIBAHO"),  # decomposed accent is composed (NFC)
        ("Ab", "AB"),
        ("A" * NAME_MAX, "A" * NAME_MAX),
    ],
)
def test_names_are_cleaned_to_upper_case_single_spaced(typed, cleaned):
    assert clean_name(typed) == cleaned


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Budi 2", "name_characters"),
        ("Budi Santoso 😀", "name_characters"),
        ("Budi, Santoso", "name_characters"),
        ("Budi/Santoso", "name_characters"),
        ("A" * (NAME_MAX + 1), "name_too_long"),
        ("B", "name_too_short"),
        (". -", "name_too_short"),
        ("", "name_too_short"),
        ("   ", "name_too_short"),
    ],
)
def test_bad_names_are_refused_with_a_reason(typed, code):
    assert refusal(clean_name, typed) == code


def test_a_cleaned_name_fits_its_column():
    # Proposal.name is VARCHAR(100); upper() turns "ß" into "SS", so the check must come after it.
    assert refusal(clean_name, "ß" * NAME_MAX) == "name_too_long"
    assert len(clean_name("ß" * (NAME_MAX // 2))) == NAME_MAX


# ----------------------------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        ("Dusun II, RT 002/RW 001", "Dusun II, RT 002/RW 001"),
        ("  Dusun   I \n", "Dusun I"),
        ("Jl. Sisingamangaraja No. 5 (dekat gereja)", "Jl. Sisingamangaraja No. 5 (dekat gereja)"),
        ("Lingkungan III, RT 1 #3 & 4: Huta Lumban", "Lingkungan III, RT 1 #3 & 4: Huta Lumban"),
        ("RT 5", "RT 5"),
    ],
)
def test_addresses_keep_case_and_punctuation(typed, cleaned):
    assert clean_address(typed) == cleaned


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Dusun 😀", "address_characters"),
        ("Dusun I; DROP TABLE", "address_characters"),
        ("x" * (ADDRESS_MAX + 1), "address_too_long"),
        ("ab", "address_too_short"),
        ("1.2", "address_too_short"),
        ("", "address_too_short"),
    ],
)
def test_bad_addresses_are_refused(typed, code):
    assert refusal(clean_address, typed) == code


# ------------------------------------------------------------------------------------------- descriptions


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [("Penenun Ulos", "penenun ulos"), ("  Pengrajin   Tenun, Ulos ", "pengrajin tenun, ulos")],
)
def test_descriptions_are_lower_case(typed, cleaned):
    assert clean_description(typed) == cleaned


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("ab", "description_too_short"),
        ("123 45", "description_too_short"),  # needs letters, not only digits
        ("x" * (DESCRIPTION_MAX + 1), "description_too_long"),
        ("tukang 😀", "description_characters"),
    ],
)
def test_bad_descriptions_are_refused(typed, code):
    assert refusal(clean_description, typed) == code


# ------------------------------------------------------------------------------------------ mobile phones


@pytest.mark.parametrize(
    "typed",
    [
        "081200001234",
        "0812-0000-1234",
        "0812 0000 1234",
        "0812.0000.1234",
        "+6281200001234",
        "+62 812-0000-1234",
        "6281200001234",
        "62 812 0000 1234",
        " 081200001234 ",
    ],
)
def test_mobile_numbers_in_any_common_form_become_e164(typed):
    assert clean_mobile(typed) == "+6281200001234"


@pytest.mark.parametrize("typed", ["0625-41234", "(0625) 41234", "021-5550123", "+62 21 5550123"])
def test_landlines_are_refused_as_not_mobile(typed):
    assert refusal(clean_mobile, typed) == "phone_not_mobile"


@pytest.mark.parametrize(
    "typed",
    ["", "abc", "0812", "nomor saya 0812", "+1 202 555 0143", "0812" * 11, "😀", "0812-0000-1234-5678-9999"],
)
def test_garbage_is_an_invalid_phone(typed):
    assert refusal(clean_mobile, typed) == "phone_invalid"


# ------------------------------------------------------------------------------------------- birth dates


@pytest.mark.parametrize(
    ("typed", "date"),
    [
        ("15-08-1995", dt.date(1995, 8, 15)),
        ("15/8/1995", dt.date(1995, 8, 15)),
        ("15.08.1995", dt.date(1995, 8, 15)),
        ("15 Agustus 1995", dt.date(1995, 8, 15)),
        ("15 agu 1995", dt.date(1995, 8, 15)),
        ("1 Peb 1990", dt.date(1990, 2, 1)),
        ("1 Pebruari 1990", dt.date(1990, 2, 1)),
        ("9 nopember 1980", dt.date(1980, 11, 9)),
        ("17 Des 1975", dt.date(1975, 12, 17)),
        ("29-02-2000", dt.date(2000, 2, 29)),
        ("  24 - 11 - 2026 ", TODAY),
    ],
)
def test_birth_dates_day_first_in_numbers_or_indonesian_month_names(typed, date):
    assert parse_birth_date(typed, today=TODAY) == date


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("31-02-1990", "date_impossible"),
        ("29-02-1990", "date_impossible"),
        ("32-01-1990", "date_impossible"),
        ("15-13-1990", "date_impossible"),
        ("25-11-2026", "date_impossible"),  # tomorrow
        ("01-01-2030", "date_impossible"),
        ("01-01-1800", "date_impossible"),
        ("15-08-95", "date_format"),  # two-digit year is ambiguous
        ("1995-08-15", "date_format"),  # year first
        ("15 Foo 1995", "date_format"),
        ("15 08", "date_format"),
        ("kemarin", "date_format"),
        ("", "date_format"),
        ("1" * 50, "date_format"),
    ],
)
def test_impossible_or_unreadable_birth_dates_are_refused(typed, code):
    assert refusal(parse_birth_date, typed, today=TODAY) == code


@pytest.mark.parametrize(
    "typed", ["15-²-1995", "99999999999999999999-08-1995", "15-99999999999999999999-1995"]
)
def test_any_typed_date_is_refused_with_a_field_error(typed):
    with pytest.raises(FieldError):
        parse_birth_date(typed, today=TODAY)


# ------------------------------------------------------------------------------------------------- gender


@pytest.mark.parametrize(
    ("typed", "gender"),
    [
        ("L", Gender.L),
        ("l", Gender.L),
        (" Laki-laki ", Gender.L),
        ("laki laki", Gender.L),
        ("pria", Gender.L),
        ("P", Gender.P),
        ("perempuan", Gender.P),
        ("WANITA", Gender.P),
    ],
)
def test_gender_words(typed, gender):
    assert parse_gender(typed) is gender


@pytest.mark.parametrize("typed", ["", "x", "laki", "1", "perempuan laki-laki"])
def test_other_gender_answers_are_refused(typed):
    assert refusal(parse_gender, typed) == "gender_invalid"


def test_field_error_is_a_value_error_carrying_its_code():
    error = FieldError("name_too_short")

    assert isinstance(error, ValueError)
    assert error.code == "name_too_short"


# ------------------------------------------------------------------------------------ NIKs and hidden text

OTHER_NIK = "1217011508904242"  # synthetic_nik(serial=4242)


@pytest.mark.parametrize(
    ("clean", "typed", "code"),
    [
        (clean_address, "Dusun I, 1217/0115/0890/4242", "address_nik"),
        (clean_address, "Dusun I, NIK 1217 - 0115 - 0890 - 4242", "address_nik"),
        (clean_address, "Dusun I 12170115\u200b08904242", "address_nik"),
        (clean_address, f"RT 2 {OTHER_NIK}7", "address_nik"),
        (clean_description, "penenun ulos 1217.0115.0890.4242", "description_nik"),
        (clean_description, f"penenun {OTHER_NIK}", "description_nik"),
        (clean_name, f"Budi Santoso {OTHER_NIK}", "name_nik"),
        (clean_name, "Budi 1217-0115-0890-4242", "name_nik"),
    ],
)
def test_a_nik_typed_into_a_free_text_field_is_refused_with_its_own_hint(clean, typed, code):
    assert refusal(clean, typed) == code


def test_free_text_loses_control_and_format_characters():
    """NUL (refused by PostgreSQL), bidi overrides and zero-width spaces never reach a card."""
    assert clean_name("Bu\u200bdi\u202e Santoso\x00") == "BUDI SANTOSO"
    assert clean_address("Dusun II,\u202e RT 002/RW 001\x00") == "Dusun II, RT 002/RW 001"
    assert clean_description("penenun\u2066 ulos\x07") == "penenun ulos"


def test_numbers_and_dates_pasted_with_direction_marks_are_read():
    """A phone number copied from a contact card comes wrapped in U+202A … U+202C."""
    assert clean_mobile("\u202a+62 812-0000-1234\u202c") == "+6281200001234"
    assert parse_birth_date("15-08-1995\u200e", today=TODAY) == dt.date(1995, 8, 15)
    assert parse_gender("\u200bL") is Gender.L
