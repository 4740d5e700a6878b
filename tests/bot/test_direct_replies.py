"""A turn's replies are recorded with the turn, sent right after its commit and confirmed; what Telegram
refuses (a 429, a 5xx, a timeout) is handed to the outbox and arrives later, once, after the 429's pause
that replies and the outbox share; what can never arrive (the bot blocked) is recorded as failed.
Through the real PTB Application over the fake Bot API, with an outbox built as the Lifecycle builds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import col, select
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram import CHANNEL, Lifecycle
from handlers import texts
from handlers.context import Services
from models import store
from models.tables import ChatAccount, Delivery, OutboundMessage
from scheduler.outbox import Outbox
from tests.conftest import OPERATOR_PHONE, Chat, synthetic_nik
from tests.fakebotapi import Arrival, FakeBotApi

# PTB 22 warns about its own RetryAfter while building it from an integer retry_after, as Telegram sends.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
    # The channel's logic, not the database's: SQLite is enough.
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]
RINA = 1001


def lifecycle(app: Application) -> Lifecycle:  # type: ignore[type-arg]
    """The application's Lifecycle (its post_init), holding the channel's pacer, courier and holder."""
    owner = getattr(app.post_init, "__self__", None)
    assert isinstance(owner, Lifecycle)
    return owner


def shared_outbox(services: Services, app: Application) -> Outbox:  # type: ignore[type-arg]
    """The outbox as :meth:`Lifecycle.start` builds it: the direct replies' pacer, courier and holder."""
    life = lifecycle(app)
    return Outbox(
        services, CHANNEL, life.courier, limits=life.pacer.limits, holder=life.holder, pacer=life.pacer
    )


async def recorded(app: Application) -> None:  # type: ignore[type-arg]
    """The replies sent so far are recorded as sent (the channel confirms them in the background)."""
    await lifecycle(app).direct.receipts.drain()


@contextlib.asynccontextmanager
async def running(outbox: Outbox) -> AsyncIterator[None]:
    """``Outbox.run()`` for the duration, as the bot runs it; stopped (the lease given back) after."""
    task = asyncio.create_task(outbox.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def replies(services: Services, chat_id: int) -> list[OutboundMessage]:
    """The reply rows of a chat, oldest first."""
    async with services.sessions() as session:
        rows = await session.exec(
            select(OutboundMessage)
            .where(col(OutboundMessage.reply).is_(True), OutboundMessage.chat_id == str(chat_id))
            .order_by(col(OutboundMessage.id))
        )
        return list(rows)


def calls_to(api: FakeBotApi, chat_id: int, since: float = 0.0) -> list[Arrival]:
    return [a for a in api.arrivals if a.chat_id == chat_id and a.at >= since]


def first_429(api: FakeBotApi) -> float:
    return next(a.at for a in api.arrivals if a.status == 429)


def texts_to(api: FakeBotApi, chat_id: int) -> list[str]:
    return [m.text for m in api.messages_to(chat_id)]


async def at_intake_question(chat: Any) -> Chat:
    """Rina, onboarded, at the intake's birth-date question (✅ Benar is an intake button, ``i:``)."""
    rina: Chat = chat(RINA)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    await rina.say(synthetic_nik())
    await rina.say("budi santoso")
    return rina


async def test_a_reply_is_recorded_with_its_turn_and_confirmed_once_sent(services, app, fake_api):
    update = fake_api.text_update(7001, "/start")

    await app.process_update(Update.de_json(update, app.bot))
    await recorded(app)

    assert texts_to(fake_api, 7001) == [texts.WELCOME_UNKNOWN]
    [row] = await replies(services, 7001)
    assert (row.update_id, row.status, row.payload, row.holder) == (
        str(update["update_id"]),
        Delivery.SENT,
        None,
        None,
    )
    assert row.sent_at is not None
    # Sent directly: the outbox has nothing left to send for it.
    assert await shared_outbox(services, app).deliver_pending() == 0
    assert texts_to(fake_api, 7001) == [texts.WELCOME_UNKNOWN]


async def test_a_reply_answered_429_arrives_after_the_wait_once_with_one_warning(
    services, app, chat, fake_api, caplog
):
    """The 429 pauses every reply: one written during the pause makes no call, and both go out after it,
    through the outbox; one warning for the window."""
    first, second = chat(7101), chat(7102)
    fake_api.flood_next(1, retry_after=1, chat_id=first.user_id)
    outbox = shared_outbox(services, app)

    with caplog.at_level(logging.WARNING):
        assert await first.say("/start") == []
        assert await second.say("/start") == []  # within the window: handed over without a call
        flood = first_429(fake_api)
        assert [(r.status, r.error) for r in await replies(services, 7102)] == [(Delivery.PENDING, "429")]
        async with running(outbox):
            for person in (first, second):
                await fake_api.wait_for(person.user_id, 1, timeout=5.0)
            await asyncio.sleep(0.2)  # anything sent twice would arrive meanwhile

    for person in (first, second):
        assert texts_to(fake_api, person.user_id) == [texts.WELCOME_UNKNOWN]
        [late] = [a for a in calls_to(fake_api, person.user_id) if a.status == 200]
        assert late.at >= flood + 1.0
        [row] = await replies(services, person.user_id)
        assert (row.status, row.payload, row.holder) == (Delivery.SENT, None, None)
    # What was on its way when the 429 came back may arrive just after it; nothing later in the window.
    assert not [a for a in fake_api.arrivals if flood + 0.25 < a.at < flood + 1.0]
    assert [s for s in (a.status for a in fake_api.arrivals) if s != 200] == [429]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert "flood control" in warnings[0].getMessage()


async def test_a_429_answered_to_the_outbox_pauses_direct_replies_and_courtesy_calls(
    services, app, chat, fake_api
):
    rina = await at_intake_question(chat)
    question = rina.last_with_buttons()
    async with services.sessions() as session:
        camat = ChatAccount(channel=CHANNEL, external_id="2001", chat_id="2001", officer_id=None)
        await store.queue_message(session, account=camat, text="Usulan baru menunggu", buttons=[])
        await session.commit()
    fake_api.flood_next(1, retry_after=2, chat_id=2001)
    outbox = shared_outbox(services, app)
    assert await outbox.deliver_pending() == 0  # the notice got 429: retried after the pause
    flood = first_429(fake_api)
    answered = list(fake_api.answered)
    calls = len(fake_api.calls)

    assert await rina.press("Benar", question) == []

    # Neither the reply nor the courtesy calls (answer the press, retire the keyboard) went out.
    assert [method for method, _ in fake_api.calls[calls:]] == []
    [*_, row] = await replies(services, RINA)
    assert (row.status, row.progress) == (Delivery.PENDING, 0)
    async with running(outbox):
        await fake_api.wait_for(2001, 1, timeout=6.0)
        await fake_api.wait_for(RINA, rina.seen + 1, timeout=6.0)
        await asyncio.sleep(0.2)

    [reply] = fake_api.messages_to(RINA)[rina.seen :]
    assert len(reply.buttons) == 11  # the categories: the next question
    [late] = [a for a in calls_to(fake_api, RINA, since=flood) if a.status == 200]
    assert late.at >= flood + 2.0
    assert texts_to(fake_api, 2001) == ["Usulan baru menunggu"]
    # The courtesy calls are skipped, not put off: answering a press seconds late helps no one.
    assert fake_api.answered == answered
    assert "answerCallbackQuery" not in [method for method, _ in fake_api.calls[calls:]]
    [*_, row] = await replies(services, RINA)
    assert (row.status, row.payload) == (Delivery.SENT, None)


@pytest.mark.parametrize("fault", ["5xx", "timeout"])
async def test_a_reply_refused_by_a_5xx_or_a_timeout_is_handed_over_and_arrives_once(
    services, app, chat, fake_api, caplog, fault
):
    rina = chat(RINA)
    await rina.onboard(OPERATOR_PHONE)
    if fault == "5xx":
        fake_api.fail_next(1, chat_id=RINA)
    else:
        lifecycle(app).courier.timeout = 0.3  # the courier gives up on the unanswered call after this
        fake_api.time_out_next(1, chat_id=RINA)
    outbox = shared_outbox(services, app)

    with caplog.at_level(logging.WARNING):
        assert await rina.say("/bantuan") == []
        [*_, row] = await replies(services, RINA)
        assert (row.status, row.error) == (Delivery.PENDING, "network" if fault == "5xx" else "timeout")
        async with running(outbox):
            [*_, reply] = await fake_api.wait_for(RINA, rina.seen + 1, timeout=6.0)
            await asyncio.sleep(0.2)

    assert "/daftar" in reply.text
    assert len(fake_api.messages_to(RINA)) == rina.seen + 1
    [*_, row] = await replies(services, RINA)
    assert (row.status, row.payload, row.holder) == (Delivery.SENT, None, None)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_reply_to_a_person_who_blocked_the_bot_is_recorded_failed(
    services, app, chat, fake_api, caplog
):
    rina = chat(RINA)
    await rina.onboard(OPERATOR_PHONE)
    fake_api.block(RINA)
    await recorded(app)
    rows_before = [(r.id, r.status) for r in await replies(services, RINA)]

    with caplog.at_level(logging.WARNING):
        assert await rina.say("/bantuan") == []
        assert await shared_outbox(services, app).deliver_pending() == 0
    await recorded(app)

    *earlier, row = await replies(services, RINA)
    assert [(r.id, r.status) for r in earlier] == rows_before
    assert (row.status, row.error, row.payload, row.holder) == (Delivery.FAILED, "blocked", None, None)
    assert [a.status for a in fake_api.arrivals if a.status != 200] == [403]  # tried once, never again
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("undeliverable" in r.getMessage() for r in caplog.records)


async def test_a_reply_handed_over_after_its_first_part_goes_on_from_the_next(services, app, chat, fake_api):
    """Kirim's answer is four calls (the confirmation, deleting the typed NIK, masking two messages that
    show it); the third gets 429, and the outbox makes the last two, without the confirmation again."""
    rina = await at_intake_question(chat)
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say("Dusun II, RT 002/RW 001")
    await rina.press("Lewati")
    # Telegram's spacing per chat, scaled down: the reply's calls follow each other closer than that.
    fake_api.enforce_limits = True
    fake_api.chat_interval = 0.2
    await asyncio.sleep(0.25)
    pressed_at = fake_api.arrivals[-1].at + 0.001

    sent = await rina.press("Kirim")

    assert len(sent) == 1
    assert "Usulan U-00001 terkirim" in sent[0].text
    assert [(a.method, a.status) for a in calls_to(fake_api, RINA, pressed_at)] == [
        ("sendMessage", 200),
        ("editMessageText", 429),
    ]
    [*_, row] = await replies(services, RINA)
    assert (row.status, row.progress) == (Delivery.PENDING, 2)
    async with running(shared_outbox(services, app)):
        for _ in range(100):
            if (await replies(services, RINA))[-1].status == Delivery.SENT:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)

    assert [(a.method, a.status) for a in calls_to(fake_api, RINA, pressed_at)] == [
        ("sendMessage", 200),
        ("editMessageText", 429),
        ("editMessageText", 200),
        ("editMessageText", 200),
    ]
    assert [t for t in texts_to(fake_api, RINA) if "terkirim" in t] == [sent[0].text]
    assert len(fake_api.deleted) == 1  # the typed NIK, deleted once
    nik = synthetic_nik()
    assert not [t for t in texts_to(fake_api, RINA) if nik in t]  # both messages showing it masked
    [*_, row] = await replies(services, RINA)
    assert (row.status, row.payload, row.progress) == (Delivery.SENT, None, 4)


async def test_a_persons_second_update_waits_for_the_first_ones_replies(app, chat, fake_api, monkeypatch):
    """Updates reaching the application at once (a webhook does that; Telegram's polling is ordered by
    its processor before the channel) are answered in their order: the second turn waits until the
    first one's reply is out, here held back on a slow connection."""
    rina = chat(RINA)
    await rina.onboard(OPERATOR_PHONE)
    direct = lifecycle(app).direct
    deliver, slow = direct.deliver, asyncio.Event()

    async def first_one_slow(chat_id: str, answer: Any, pressed: str | None) -> Any:
        if not slow.is_set():
            slow.set()
            await asyncio.sleep(0.3)
        return await deliver(chat_id, answer, pressed)

    monkeypatch.setattr(direct, "deliver", first_one_slow)
    seen = rina.seen
    first = Update.de_json(fake_api.text_update(RINA, "/bantuan"), app.bot)
    second = Update.de_json(fake_api.text_update(RINA, "/daftar"), app.bot)

    await asyncio.gather(app.process_update(first), app.process_update(second))

    help_text, question = fake_api.messages_to(RINA)[seen:]
    assert "/daftar" in help_text.text
    assert "1/6" in question.text
