"""Free-text cleaning and NIK masking: whatever separates a NIK's digits, it never survives; ordinary
numbers do. Every NIK here is synthetic."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.rules.nik import mask_nik
from models.rules.privacy import clean_text, has_nik_like, mask_nik_like
from tests.conftest import synthetic_nik

NIK = synthetic_nik(serial=4242)  # 1217011508904242
IN_NUMBERS = [" ", "/", ",", "_", ".", "-", "–", "—", "·", "'", ":"]  # also between ordinary numbers' digits
SEPARATORS = [*IN_NUMBERS, "\n", "\t", " - ", " / ", ", ", " · ", "..."]
FORMAT_CHARS = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066", "\u200e"]
WORDS = ["Dobel", "dengan", "NIK", "di", "desa", "lain", "sudah", "terdaftar", "umur", "anak", "tahun", "Rp"]


def digits(text: str) -> str:
    return "".join(re.findall(r"[0-9]", text))


def survives(nik: str, text: str) -> bool:
    """Whether 12 consecutive digits of ``nik`` can be read in ``text`` (ignoring what is between them)."""
    shown = digits(text)
    return any(nik[i : i + 12] in shown for i in range(len(nik) - 11))


@st.composite
def written_niks(draw: st.DrawFn) -> tuple[str, str]:
    """(the digits, how someone typed them): a synthetic NIK, perhaps with a 17th digit, cut anywhere,
    the cuts joined by any of the separators, format characters slipped in anywhere, inside a sentence."""
    nik = synthetic_nik(
        district=draw(st.sampled_from(["121701", "121708", "320101", "127101"])),
        day=draw(st.integers(1, 28)),
        month=draw(st.integers(1, 12)),
        year=draw(st.integers(1950, 2010)),
        female=draw(st.booleans()),
        serial=draw(st.integers(1, 9999)),
    )
    if draw(st.booleans()):
        at = draw(st.integers(0, 16))
        nik = nik[:at] + draw(st.sampled_from("0123456789")) + nik[at:]
    cuts = sorted(draw(st.sets(st.integers(1, len(nik) - 1), max_size=len(nik) - 1)))
    pieces = [nik[a:b] for a, b in zip([0, *cuts], [*cuts, len(nik)], strict=True)]
    written = pieces[0]
    for piece in pieces[1:]:
        written += draw(st.sampled_from(SEPARATORS)) + piece
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(written)))
        written = written[:at] + draw(st.sampled_from(FORMAT_CHARS)) + written[at:]
    before = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=4)))
    after = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=4)))
    return nik, f"{before} {written} {after}"


@given(written_niks())
@settings(max_examples=400, deadline=None)
def test_a_nik_written_any_way_never_survives_masking(case: tuple[str, str]):
    nik, text = case
    masked = mask_nik_like(text)
    assert not survives(nik, masked), (text, masked)
    assert has_nik_like(text)
    assert not has_nik_like(masked)
    assert mask_nik_like(masked) == masked  # masking twice (stored, then shown) changes nothing more


@st.composite
def ordinary_texts(draw: st.DrawFn) -> str:
    """Words and numbers as people write them (ages, counts, dates, amounts), never 12 digits in a row
    nor 16 in one number."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        parts.append(draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyzAIU", min_size=1, max_size=8)))
        groups = draw(st.lists(st.integers(0, 9999), min_size=0, max_size=3))
        if groups:
            joiners = [draw(st.sampled_from(IN_NUMBERS)) for _ in groups[1:]]
            number = str(groups[0]) + "".join(j + str(g) for j, g in zip(joiners, groups[1:], strict=True))
            parts.append(number)
    return " ".join(parts)


@given(ordinary_texts())
@settings(max_examples=300, deadline=None)
def test_ordinary_text_with_numbers_is_left_alone(text: str):
    assert mask_nik_like(text) == text
    assert not has_nik_like(text)


@pytest.mark.parametrize(
    "text",
    [
        "2 anak, umur 45 tahun",
        "lahir 15-08-1990",
        "penghasilan Rp1.500.000 sebulan",
        "dikembalikan 24-11-2026 10:00",
        "Dusun II, RT 002/RW 001, Jl. Sisingamangaraja No. 5",
        "1217••••••••0001",
        "sudah punya BPJS sejak 2019",
    ],
)
def test_texts_people_write_keep_their_numbers(text: str):
    assert mask_nik_like(text) == text


@pytest.mark.parametrize(
    "written",
    [
        "1217/0115/0890/4242",
        "1217 - 0115 - 0890 - 4242",
        "1217,0115,0890,4242",
        "1217_0115_0890_4242",
        "1217·0115·0890·4242",
        "1217–0115–0890–4242",
        "1217 0115 0890 4242",
        "121701.150890.4242",
        "12170115\u200b08904242",
        "1217\u202e0115\u202c08904242",
        "１２１７０１１５０８９０４２４２",  # fullwidth digits
    ],
)
def test_the_ways_the_issue_names_are_masked_like_cards_mask_a_nik(written: str):
    masked = mask_nik_like(f"Dobel dengan {written} di desa lain")
    assert masked == f"Dobel dengan {mask_nik(NIK)} di desa lain"


def test_seventeen_digits_and_long_plain_runs_are_masked():
    assert mask_nik_like(NIK + "7") == "1217••••••••2427"
    assert mask_nik_like("rekening 123456789012") == "rekening ••••••••••••••••"
    assert mask_nik_like("NIK 1217 0115 0890") == "NIK 1217 0115 0890"  # 12 digits in groups: not a NIK


def test_cleaning_drops_control_and_format_characters_but_keeps_newlines():
    assert clean_text("ditolak\x00 karena\u202e data\u200b salah") == "ditolak karena data salah"
    assert clean_text("baris satu\nbaris dua") == "baris satu\nbaris dua"
    assert clean_text("kolom\tdua\r\n") == "kolom dua \n"
    assert clean_text("\ufeffawal\u2066x\u2069\ud800") == "awalx"
    assert clean_text("Budi Santoso 🙂") == "Budi Santoso 🙂"
    assert mask_nik_like("a\x00b\u202ec") == "abc"
