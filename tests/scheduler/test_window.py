"""WhatsApp's reply window in the outbox: outside it a message waits for the person behind one template,
and goes out, in order, once they write; replies are never held. On SQLite and PostgreSQL, with the real
outbox and a recording fake courier; assertions read what the courier received and the database holds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Sequence

import pytest
from sqlmodel import col, select

from handlers import cards
from handlers.context import Services, Turn
from handlers.messages import Inbound, Reply, dump_replies
from models import reports, store
from models.rules.status import Status
from models.tables import CardCopy, ChatAccount, ChatWindow, Delivery, Officer, OutboundMessage, Purpose
from scheduler.jobs import REMINDER, SUMMARY, Schedule
from scheduler.outbox import Outbox, OutsideWindow, RetryLater, Undeliverable
from tests.conftest import CAMAT_PHONE, FAST, OPERATOR_PHONE, sent_proposal, synthetic_nik

CHANNEL = "whatsapp"
WINDOW = dt.timedelta(hours=24)
ANI = "6281299990001"  # a synthetic WhatsApp id
RINA_WA = OPERATOR_PHONE.removeprefix("+")


@dataclasses.dataclass
class Clock:
    """The outbox's clock, moved on by the test; a little ahead, so messages queued now are due."""

    now: dt.datetime = dataclasses.field(
        default_factory=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    )

    def __call__(self) -> dt.datetime:
        return self.now


@dataclasses.dataclass(frozen=True)
class FakePart:
    reply: Reply
    keep: str | None = None
    aside: bool = False


@dataclasses.dataclass
class RecordingCourier:
    """A WhatsApp-like courier: records sends and templates; raises the errors queued for a chat once."""

    sent: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    templates: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    send_errors: dict[str, Exception] = dataclasses.field(default_factory=dict)
    template_errors: dict[str, Exception] = dataclasses.field(default_factory=dict)
    refs: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        if chat_id in self.send_errors:
            raise self.send_errors.pop(chat_id)
        self.sent.append((chat_id, reply.text))
        return f"wamid.{next(self.refs)}"

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        self.sent.append((chat_id, reply.text))

    def plan(self, replies: Sequence[Reply], pressed: str | None) -> list[FakePart]:
        return [FakePart(reply) for reply in replies]

    async def perform(self, chat_id: str, part: object) -> str | None:
        assert isinstance(part, FakePart)
        return await self.send(chat_id, part.reply)

    async def send_template(self, chat_id: str, *, purpose: str, count: int) -> str | None:
        if chat_id in self.template_errors:
            raise self.template_errors.pop(chat_id)
        self.templates.append((chat_id, purpose, count))
        return f"wamid.t{next(self.refs)}"


def whatsapp_outbox(services: Services, courier: RecordingCourier, clock: Clock) -> Outbox:
    return Outbox(services, CHANNEL, courier, limits=FAST, window=WINDOW, clock=clock)


async def queue(
    services: Services, chat_id: str, body: str, purpose: Purpose = Purpose.CARD, *, channel: str = CHANNEL
) -> None:
    account = ChatAccount(channel=channel, external_id=chat_id, chat_id=chat_id, officer_id=None)
    async with services.sessions() as session:
        await store.queue_message(session, account=account, text=body, buttons=[], purpose=purpose)
        await session.commit()


async def open_window(services: Services, chat_id: str, at: dt.datetime) -> int:
    async with services.sessions() as session:
        released = await store.open_window(session, channel=CHANNEL, chat_id=chat_id, at=at)
        await session.commit()
    return released


async def rows(services: Services, chat_id: str = ANI) -> list[OutboundMessage]:
    async with services.sessions() as session:
        found = await session.exec(
            select(OutboundMessage)
            .where(OutboundMessage.chat_id == chat_id)
            .order_by(col(OutboundMessage.id))
        )
        return list(found)


async def statuses(services: Services, chat_id: str = ANI) -> list[Delivery]:
    return [r.status for r in await rows(services, chat_id)]


async def window_of(services: Services, chat_id: str = ANI) -> ChatWindow | None:
    async with services.sessions() as session:
        return await session.get(ChatWindow, (CHANNEL, chat_id))


async def hand_over_reply(services: Services, chat_id: str, text: str, now: dt.datetime) -> None:
    """A turn's reply the channel could not send directly, now the outbox's (pending)."""
    payload = services.vault.encrypt(dump_replies([Reply(text)], pressed=None))
    async with services.sessions() as session:
        reply_id = await store.record_reply(
            session,
            channel=CHANNEL,
            chat_id=chat_id,
            officer_id=None,
            update_id="wamid.in",
            payload=payload,
            holder="somebody",
            now=now,
        )
        await store.hand_over_reply(session, reply_id=reply_id, progress=0, at=now, error="timeout")
        await session.commit()


# ------------------------------------------------------------------------------------------- the window


async def test_outside_the_window_cards_wait_behind_one_template_and_go_in_order_once_they_write(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    await queue(services, ANI, "Kartu 1")

    await outbox.deliver_pending()
    assert courier.templates == [(ANI, "card", 1)]
    assert courier.sent == []
    assert await statuses(services) == [Delivery.WAITING]
    window = await window_of(services)
    assert window is not None
    assert window.template_at is not None
    assert window.last_inbound_at is None

    await queue(services, ANI, "Kartu 2")
    await outbox.deliver_pending()
    assert courier.templates == [(ANI, "card", 1)]  # asked once: they have not written since
    assert await statuses(services) == [Delivery.WAITING, Delivery.WAITING]

    clock.now += dt.timedelta(minutes=30)
    assert await open_window(services, ANI, clock.now) == 2
    assert await statuses(services) == [Delivery.PENDING, Delivery.PENDING]
    await outbox.deliver_pending()
    assert courier.sent == [(ANI, "Kartu 1"), (ANI, "Kartu 2")]
    sent = await rows(services)
    assert [r.status for r in sent] == [Delivery.SENT, Delivery.SENT]
    assert all(r.message_ref and r.message_ref.startswith("wamid.") for r in sent)

    await outbox.deliver_pending()
    assert len(courier.sent) == 2
    assert len(courier.templates) == 1

    await queue(services, ANI, "Kartu 3")  # within the window now: sent as it is
    await outbox.deliver_pending()
    assert courier.sent[-1] == (ANI, "Kartu 3")
    assert len(courier.templates) == 1


async def test_a_message_queued_a_window_after_the_template_asks_again(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    await queue(services, ANI, "Ringkasan", Purpose.SUMMARY)
    await outbox.deliver_pending()
    clock.now += WINDOW + dt.timedelta(hours=1)
    await queue(services, ANI, "Pengingat", Purpose.REMINDER)
    await outbox.deliver_pending()
    assert courier.templates == [(ANI, "summary", 1), (ANI, "reminder", 2)]
    assert await statuses(services) == [Delivery.WAITING, Delivery.WAITING]


async def test_a_reply_is_sent_without_a_template_and_waiting_messages_stay_waiting(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    await queue(services, ANI, "Pemberitahuan", Purpose.NOTICE)
    await outbox.deliver_pending()
    assert courier.templates == [(ANI, "notice", 1)]

    await hand_over_reply(services, ANI, "Jawaban", clock.now)
    await outbox.deliver_pending()
    assert courier.sent == [(ANI, "Jawaban")]
    assert len(courier.templates) == 1
    notice, reply = await rows(services)
    assert (notice.status, reply.status, reply.purpose) == (Delivery.WAITING, Delivery.SENT, "reply")


async def test_inside_the_window_a_message_is_sent_directly_and_near_its_end_it_waits(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    await open_window(services, ANI, clock.now - dt.timedelta(hours=1))
    await queue(services, ANI, "Kartu")
    await outbox.deliver_pending()
    assert (courier.sent, courier.templates) == ([(ANI, "Kartu")], [])

    other = "6281299990002"
    await open_window(services, other, clock.now - WINDOW + dt.timedelta(minutes=2))  # closing in 2 min
    await queue(services, other, "Kartu")
    await outbox.deliver_pending()
    assert courier.templates == [(other, "card", 1)]
    assert await statuses(services, other) == [Delivery.WAITING]


async def test_the_courier_finding_the_window_closed_makes_the_message_wait_behind_a_template(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    await open_window(services, ANI, clock.now - dt.timedelta(hours=2))
    courier.send_errors[ANI] = OutsideWindow("outside_window")
    await queue(services, ANI, "Kartu")

    await outbox.deliver_pending()
    assert courier.sent == []
    assert courier.templates == [(ANI, "card", 1)]
    [row] = await rows(services)
    assert row.status == Delivery.WAITING  # not failed

    assert await open_window(services, ANI, clock.now) == 1
    await outbox.deliver_pending()
    assert courier.sent == [(ANI, "Kartu")]


async def test_a_failure_reported_later_outside_the_window_sends_the_message_again_once_they_write(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    await open_window(services, ANI, clock.now - dt.timedelta(hours=2))
    await queue(services, ANI, "Kartu")
    await outbox.deliver_pending()
    [row] = await rows(services)
    assert row.status == Delivery.SENT
    assert row.message_ref is not None

    async with services.sessions() as session:
        assert not await store.delivery_failed(
            session,
            channel=CHANNEL,
            message_ref="wamid.unknown",
            reason="x",
            outside_window=True,
            at=clock.now,
        )
        assert await store.delivery_failed(
            session,
            channel=CHANNEL,
            message_ref=row.message_ref,
            reason="outside_window",
            outside_window=True,
            at=clock.now,
        )
        await session.commit()
    await outbox.deliver_pending()
    assert courier.templates == [(ANI, "card", 1)]
    assert await statuses(services) == [Delivery.WAITING]

    assert await open_window(services, ANI, clock.now) == 1
    await outbox.deliver_pending()
    assert courier.sent == [(ANI, "Kartu"), (ANI, "Kartu")]
    assert await statuses(services) == [Delivery.SENT]


async def test_a_failure_reported_later_for_another_reason_is_recorded_failed(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    await open_window(services, ANI, clock.now - dt.timedelta(hours=2))
    await queue(services, ANI, "Kartu")
    await outbox.deliver_pending()
    [row] = await rows(services)
    assert row.message_ref is not None
    async with services.sessions() as session:
        assert await store.delivery_failed(
            session,
            channel=CHANNEL,
            message_ref=row.message_ref,
            reason="not_on_whatsapp",
            outside_window=False,
            at=clock.now,
        )
        await session.commit()
    [row] = await rows(services)
    assert (row.status, row.error) == (Delivery.FAILED, "not_on_whatsapp")
    await outbox.deliver_pending()
    assert courier.templates == []
    assert len(courier.sent) == 1


async def test_a_template_refused_for_good_fails_every_waiting_message(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    courier.template_errors[ANI] = Undeliverable("not_on_whatsapp")
    await queue(services, ANI, "Kartu 1")
    await queue(services, ANI, "Kartu 2")
    await outbox.deliver_pending()
    found = await rows(services)
    assert [(r.status, r.error) for r in found] == [(Delivery.FAILED, "not_on_whatsapp")] * 2
    assert courier.sent == []
    assert courier.templates == []
    async with services.sessions() as session:
        failed, total = await store.failed_deliveries(session, limit=10)
    assert total == 2
    assert {m.error for m, _ in failed} == {"not_on_whatsapp"}


async def test_a_template_that_could_not_go_now_is_retried(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    courier.template_errors[ANI] = RetryLater("timeout")
    await queue(services, ANI, "Kartu")
    await outbox.deliver_pending()
    [row] = await rows(services)
    assert (row.status, row.attempts, row.error) == (Delivery.PENDING, 1, "timeout")
    assert courier.templates == []

    clock.now += dt.timedelta(minutes=1)
    await outbox.deliver_pending()
    assert courier.templates == [(ANI, "card", 1)]
    assert await statuses(services) == [Delivery.WAITING]


async def test_without_a_window_nothing_waits_and_a_courier_without_templates_is_refused(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = Outbox(services, "telegram", courier, limits=FAST, clock=clock)
    await queue(services, "1001", "Kartu", channel="telegram")
    await outbox.deliver_pending()
    assert (courier.sent, courier.templates) == ([("1001", "Kartu")], [])
    assert await window_of(services, "1001") is None

    @dataclasses.dataclass
    class Plain:
        async def send(self, chat_id: str, reply: Reply) -> str | None:
            return None

    with pytest.raises(TypeError):
        Outbox(services, CHANNEL, Plain(), window=WINDOW)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- who is reached where


def turn_of(services: Services, session: object) -> Turn:
    inbound = Inbound.from_text(channel="telegram", user_id="9", chat_id="9", text="x")
    return Turn(services=services, session=session, inbound=inbound, account=None, officer=None)  # type: ignore[arg-type]


async def officer(services: Services, phone: str) -> Officer:
    async with services.sessions() as session:
        found = await store.officer_by_phone(session, phone=phone)
    assert found is not None
    return found


async def test_an_officer_bound_nowhere_is_reached_on_whatsapp_by_roster_phone(services):
    rina = await officer(services, OPERATOR_PHONE)
    assert rina.id is not None
    async with services.sessions() as session:
        assert (
            await cards.tell_officer(turn_of(services, session), rina.id, Reply("Usulan dikembalikan")) == 0
        )
        await session.commit()
    assert await rows(services, RINA_WA) == []

    reaching = dataclasses.replace(services, reach_unbound=CHANNEL)
    async with reaching.sessions() as session:
        assert (
            await cards.tell_officer(turn_of(reaching, session), rina.id, Reply("Usulan dikembalikan")) == 1
        )
        await session.commit()
    [row] = await rows(services, RINA_WA)
    assert (row.channel, row.chat_id, row.officer_id, row.purpose) == (CHANNEL, RINA_WA, rina.id, "notice")
    async with services.sessions() as session:  # the transient account was never saved
        assert list(await session.exec(select(ChatAccount))) == []

    # Bound on Telegram: reached there only, as before.
    async with reaching.sessions() as session:
        found = await session.get(Officer, rina.id)
        assert found is not None
        await store.bind_account(session, channel="telegram", external_id="77", chat_id="77", officer=found)
        await session.commit()
    async with reaching.sessions() as session:
        accounts = await store.accounts_of(session, officer_id=rina.id, reach_unbound=CHANNEL)
    assert [(a.channel, a.chat_id) for a in accounts] == [("telegram", "77")]


async def test_cards_reach_an_unbound_camat_and_carry_their_purpose(services):
    reaching = dataclasses.replace(services, reach_unbound=CHANNEL)
    rina = await officer(services, OPERATOR_PHONE)
    camat = await officer(services, CAMAT_PHONE)
    assert rina.id is not None
    async with reaching.sessions() as session:
        proposal = sent_proposal(reaching, officer_id=rina.id, nik=synthetic_nik())
        session.add(proposal)
        await session.flush()
        turn = turn_of(reaching, session)
        assert await cards.send_for_decision(turn, proposal) == 1
        await cards.close_cards(turn, proposal, Status.MENUNGGU_CAMAT, "Disetujui")
        await session.commit()
    camat_wa = CAMAT_PHONE.removeprefix("+")
    card, outcome = await rows(services, camat_wa)
    assert (card.channel, card.officer_id, card.purpose, card.edit) == (CHANNEL, camat.id, "card", False)
    assert (outcome.purpose, outcome.edit) == ("card", True)
    async with services.sessions() as session:
        [copy] = list(await session.exec(select(CardCopy)))
    assert (copy.channel, copy.chat_id) == (CHANNEL, camat_wa)


async def test_summaries_and_reminders_reach_the_unbound_and_carry_their_purpose(services):
    reaching = dataclasses.replace(services, reach_unbound=CHANNEL)
    async with services.sessions() as session:
        assert await reports.recipients(session) == []
        people = await reports.recipients(session, reach_unbound=CHANNEL)
        assert len(people) == 5
        assert [u.reason for u in await reports.unreachable(session)] == ["never_onboarded"] * 5
        assert await reports.unreachable(session, reach_unbound=CHANNEL) == []
    rina = next(p for p in people if p.officer.phone == OPERATOR_PHONE)
    assert [(a.channel, a.chat_id) for a in rina.accounts] == [(CHANNEL, RINA_WA)]

    schedule = Schedule(reaching)
    assert await schedule._queue_once(SUMMARY, "2026-W48", rina, [Reply("Ringkasan")], at=reaching.clock())
    assert await schedule._queue_once(REMINDER, "2026-11-24", rina, [Reply("Ingat")], at=reaching.clock())
    assert [(r.purpose, r.chat_id) for r in await rows(services, RINA_WA)] == [
        ("summary", RINA_WA),
        ("reminder", RINA_WA),
    ]

    # Their template was refused: not a WhatsApp user, and the dinas hears of it.
    courier, clock = RecordingCourier(), Clock()
    courier.template_errors[RINA_WA] = Undeliverable("not_on_whatsapp")
    await whatsapp_outbox(services, courier, clock).deliver_pending()
    async with services.sessions() as session:
        listed = await reports.unreachable(session, reach_unbound=CHANNEL)
    assert [(u.officer.phone, u.reason) for u in listed] == [(OPERATOR_PHONE, "not_on_whatsapp")]


async def test_an_older_inbound_never_moves_the_window_back_and_only_its_chat_is_released(services):
    courier, clock = RecordingCourier(), Clock()
    outbox = whatsapp_outbox(services, courier, clock)
    other = "6281299990002"
    await queue(services, ANI, "Kartu")
    await queue(services, other, "Kartu lain")
    await outbox.deliver_pending()
    assert len(courier.templates) == 2

    assert await open_window(services, ANI, clock.now) == 1
    assert await open_window(services, ANI, clock.now - dt.timedelta(days=2)) == 0  # a late webhook
    window = await window_of(services)
    assert window is not None
    assert window.last_inbound_at == clock.now
    assert await statuses(services, other) == [Delivery.WAITING]


async def test_unbinding_an_officer_drops_what_waited_for_them(services):
    rina = await officer(services, OPERATOR_PHONE)
    assert rina.id is not None
    account = ChatAccount(channel=CHANNEL, external_id="", chat_id=RINA_WA, officer_id=rina.id)
    async with services.sessions() as session:
        await store.queue_message(session, account=account, text="Kartu", buttons=[], purpose=Purpose.CARD)
        await session.commit()
    await whatsapp_outbox(services, RecordingCourier(), Clock()).deliver_pending()
    assert await statuses(services, RINA_WA) == [Delivery.WAITING]
    async with services.sessions() as session:
        await store.unbind_officer(session, officer_id=rina.id)
        await session.commit()
    assert await rows(services, RINA_WA) == []
