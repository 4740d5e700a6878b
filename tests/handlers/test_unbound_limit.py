"""Accounts no officer is bound to: each kind of answer at most once per interval, so strangers cannot use
up the send budget the officers' answers need; the way in (/start, their own contact) still works at once
(issue 11)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlmodel import select
from telegram.ext import Application

import handlers.engine
from bot.channels.telegram import build_application
from handlers import onboarding, texts
from handlers.context import CourtesyLimit, Services, Turn
from handlers.engine import Engine
from models.tables import ChatAccount
from tests.conftest import NOW, OPERATOR_PHONE, Chat
from tests.fakebotapi import TOKEN, FakeBotApi
from tests.offline import OfflineRequest

INTERVAL = dt.timedelta(minutes=5)


@dataclasses.dataclass
class Clock:
    now: dt.datetime = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def people(
    services: Services, fake_api: FakeBotApi, clock: Clock
) -> AsyncIterator[Callable[[int], Chat]]:
    """Simulated Telegram users of the real Application, on services whose clock the test moves."""
    moved = dataclasses.replace(services, clock=clock, unbound_reply_interval=INTERVAL)
    application: Application = build_application(  # type: ignore[type-arg]
        Engine(moved), token=TOKEN, base_url="http://offline/bot", request=OfflineRequest(fake_api),
        get_updates_request=OfflineRequest(fake_api),
    )  # fmt: skip
    await application.initialize()
    yield lambda user_id: Chat(application, fake_api, user_id)
    await application.shutdown()


async def test_a_stranger_writing_in_a_loop_gets_one_answer_per_interval(people, fake_api, clock):
    stranger = people(5001)

    first = await stranger.say("halo")
    again = [await stranger.say(text) for text in ("halo?", "/daftar", "/status U-00001", "3201")]
    await stranger.sticker()

    assert [m.text for m in first] == [texts.UNBOUND_ONLY_CONTACT]
    assert again == [[], [], [], []]
    assert len(fake_api.messages_to(5001)) == 1
    clock.now += INTERVAL - dt.timedelta(seconds=1)
    assert await stranger.say("halo") == []
    clock.now += dt.timedelta(seconds=1)
    assert [m.text for m in await stranger.say("halo")] == [texts.UNBOUND_ONLY_CONTACT]


async def test_the_welcome_and_a_refused_contact_are_each_answered_once_too(people, clock):
    stranger = people(5002)

    assert [m.text for m in await stranger.say("halo")] == [texts.UNBOUND_ONLY_CONTACT]
    assert [m.text for m in await stranger.say("/start")] == [texts.WELCOME_UNKNOWN]
    assert await stranger.say("/start") == []
    someone_else = await stranger.share_contact(OPERATOR_PHONE, contact_user_id=1001)
    assert [m.text for m in someone_else] == [texts.CONTACT_NOT_OWN]
    assert await stranger.share_contact(OPERATOR_PHONE, contact_user_id=1001) == []
    clock.now += INTERVAL
    assert [m.text for m in await stranger.say("/start")] == [texts.WELCOME_UNKNOWN]


async def test_their_own_contact_is_always_answered(people, services):
    """The way in is never silent: a number not on the roster is explained every time it is shared, and
    an officer who wrote first and then shares their number is bound at once."""
    stranger = people(5003)
    for _ in range(3):
        replies = await stranger.share_contact("+62 813 9999 0000")
        assert "belum terdaftar" in replies[-1].text

    rina = people(1001)
    await rina.say("halo")
    await rina.say("/start")
    await rina.say("apa ini?")  # not answered: the request to share was just given
    bound = await rina.share_contact(OPERATOR_PHONE)

    assert "Rina Sitohang" in bound[-1].text
    assert "/daftar" in (await rina.say("/bantuan"))[-1].text
    async with services.sessions() as session:
        account = (await session.exec(select(ChatAccount).where(ChatAccount.external_id == "1001"))).one()
    assert account.officer_id is not None


async def test_fifty_strangers_writing_ten_times_cost_fifty_messages(people, fake_api):
    for user_id in range(6000, 6050):
        stranger = people(user_id)
        for i in range(10):
            await stranger.say(f"pesan {i}")

    assert len(fake_api.sent) == 50


async def test_an_answer_is_counted_only_once_its_turn_committed(people, monkeypatch):
    """A turn rolled back for a busy SQLite and done again still answers: the first attempt's answer was
    never sent."""
    original = onboarding.handle_unbound
    failures = [sqlite3.OperationalError("database is locked")]

    async def busy_once(turn: Turn) -> None:
        await original(turn)
        if failures:
            raise failures.pop()

    monkeypatch.setattr(handlers.engine.onboarding, "handle_unbound", busy_once)
    monkeypatch.setattr(handlers.engine, "BUSY_PAUSES", (0.01,))

    replies = await people(5004).say("/start")

    assert not failures
    assert [m.text for m in replies] == [texts.WELCOME_UNKNOWN]


def test_the_limit_is_bounded_and_forgets_what_expired():
    limit = CourtesyLimit(capacity=3)
    for key in "abcd":
        assert limit.allows(key, NOW, INTERVAL)
        limit.count(key, NOW, INTERVAL)
    assert limit.allows("a", NOW, INTERVAL)  # the oldest beyond capacity: forgotten
    assert not limit.allows("d", NOW, INTERVAL)
    later = NOW + INTERVAL
    limit.count("e", later, INTERVAL)
    assert limit._answered.keys() == {"e"}  # the rest expired
    assert limit.allows("x", NOW, dt.timedelta(0))


def test_which_messages_are_limited():
    def inbound(**fields: Any) -> Any:
        base = {"channel": "t", "user_id": "1", "chat_id": "1"}
        return handlers.engine.Inbound(**(base | fields))

    kind = handlers.engine.Kind
    assert onboarding.limited_answer(inbound(kind=kind.CONTACT, contact_user_id="1")) is None
    assert onboarding.limited_answer(inbound(kind=kind.CONTACT, contact_user_id="2")) == "not_own"
    assert onboarding.limited_answer(inbound(kind=kind.CONTACT)) == "not_own"
    assert onboarding.limited_answer(inbound(kind=kind.COMMAND, command="start")) == "welcome"
    assert onboarding.limited_answer(inbound(kind=kind.COMMAND, command="daftar")) == "only_contact"
    assert onboarding.limited_answer(inbound(kind=kind.OTHER)) == "only_contact"
