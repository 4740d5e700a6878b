"""The rules of /siaran: who may address which region, who receives, the text, pages, progress."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.rules.announcement import (
    MAX_TEXT,
    PAGE_SIZE,
    Audience,
    Candidate,
    TextProblem,
    clean_announcement,
    may_address,
    may_announce,
    page_of,
    progress_of,
    reach,
    recipients,
    region_of_value,
    region_value,
)
from models.rules.status import Role
from tests.conftest import synthetic_nik

KAB = "12.17"
SIMANINDO, PANGURURAN = "12.17.01", "12.17.08"
TOMOK, PANGURURAN_DESA = "12.17.01.2001", "12.17.08.2001"

ROSTER = [
    Candidate(1, Role.OPERATOR, TOMOK),
    Candidate(2, Role.OPERATOR, "12.17.01.2002"),
    Candidate(3, Role.OPERATOR, PANGURURAN_DESA),
    Candidate(4, Role.CAMAT, SIMANINDO),
    Candidate(5, Role.CAMAT, PANGURURAN),
    Candidate(6, Role.DINAS, KAB),
    Candidate(7, Role.OPERATOR, TOMOK, active=False),
    Candidate(8, Role.DINAS, KAB),
]


def test_only_the_dinas_and_a_camat_announce():
    assert may_announce(Role.DINAS)
    assert may_announce(Role.CAMAT)
    assert not may_announce(Role.OPERATOR)


@pytest.mark.parametrize(
    ("role", "own", "region", "allowed"),
    [
        (Role.DINAS, KAB, KAB, True),
        (Role.DINAS, KAB, SIMANINDO, True),
        (Role.DINAS, KAB, TOMOK, False),  # the dinas picks the kabupaten or a kecamatan
        (Role.DINAS, KAB, "12.18", False),  # another kabupaten
        (Role.DINAS, KAB, "12.18.01", False),
        (Role.DINAS, "12.18", SIMANINDO, False),  # a dinas row of another kabupaten covers nothing here
        (Role.CAMAT, SIMANINDO, SIMANINDO, True),
        (Role.CAMAT, SIMANINDO, TOMOK, True),
        (Role.CAMAT, SIMANINDO, PANGURURAN, False),
        (Role.CAMAT, SIMANINDO, PANGURURAN_DESA, False),
        (Role.CAMAT, SIMANINDO, KAB, False),
        (Role.CAMAT, "12.17.0", "12.17.01", False),  # "12.17.01" is not inside "12.17.0"
        (Role.OPERATOR, TOMOK, TOMOK, False),
    ],
)
def test_who_may_address_which_region(role: Role, own: str, region: str, allowed: bool):
    assert may_address(role, own, region, kabupaten_code=KAB) is allowed


def test_operators_of_a_kecamatan_are_its_desas_active_operators():
    chosen = recipients(ROSTER, audience=Audience.OPERATOR, region_code=SIMANINDO, sender_id=6)

    assert chosen == [1, 2]  # not Pangururan's, not the inactive one


def test_all_of_the_kabupaten_is_every_active_officer_but_the_sender():
    chosen = recipients(ROSTER, audience=Audience.ALL, region_code=KAB, sender_id=6)

    assert chosen == [1, 2, 3, 4, 5, 8]


def test_a_camat_announcing_to_all_of_the_kecamatan_reaches_its_operators_not_themselves():
    assert recipients(ROSTER, audience=Audience.ALL, region_code=SIMANINDO, sender_id=4) == [1, 2]
    assert recipients(ROSTER, audience=Audience.CAMAT, region_code=KAB, sender_id=6) == [4, 5]
    assert recipients(ROSTER, audience=Audience.CAMAT, region_code=TOMOK, sender_id=6) == []


def test_the_preview_counts_each_channel_an_officer_is_bound_on():
    counted = reach([1, 2, 3, 4], {1: ["whatsapp", "telegram"], 2: ["whatsapp"]}, reach_unbound="whatsapp")

    assert counted.officers == 4
    assert counted.channels == {"telegram": 1, "whatsapp": 4}  # 3 and 4 by their roster phone
    assert counted.unbound == 2
    assert counted.reached == 4


def test_without_a_channel_for_the_unbound_they_are_not_reached():
    counted = reach([1, 2, 3], {1: ["telegram"]}, reach_unbound=None)

    assert counted.channels == {"telegram": 1}
    assert (counted.unbound, counted.reached) == (2, 1)


def test_the_text_is_trimmed_with_a_nik_masked_and_emoji_kept():
    nik = synthetic_nik()
    text, problem = clean_announcement(f"  📢 Rapat Senin 09:00.\nNIK contoh {nik}\u200b  ")

    assert problem is None
    assert text == "📢 Rapat Senin 09:00.\nNIK contoh 1217••••••••0001"
    assert nik not in text


def test_an_empty_or_too_long_text_is_refused():
    assert clean_announcement(" \n\u200b ")[1] is TextProblem.EMPTY
    assert clean_announcement("a" * (MAX_TEXT + 1))[1] is TextProblem.TOO_LONG
    assert clean_announcement("a" * MAX_TEXT) == ("a" * MAX_TEXT, None)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=1200))
def test_a_cleaned_text_never_holds_a_nik(text: str):
    nik = synthetic_nik()
    cleaned, problem = clean_announcement(text + " " + nik + " " + text)

    assert nik not in cleaned
    assert problem is not None or 0 < len(cleaned) <= MAX_TEXT


def test_pages_hold_at_most_page_size_and_stay_in_range():
    assert page_of(10, 1) == page_of(10, 0)
    first, last = page_of(10, 1), page_of(10, 99)
    assert (first.start, first.end, first.pages, first.has_next, first.has_previous) == (
        0,
        PAGE_SIZE,
        2,
        True,
        False,
    )
    assert (last.number, last.start, last.end, last.has_next, last.has_previous) == (2, 8, 10, False, True)
    assert page_of(0, 1).pages == 1


@given(st.integers(0, 200), st.integers(-5, 40))
def test_every_page_fits_a_whatsapp_list_with_its_arrows(count: int, number: int):
    page = page_of(count, number)

    assert page.end - page.start + page.has_next + page.has_previous <= 10
    assert 1 <= page.number <= page.pages


def test_progress_counts_pending_and_waiting_as_not_yet():
    progress = progress_of({"sent": 3, "pending": 1, "waiting": 2, "failed": 1})
    assert (progress.sent, progress.not_yet, progress.failed) == (3, 3, 1)
    waiting_only = progress_of({"sent": 3, "waiting": 2})
    assert waiting_only.not_yet == 2


@pytest.mark.parametrize("code", [KAB, SIMANINDO, TOMOK])
def test_a_region_goes_through_a_button_word_and_back(code: str):
    assert region_of_value(region_value(code)) == code


@pytest.mark.parametrize("value", ["", "12", "12_17_01_2001_1", "12_x7", "12__17", "pg2", "12_١٧"])
def test_a_forged_region_word_is_no_region(value: str):
    assert region_of_value(value) is None
