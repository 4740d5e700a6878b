"""Checks of the free-text answers of the intake: name, address, dates, phone numbers.

Each returns the cleaned value or raises :class:`FieldError` with a code the handlers turn into words.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from lokal import parse_phone

from models.rules.nik import Gender
from models.rules.privacy import clean_text, has_nik_like

NAME_MIN, NAME_MAX = 2, 100
ADDRESS_MIN, ADDRESS_MAX = 3, 200
DESCRIPTION_MIN, DESCRIPTION_MAX = 3, 80


class FieldError(ValueError):
    """An answer that cannot be accepted; ``code`` names the reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_SPACES = re.compile(r"\s+")
# Letters of any script, plus the punctuation that appears in names on a KTP.
_NAME_PUNCT = set(" '.-’`")
# Addresses: letters, digits and the punctuation of "Dusun II, RT 002/RW 001, Jl. Sisingamangaraja No. 5".
_ADDRESS_PUNCT = set(" ,./-()'’:#&")


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFC", clean_text(text))).strip()


def _refuse_nik(text: str, code: str) -> None:
    """A NIK in a free-text field would reach every card and export unmasked: it belongs in the NIK step."""
    if has_nik_like(text):
        raise FieldError(code)


def clean_name(text: str) -> str:
    """A full name as on the KTP, upper case like the KTP, single-spaced."""
    name = _collapse(text)
    _refuse_nik(name, "name_nik")
    if len(name) > NAME_MAX:
        raise FieldError("name_too_long")
    if any(not (ch.isalpha() or ch in _NAME_PUNCT) for ch in name):
        raise FieldError("name_characters")
    if sum(ch.isalpha() for ch in name) < NAME_MIN:
        raise FieldError("name_too_short")
    upper = name.replace("’", "'").replace("`", "'").upper()
    if len(upper) > NAME_MAX:  # upper() can lengthen a name ("ß" -> "SS")
        raise FieldError("name_too_long")
    return upper


def clean_address(text: str) -> str:
    """An address within the desa (dusun/lingkungan, RT/RW), single-spaced."""
    address = _collapse(text)
    _refuse_nik(address, "address_nik")
    if len(address) > ADDRESS_MAX:
        raise FieldError("address_too_long")
    if any(not (ch.isalnum() or ch in _ADDRESS_PUNCT) for ch in address):
        raise FieldError("address_characters")
    if sum(ch.isalnum() for ch in address) < ADDRESS_MIN:
        raise FieldError("address_too_short")
    return address


def clean_description(text: str) -> str:
    """The work of a worker in category "lainnya", e.g. "penenun ulos"."""
    description = _collapse(text).lower()  # lower() can lengthen a text ("İ"), so measure after it
    _refuse_nik(description, "description_nik")
    if len(description) > DESCRIPTION_MAX:
        raise FieldError("description_too_long")
    if any(not (ch.isalnum() or ch in _ADDRESS_PUNCT) for ch in description):
        raise FieldError("description_characters")
    if sum(ch.isalpha() for ch in description) < DESCRIPTION_MIN:
        raise FieldError("description_too_short")
    return description


def clean_mobile(text: str) -> str:
    """An Indonesian mobile number in any common form, returned as E.164 (+628...)."""
    text = clean_text(text)  # a number copied from a contact card comes wrapped in direction marks
    if len(text) > 40:
        raise FieldError("phone_invalid")
    info = parse_phone(text.strip())
    if not info.valid or not info.e164:
        raise FieldError("phone_invalid")
    if info.type != "mobile":
        raise FieldError("phone_not_mobile")
    return info.e164


_MONTHS = {
    "jan": 1, "januari": 1, "feb": 2, "februari": 2, "peb": 2, "pebruari": 2, "mar": 3, "maret": 3,
    "apr": 4, "april": 4, "mei": 5, "jun": 6, "juni": 6, "jul": 7, "juli": 7, "agu": 8, "agt": 8,
    "agustus": 8, "agus": 8, "sep": 9, "sept": 9, "september": 9, "okt": 10, "oktober": 10,
    "nov": 11, "nop": 11, "november": 11, "nopember": 11, "des": 12, "desember": 12,
}  # fmt: skip
_DATE_PARTS = re.compile(r"[\s./-]+")


def parse_birth_date(text: str, *, today: dt.date) -> dt.date:
    """A birth date written day first: 15-08-1995, 15/8/1995, 15 Agustus 1995."""
    text = clean_text(text)
    parts = [p for p in _DATE_PARTS.split(text.strip().lower()) if p]
    if len(parts) != 3 or len(text) > 40:
        raise FieldError("date_format")
    day_s, month_s, year_s = parts

    # isascii: "²".isdigit() is true, but int("²") fails; only plain digits are dates.
    def digits(part: str, most: int) -> bool:
        return part.isascii() and part.isdigit() and len(part) <= most

    month = int(month_s) if digits(month_s, 2) else _MONTHS.get(month_s)
    if not (digits(day_s, 2) and digits(year_s, 4) and month) or len(year_s) != 4:
        raise FieldError("date_format")
    try:
        date = dt.date(int(year_s), month, int(day_s))
    except ValueError:
        raise FieldError("date_impossible") from None
    if date > today or date.year < today.year - 120:
        raise FieldError("date_impossible")
    return date


def parse_gender(text: str) -> Gender:
    """L/P, or the words people type for them."""
    word = clean_text(text).strip().lower()
    if word in {"l", "laki-laki", "laki laki", "lakilaki", "pria", "lk"}:
        return Gender.L
    if word in {"p", "perempuan", "wanita", "pr"}:
        return Gender.P
    raise FieldError("gender_invalid")
