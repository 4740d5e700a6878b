"""The answer sent straight after the commit to whoever wrote or pressed, under Telegram's flood control:
a 429 waits its retry_after and is tried once more; a flood is one warning per window, not an error per
message (issue 11). Through the real PTB Application over the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from handlers import texts
from models.rules.status import Status
from tests.conftest import OPERATOR_PHONE
from tests.handlers.test_authorization import JONSON, Driver, bind_everyone, make_proposal

# PTB 22 warns about its own RetryAfter while building it from an integer retry_after, as Telegram sends.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
    # The channel's logic, not the database's: SQLite is enough.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
LOGGER = "bot.channels.telegram"


def statuses(fake_api, chat_id: int) -> list[int]:
    return [a.status for a in fake_api.arrivals if a.chat_id == chat_id]


async def test_a_reply_answered_429_once_is_delivered_once_after_the_wait(chat, fake_api, caplog):
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    fake_api.flood_next(1, retry_after=1, chat_id=1001)
    start = time.monotonic()

    with caplog.at_level(logging.WARNING):
        replies = await rina.say("/bantuan")

    assert time.monotonic() - start >= 1.0
    assert len(replies) == 1
    assert "/daftar" in replies[0].text
    assert statuses(fake_api, 1001)[-2:] == [429, 200]
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "flood control" in caplog.records[0].getMessage()


async def test_floods_in_one_window_log_one_warning_and_no_error(chat, fake_api, caplog):
    people = [chat(user_id) for user_id in range(7001, 7011)]
    for person in people:
        fake_api.flood_next(1, retry_after=1, chat_id=person.user_id)

    with caplog.at_level(logging.WARNING):
        answers = await asyncio.gather(*(person.say("/start") for person in people))

    assert [[m.text for m in a] for a in answers] == [[texts.WELCOME_UNKNOWN]] * len(people)
    assert [(r.name, r.levelname) for r in caplog.records] == [(LOGGER, "WARNING")]


async def test_a_reply_still_refused_after_the_wait_is_dropped_with_one_warning(chat, fake_api, caplog):
    people = [chat(user_id) for user_id in range(7101, 7106)]
    for person in people:
        fake_api.flood_next(2, retry_after=1, chat_id=person.user_id)

    with caplog.at_level(logging.WARNING):
        answers = await asyncio.gather(*(person.say("/start") for person in people))

    assert answers == [[]] * len(people)
    assert all(statuses(fake_api, p.user_id) == [429, 429] for p in people)
    messages = [r.getMessage() for r in caplog.records]
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert "dropped" in messages[1]
    # The next flood is a new window: logged again.
    await asyncio.sleep(1.0)
    fake_api.flood_next(1, retry_after=1, chat_id=7200)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert [m.text for m in await chat(7200).say("/start")] == [texts.WELCOME_UNKNOWN]
    assert len(caplog.records) == 1


async def test_a_wait_longer_than_the_bound_is_not_waited(chat, fake_api, caplog):
    fake_api.flood_next(1, retry_after=3600, chat_id=7300)
    start = time.monotonic()

    with caplog.at_level(logging.WARNING):
        assert await chat(7300).say("/start") == []

    assert time.monotonic() - start < 1.0
    assert statuses(fake_api, 7300) == [429]
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]


async def test_a_card_edited_in_place_is_retried_too(services, app, fake_api):
    """The pressed card's edit waits and is tried again, not replaced by a new message that would get 429
    as well."""
    bot = Driver(app, fake_api)
    officers = await bind_everyone(services)
    proposal = await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    await bot.card(JONSON, proposal.number)
    fake_api.flood_next(1, retry_after=1, chat_id=JONSON)

    shown = await bot.press(JONSON, f"d:{proposal.id}:no")

    assert len(shown) == 1
    assert texts.REJECT_REASONS["rentan"].capitalize() in str(fake_api.edits[-1]["reply_markup"])
    calls = [(a.method, a.status) for a in fake_api.arrivals if a.chat_id == JONSON]
    assert calls[-2:] == [("editMessageText", 429), ("editMessageText", 200)]
