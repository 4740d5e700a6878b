"""Replies recorded with their turn, seen from the outbox: a process that dies between the commit and the
send leaves its replies to the next outbox holder (at once on this host, after its heartbeat on another),
a later reply of the same chat supersedes an unsent one, and what Telegram's limits need (a chat's
spacing, a 429's pause) carries over a restart. The reply's payload is encrypted at rest, cleared once
sent. On SQLite and PostgreSQL, with the real engine, outbox and courier over the offline fake Bot API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import subprocess
import sys
import time

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram.ext import Application

from bot.channels.telegram import CHANNEL, Lifecycle, TelegramCourier
from handlers import engine as engine_module
from handlers import texts
from handlers.context import SentReplies, Services
from handlers.engine import Engine
from handlers.intake import NIK_MESSAGES, NIK_REPLIES
from handlers.messages import Inbound, load_replies
from models import store
from models.tables import ChatAccount, Delivery, OutboundMessage
from scheduler.liveness import known_dead, process_name
from scheduler.outbox import ALIVE, FLOOD, LEASE, Limits, Outbox, Pacer
from scheduler.replies import DirectReplies
from tests.conftest import FAST, OPERATOR_PHONE, synthetic_nik
from tests.fakebotapi import FakeBotApi

# PTB 22 warns about its own RetryAfter while building it from an integer retry_after, as Telegram sends.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")

RINA = 1001
STRANGER = 3001
OTHER_HOST = "0ther0ff.4242.beef"  # a process of another host: only its heartbeat tells it is alive
# Telegram's spacing per chat (the fake's is 1.0 s) and its overall rate, as the bot runs.
SPACED = Limits(per_second=30, chat_interval=1.1, backoff_first=0.01, idle_poll=0.05, lease_ttl=5.0)


@dataclasses.dataclass
class Clock:
    """The outbox's clock, moved on by the test: leases expire without waiting for them."""

    now: dt.datetime = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.now


def dead_holder() -> str:
    """The name a process of this host had: one that has run and exited (its pid is free)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = process_name().partition(".")[0]
    name = f"{host}.{child.pid}.0dea"
    assert known_dead(name)
    return name


def inbound(chat_id: int, text: str, update_id: int) -> Inbound:
    return Inbound.from_text(
        channel=CHANNEL, user_id=str(chat_id), chat_id=str(chat_id), text=text, update_id=str(update_id)
    )


async def recorded(app: Application) -> None:  # type: ignore[type-arg]
    """The replies the app sent directly are recorded as sent (confirmed in the background)."""
    owner = getattr(app.post_init, "__self__", None)
    assert isinstance(owner, Lifecycle)
    await owner.direct.receipts.drain()


def courier(app: Application) -> TelegramCourier:  # type: ignore[type-arg]
    return TelegramCourier(app.bot)


def new_outbox(
    services: Services,
    app: Application,  # type: ignore[type-arg]
    *,
    holder: str | None = None,
    limits: Limits = FAST,
    clock: Clock | None = None,
) -> Outbox:
    """An outbox of a newly started process: its own name and a fresh pacer, unless given."""
    return Outbox(
        services,
        CHANNEL,
        courier(app),
        limits=limits,
        holder=holder or process_name(),
        **({"clock": clock} if clock is not None else {}),
    )


async def queue(services: Services, chat_id: int, body: str) -> None:
    """A message a change queued for the chat (a notice), as handlers do."""
    account = ChatAccount(channel=CHANNEL, external_id=str(chat_id), chat_id=str(chat_id), officer_id=None)
    async with services.sessions() as session:
        await store.queue_message(session, account=account, text=body, buttons=[])
        await session.commit()


async def rows(services: Services, chat_id: int) -> list[OutboundMessage]:
    """The chat's outbox rows (replies and queued messages), oldest first."""
    async with services.sessions() as session:
        found = await session.exec(
            select(OutboundMessage)
            .where(OutboundMessage.chat_id == str(chat_id))
            .order_by(col(OutboundMessage.id))
        )
        return list(found)


async def hold_lease(services: Services, name: str, holder: str, *, ttl: float) -> None:
    async with services.sessions() as session:
        now = dt.datetime.now(dt.UTC)
        assert await store.take_lease(
            session, name=name, holder=holder, now=now, ttl=dt.timedelta(seconds=ttl)
        )
        await session.commit()


async def lease_holder(services: Services, name: str) -> str | None:
    async with services.sessions() as session:
        lease = await store.lease_of(session, name=name)
        return None if lease is None else lease.holder


async def officer_of(session: AsyncSession, chat_id: int) -> int:
    """The officer bound to a Telegram chat."""
    account = (await session.exec(select(ChatAccount).where(ChatAccount.external_id == str(chat_id)))).one()
    assert account.officer_id is not None
    return account.officer_id


def texts_to(api: FakeBotApi, chat_id: int) -> list[str]:
    return [m.text for m in api.messages_to(chat_id)]


def accepted(api: FakeBotApi, chat_id: int) -> list[float]:
    """When the calls to a chat that Telegram accepted arrived."""
    return [a.at for a in api.arrivals if a.chat_id == chat_id and a.status == 200]


async def onboarded(chat) -> int:
    """Rina onboarded through the app (her replies sent directly); how many messages she has seen."""
    rina = chat(RINA)
    await rina.onboard(OPERATOR_PHONE)
    return rina.seen


# ------------------------------------------------------------------------------------------- take-over


async def test_a_reply_left_by_a_process_dead_on_this_host_is_sent_first_and_once(services, app, fake_api):
    """The process died between the commit and the send: the next outbox takes the reply over at once
    (the pid is gone) and sends it before the message queued after it."""
    answer = await Engine(services).answer(inbound(STRANGER, "/start", 1), holder=dead_holder())
    assert answer.reply_id is not None
    await queue(services, STRANGER, "Pengumuman dinas")
    outbox = new_outbox(services, app)

    await outbox.prepare()
    assert await outbox.deliver_pending() == 2

    assert texts_to(fake_api, STRANGER) == [texts.WELCOME_UNKNOWN, "Pengumuman dinas"]
    reply, notice = await rows(services, STRANGER)
    assert (reply.id, reply.status, reply.payload, reply.holder) == (
        answer.reply_id,
        Delivery.SENT,
        None,
        None,
    )
    assert notice.status == Delivery.SENT
    arrived = len(fake_api.arrivals)
    assert await outbox.deliver_pending() == 0
    assert len(fake_api.arrivals) == arrived


async def test_a_reply_of_another_hosts_process_waits_for_its_heartbeat_to_expire(services, app, fake_api):
    await hold_lease(services, ALIVE + OTHER_HOST, OTHER_HOST, ttl=6.0)
    await Engine(services).answer(inbound(STRANGER, "/start", 1), holder=OTHER_HOST)
    await queue(services, STRANGER, "Pengumuman dinas")
    clock = Clock()
    outbox = new_outbox(services, app, clock=clock)

    await outbox.prepare()
    # Alive as far as anyone here can tell: it is sending that reply, and the notice waits behind it.
    assert await outbox.deliver_pending() == 0
    assert texts_to(fake_api, STRANGER) == []
    reply, _ = await rows(services, STRANGER)
    assert (reply.status, reply.holder) == (Delivery.DIRECT, OTHER_HOST)

    clock.now += dt.timedelta(seconds=7)  # its heartbeat was not renewed: it is gone
    assert await outbox.deliver_pending() == 2

    assert texts_to(fake_api, STRANGER) == [texts.WELCOME_UNKNOWN, "Pengumuman dinas"]
    assert [r.status for r in await rows(services, STRANGER)] == [Delivery.SENT, Delivery.SENT]


async def test_a_live_process_of_this_host_keeps_its_reply_without_a_heartbeat(services, app, fake_api):
    """Its heartbeat lapsed (a busy database, a stalled loop) but its pid runs: it may still send that
    reply, so the outbox must not send it too; once the process is gone, the outbox does."""
    child = running_child()
    try:
        holder = f"{process_name().partition('.')[0]}.{child.pid}.11fe"
        await Engine(services).answer(inbound(STRANGER, "/start", 1), holder=holder)
        outbox = new_outbox(services, app)
        await outbox.prepare()
        assert await outbox.deliver_pending() == 0
        assert [(r.status, r.holder) for r in await rows(services, STRANGER)] == [(Delivery.DIRECT, holder)]
    finally:
        child.kill()
        child.wait()
    outbox._lease_renew_at = dt.datetime.min.replace(tzinfo=dt.UTC)  # the next heartbeat, now
    assert await outbox.deliver_pending() == 1
    assert texts_to(fake_api, STRANGER) == [texts.WELCOME_UNKNOWN]


async def test_a_reply_taken_over_then_confirmed_by_its_sender_is_not_sent_again(services, app, fake_api):
    """A process thought dead sent its reply after all: its late confirmation stops the outbox from
    sending the taken-over copy."""
    answer = await Engine(services).answer(inbound(STRANGER, "/start", 1), holder=OTHER_HOST)
    assert answer.reply_id is not None
    async with services.sessions() as session:
        assert await store.take_over_replies(session, holders={OTHER_HOST}, now=dt.datetime.now(dt.UTC)) == 1
        await store.confirm_replies(session, sent=[(answer.reply_id, dt.datetime.now(dt.UTC), None)])
        await session.commit()

    assert await new_outbox(services, app).deliver_pending() == 0
    assert texts_to(fake_api, STRANGER) == []
    assert [r.status for r in await rows(services, STRANGER)] == [Delivery.SENT]


async def test_confirmations_put_back_by_a_failed_turn_are_still_recorded(services, app, fake_api):
    """A turn took the waiting confirmations and then failed: they are written by the background writer,
    not left for a next turn that may never come."""
    direct = DirectReplies(services, CHANNEL, courier(app), Pacer(FAST))
    answer = await Engine(services).answer(inbound(STRANGER, "/start", 1), holder=direct_holder())
    assert answer.reply_id is not None
    await direct.deliver(str(STRANGER), answer, None)
    taken = services.sent_replies.take()  # as a turn does...
    assert [sent.reply_id for sent in taken] == [answer.reply_id]
    services.sent_replies.put_back(taken)  # ...before its transaction fails

    await asyncio.sleep(direct.receipts.linger + 0.5)
    assert [r.status for r in await rows(services, STRANGER)] == [Delivery.SENT]


def running_child() -> subprocess.Popen[bytes]:
    """Another process of this host that runs (until the test kills it)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def direct_holder() -> str:
    """This process's name, as a channel sending its own replies uses it."""
    return process_name()


async def test_only_the_latest_of_a_dead_processs_unsent_replies_is_sent(services, app, chat, fake_api):
    seen = await onboarded(chat)
    engine, holder = Engine(services), dead_holder()
    first = await engine.answer(inbound(RINA, "/bantuan", 101), holder=holder)
    second = await engine.answer(inbound(RINA, "/daftar", 102), holder=holder)
    outbox = new_outbox(services, app)

    await outbox.prepare()
    assert await outbox.deliver_pending() == 1

    [reply] = texts_to(fake_api, RINA)[seen:]
    assert "1/6" in reply  # /daftar's first question; /bantuan's answer is stale: the person moved on
    by_id = {r.id: r for r in await rows(services, RINA)}
    assert (by_id[first.reply_id].status, by_id[first.reply_id].payload) == (Delivery.SUPERSEDED, None)
    assert (by_id[second.reply_id].status, by_id[second.reply_id].payload) == (Delivery.SENT, None)


async def test_a_reply_handed_over_is_superseded_by_the_next_turns_reply(services, app, chat, fake_api):
    seen = await onboarded(chat)
    rina = chat(RINA)
    rina.seen = seen
    fake_api.fail_next(1, chat_id=RINA)
    assert await rina.say("/bantuan") == []  # a 5xx: handed to the outbox, due after a backoff
    [*_, handed] = await rows(services, RINA)
    assert handed.status == Delivery.PENDING

    [reply] = await rina.say("/daftar")

    assert "1/6" in reply.text
    # Past the backoff, the outbox has nothing to send: /bantuan's answer never arrives.
    clock = Clock(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
    outbox = new_outbox(services, app, clock=clock)
    await outbox.prepare()
    assert await outbox.deliver_pending() == 0
    assert texts_to(fake_api, RINA)[seen:] == [reply.text]
    await recorded(app)
    [*_, stale, latest] = await rows(services, RINA)
    assert (stale.id, stale.status, stale.payload) == (handed.id, Delivery.SUPERSEDED, None)
    assert (latest.status, latest.payload) == (Delivery.SENT, None)


# ---------------------------------------------------------------------------------------------- leases


async def test_the_outbox_lease_of_a_process_dead_on_this_host_is_taken_at_once(services, app, fake_api):
    await hold_lease(services, LEASE + CHANNEL, dead_holder(), ttl=3600.0)
    await queue(services, STRANGER, "Pengumuman dinas")
    outbox = new_outbox(services, app)

    await outbox.prepare()

    assert await lease_holder(services, LEASE + CHANNEL) == outbox.holder
    assert await outbox.deliver_pending() == 1
    assert texts_to(fake_api, STRANGER) == ["Pengumuman dinas"]


async def test_the_outbox_lease_of_a_live_process_elsewhere_is_kept_until_it_expires(services, app, fake_api):
    await hold_lease(services, LEASE + CHANNEL, OTHER_HOST, ttl=5.0)
    await queue(services, STRANGER, "Pengumuman dinas")
    clock = Clock()
    outbox = new_outbox(services, app, clock=clock)

    await outbox.prepare()
    assert await outbox.deliver_pending() == 0
    assert await lease_holder(services, LEASE + CHANNEL) == OTHER_HOST
    assert texts_to(fake_api, STRANGER) == []

    clock.now += dt.timedelta(seconds=6)
    assert await outbox.deliver_pending() == 1
    assert await lease_holder(services, LEASE + CHANNEL) == outbox.holder
    assert texts_to(fake_api, STRANGER) == ["Pengumuman dinas"]


# --------------------------------------------------------------------------------- limits over restarts


async def test_a_chats_spacing_is_kept_across_a_restart(services, app, fake_api):
    fake_api.enforce_limits = True  # Telegram's ~1 s per chat: too soon is answered 429
    await queue(services, STRANGER, "Pesan 1")
    before = new_outbox(services, app, holder=dead_holder(), limits=SPACED)
    assert await before.deliver_pending() == 1
    await queue(services, STRANGER, "Pesan 2")

    after = new_outbox(services, app, limits=SPACED)  # a new process: a fresh pacer
    await after.prepare()
    assert await after.deliver_pending() == 1

    assert texts_to(fake_api, STRANGER) == ["Pesan 1", "Pesan 2"]
    first, second = accepted(fake_api, STRANGER)
    assert second - first >= SPACED.chat_interval
    assert fake_api.too_many == 0


async def test_a_429_pause_is_kept_across_a_restart(services, app, fake_api):
    fake_api.flood_next(1, retry_after=2)
    await queue(services, STRANGER, "Pesan 1")
    before = new_outbox(services, app, holder=dead_holder())
    assert await before.deliver_pending() == 0  # the 429: retried after the pause
    flood = next(a.at for a in fake_api.arrivals if a.status == 429)
    for _ in range(100):  # the pause is written in the background
        if await lease_holder(services, FLOOD + CHANNEL) is not None:
            break
        await asyncio.sleep(0.01)
    await queue(services, 3002, "Pesan lain")  # another chat: due now, but for the pause

    after = new_outbox(services, app)
    await after.prepare()

    assert after.pacer.paused_for() > 1.5
    deadline = time.monotonic() + 10.0
    while len(accepted(fake_api, STRANGER)) + len(accepted(fake_api, 3002)) < 2:
        assert time.monotonic() < deadline, "the messages were not delivered after the pause"
        await after.deliver_pending()
        await asyncio.sleep(0.05)
    assert min(accepted(fake_api, 3002) + accepted(fake_api, STRANGER)) >= flood + 1.9
    assert texts_to(fake_api, STRANGER) == ["Pesan 1"]
    assert texts_to(fake_api, 3002) == ["Pesan lain"]
    assert fake_api.too_many == 1


# ------------------------------------------------------------------------------------------ at rest


async def test_a_replys_payload_is_encrypted_at_rest_and_cleared_once_sent(services, app, chat, fake_api):
    seen = await onboarded(chat)
    await chat(RINA).say("/daftar")
    nik = synthetic_nik()
    engine = Engine(services)

    answer = await engine.answer(inbound(RINA, nik, 201), holder=process_name())

    [*_, row] = await rows(services, RINA)
    assert row.id == answer.reply_id
    assert row.payload is not None
    assert nik not in row.payload
    recorded, pressed = load_replies(services.vault.decrypt(row.payload))
    assert pressed is None
    assert any(f"NIK {nik} terbaca" in reply.text for reply in recorded)  # the read-back
    direct = DirectReplies(services, CHANNEL, courier(app), Pacer(FAST))
    await direct.deliver(str(RINA), answer, None)
    await direct.receipts.drain()  # the confirmation is written in the background
    assert any(f"NIK {nik} terbaca" in text for text in texts_to(fake_api, RINA)[seen + 1 :])
    [*_, row] = await rows(services, RINA)
    assert (row.status, row.payload, row.holder) == (Delivery.SENT, None, None)


# ------------------------------------------------------------------- the ids of messages showing a NIK


async def test_the_next_turn_in_another_process_waits_for_the_read_backs_id_and_keeps_it(
    services, app, chat, fake_api
):
    """The read-back (a full NIK) is sent by one process and the officer's next message reaches another
    (own memory, same database): that turn waits while the read-back is still being sent, then notes its
    message id in the conversation, so Kirim or Batal masks it there."""
    seen = await onboarded(chat)
    sender, other = services, dataclasses.replace(services, sent_replies=SentReplies())
    direct = DirectReplies(sender, CHANNEL, courier(app), Pacer(FAST))
    direct.receipts.linger = 60.0  # only the reply with kept ids is written at once
    await Engine(sender).answer(inbound(RINA, "/daftar", 2001), holder=direct_holder())
    read_back = await Engine(sender).answer(
        inbound(RINA, synthetic_nik(serial=7), 2002), holder=direct_holder()
    )

    name = asyncio.create_task(
        Engine(other).answer(inbound(RINA, "Maruli Sitanggang", 2003), holder=direct_holder())
    )
    await asyncio.sleep(0.3)
    assert not name.done()  # the read-back is still `direct`: its id is not known yet
    await direct.deliver(str(RINA), read_back, None)
    await asyncio.wait_for(name, 10)

    [sent_read_back] = [m for m in fake_api.messages_to(RINA)[seen:] if "terbaca" in m.text]
    async with services.sessions() as session:
        conversation = await store.conversation_of(session, officer_id=await officer_of(session, RINA))
    assert conversation is not None
    assert [ref for ref, masked in conversation.data[NIK_MESSAGES] if masked] == [
        str(sent_read_back.message_id)
    ]
    assert NIK_REPLIES not in conversation.data  # received: no later turn waits for it


async def test_a_turn_gives_up_waiting_for_a_reply_a_dead_process_never_sent(
    services, app, chat, monkeypatch
):
    """The process that recorded the read-back died before sending it: the next turn goes on after its
    pauses (the outbox sends the read-back; it cannot be masked, its id is never known)."""
    await onboarded(chat)
    monkeypatch.setattr(engine_module, "ORDER_PAUSES", (0.05, 0.05))
    dead = dead_holder()
    await Engine(services).answer(inbound(RINA, "/daftar", 2101), holder=dead)
    await Engine(services).answer(inbound(RINA, synthetic_nik(serial=8), 2102), holder=dead)

    started = time.monotonic()
    answer = await Engine(services).answer(inbound(RINA, "Maruli Sitanggang", 2103), holder=direct_holder())

    assert time.monotonic() - started >= 0.1  # it waited for the read-back's ids first, then went on
    assert "15 Agustus 1990" in "\n".join(reply.text for reply in answer.replies)
    async with services.sessions() as session:
        conversation = await store.conversation_of(session, officer_id=await officer_of(session, RINA))
    assert conversation is not None
    assert NIK_REPLIES not in conversation.data
