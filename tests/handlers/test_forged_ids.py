"""Forged ids in button data and typed numbers: answered as a stale button (or "not found"), never as an
internal failure, through the real PTB Application on SQLite and PostgreSQL (issue 11).

Ids are ASCII digits only and at most what PostgreSQL's ``integer`` holds: ``int("1²")`` raises, and
``p:2147483648`` passed SQLite but overflowed PostgreSQL's integer parameter.
"""

from __future__ import annotations

import pytest
from telegram.ext import Application

from handlers import texts
from handlers.context import Services
from models.rules.ids import MAX_ID, parse_id
from models.rules.status import Status
from models.tables import Proposal
from tests.conftest import SIMANINDO, TOMOK
from tests.fakebotapi import FakeBotApi
from tests.handlers.test_authorization import (
    JONSON,
    MARIA,
    RINA,
    Driver,
    bind_everyone,
    make_proposal,
    snapshot_db,
)

# (who presses, the data). Proposal 1 waits for the camat; proposal 2 is a draft of Rina's.
FORGED_IDS = [
    (RINA, "p:²"),
    (RINA, "p:١"),  # an Arabic-Indic one: int() reads it, but no button of ours carries it
    (RINA, "p:99999999999999999999"),
    (RINA, "p:2147483648"),  # one above PostgreSQL's integer
    (RINA, "p:-1"),
    (RINA, "p: 1"),
    (JONSON, "q:1²"),
    (JONSON, "q:99999999999999999999"),
    (JONSON, "d:1²:ok"),
    (JONSON, "d:١:ok"),
    (JONSON, "d:2147483648:ok"),
    (JONSON, "d:1.99999999999999999999:ok"),
    (JONSON, "o:99999999999999999999"),
    (MARIA, "d:2147483648:nik"),
]


@pytest.fixture
def bot(app: Application, fake_api: FakeBotApi) -> Driver:  # type: ignore[type-arg]
    return Driver(app, fake_api)


@pytest.mark.parametrize(("user_id", "data"), [pytest.param(u, d, id=f"{u}-{d}") for u, d in FORGED_IDS])
async def test_forged_ids_answer_as_a_stale_button(services: Services, bot: Driver, user_id: int, data: str):
    """Every forgery gets the stale-button answer and changes nothing."""
    officers = await bind_everyone(services)
    waiting = await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    async with services.sessions() as session:
        session.add(Proposal(desa_code=TOMOK, kecamatan_code=SIMANINDO, officer_id=officers[RINA]))
        await session.commit()
    await bot.card(user_id, waiting.number)
    before = await snapshot_db(services)

    reply = await bot.press(user_id, data)

    assert reply == [texts.STALE_BUTTON]
    assert await snapshot_db(services) == before


@pytest.mark.parametrize("typed", ["U-2147483648", "U-99999999999999999999", "U-00001²", "U-١"])
async def test_typed_numbers_out_of_range_are_not_found(services: Services, bot: Driver, typed: str):
    """/status with a number no proposal can have: "not found", never the failure message."""
    officers = await bind_everyone(services)
    await make_proposal(services, officers, Status.MENUNGGU_CAMAT)

    reply = await bot.say(JONSON, f"/status {typed}")

    assert reply == [texts.STATUS_NOT_FOUND]


def test_parse_id_takes_ascii_digits_within_postgresql_integer():
    assert parse_id("42") == 42
    assert parse_id("0042") == 42
    assert parse_id(str(MAX_ID)) == MAX_ID == 2**31 - 1
    for bad in ("", "²", "1²", "١", "-1", "+1", " 1", "1 ", "1_000", "2147483648", "9" * 30, "0x1f"):
        assert parse_id(bad) is None, bad
    assert parse_id("7", maximum=5) is None
