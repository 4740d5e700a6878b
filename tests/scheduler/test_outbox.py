"""The outbox worker against a fake Telegram on loopback HTTP: limits, retries, failures, restarts, crashes.

Each test runs the real :class:`scheduler.outbox.Outbox` with the real :class:`TelegramCourier` over a real
PTB ``Bot`` and the production HTTP client (:class:`bot.channels.telegram.http.AiohttpRequest`), against
:class:`tests.fakebotapi.FakeBotApi` enforcing Telegram's limits (scaled up so the tests are quick). Messages
are queued with :func:`models.store.queue_message`, as handlers do. Assertions read what the fake Bot API
received and what the database holds.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import itertools
import random
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlmodel import col, select
from telegram import Bot

from bot.channels.telegram import TelegramCourier
from bot.channels.telegram.http import AiohttpRequest
from handlers.context import Services
from handlers.messages import Button, Reply
from models import store
from models.rules.status import Status
from models.tables import CardCopy, ChatAccount, Delivery, Lease, OutboundMessage, Proposal
from scheduler.outbox import LEASE, Limits, Outbox, Pacer, RetryLater, Start, Undeliverable
from tests.conftest import CAMAT_PHONE, OPERATOR_PHONE, SIMANINDO, TOMOK, make_services
from tests.fakebotapi import TIMEOUT, TOKEN, FakeBotApi
from tests.offline import OfflineRequest

# PTB 22 warns about its own RetryAfter while building it from an integer retry_after, as Telegram sends.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")

# Telegram's limits scaled up (30/s overall, 1 s per chat) and the worker's, a margin below them.
API_RATE = 200
API_CHAT_INTERVAL = 0.05
FAST = Limits(
    per_second=100,
    chat_interval=0.1,
    max_in_flight=16,
    backoff_first=0.05,
    backoff_cap=0.2,
    idle_poll=0.2,
    lease_ttl=1.0,
)
CLIENT_TIMEOUT = 0.3  # the courier's: a call the fake leaves unanswered fails after this
# Where the worker's logic is tested, not the database's, SQLite is enough (PostgreSQL where
# behaviour differs). Ordering, duplicates, restarts, crashes, leases and failures run on both.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def account(chat: int) -> ChatAccount:
    """Where to write to a person (not saved: the outbox needs only its channel and chat)."""
    return ChatAccount(channel="telegram", external_id=str(chat), chat_id=str(chat), officer_id=None)


def text(chat: int, k: int) -> str:
    return f"chat {chat} message {k}"


def plan(chats: list[int], per_chat: int) -> list[tuple[int, str]]:
    """Messages interleaved across chats, as changes cause them: each chat's k-th before its (k+1)-th."""
    return [(chat, text(chat, k)) for k in range(per_chat) for chat in chats]


async def queue(services: Services, messages: list[tuple[int, str]]) -> None:
    """Queue messages in one transaction, as a handler does with the change that causes them."""
    async with services.sessions() as session:
        for chat, body in messages:
            await store.queue_message(session, account=account(chat), text=body, buttons=[])
        await session.commit()


async def outbound(services: Services) -> list[OutboundMessage]:
    async with services.sessions() as session:
        return list(await session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))))


async def until(condition: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    """Wait until ``condition()`` (sync or async) is true."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s: {what}")
        await asyncio.sleep(0.01)


async def settled(services: Services) -> bool:
    """Nothing is pending in the outbox any more."""
    return all(m.status != Delivery.PENDING for m in await outbound(services))


def texts_to(api: FakeBotApi, chat: int) -> list[str]:
    return [m.text for m in api.messages_to(chat)]


async def stop(task: asyncio.Task[None]) -> None:
    """Stop a worker as the bot's shutdown does: it finishes what it sent, records it, gives up the lease."""
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5.0)
    assert done, "the worker did not stop when cancelled"
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def event(happened: asyncio.Event, what: str, timeout: float = 10.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            await happened.wait()
    except TimeoutError:
        raise AssertionError(f"still waiting after {timeout} s: {what}") from None


async def crash(task: asyncio.Task[None]) -> None:
    """Kill a worker where it stands: nothing in flight is finished or recorded, the lease stays taken."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.01)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(
        enforce_limits=True, per_second=API_RATE, chat_interval=API_CHAT_INTERVAL, hang_for=2.0
    ) as fake:
        yield fake


@pytest.fixture
async def courier(api: FakeBotApi) -> AsyncIterator[TelegramCourier]:
    """The production courier over a real PTB Bot and the production HTTP client, to the fake on loopback."""
    bot = Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest(connection_pool_size=32))
    await bot.initialize()
    yield TelegramCourier(bot, timeout=CLIENT_TIMEOUT)
    await bot.shutdown()


Starter = Callable[..., tuple[Outbox, asyncio.Task[None]]]


@pytest.fixture
async def start(courier: TelegramCourier) -> AsyncIterator[Starter]:
    """Start ``Outbox.run()`` as a task: ``start(services, holder=..., limits=...)``; stopped at the end."""
    tasks: list[asyncio.Task[None]] = []

    def starter(
        services: Services, *, holder: str = "worker-a", limits: Limits = FAST
    ) -> tuple[Outbox, asyncio.Task[None]]:
        outbox = Outbox(services, "telegram", courier, limits=limits, holder=holder)
        task = asyncio.create_task(outbox.run())
        tasks.append(task)
        return outbox, task

    yield starter
    for task in tasks:
        await stop(task)


# ------------------------------------------------------------------------------------------ courier


@pytest.mark.parametrize("transport", ["http", "offline"])
async def test_the_courier_sorts_telegrams_answers_for_the_worker(transport):
    """429, 5xx and timeouts come out as retry-later, 403/400 as undeliverable with a reason, over both
    HTTP and the offline request."""
    api = FakeBotApi(enforce_limits=True, chat_interval=0.2, hang_for=5.0)  # the timeout outlasts 0.2 s
    if transport == "http":
        await api.start()
        bot = Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest())
    else:
        bot = Bot(TOKEN, base_url="http://offline/bot", request=OfflineRequest(api))
    await bot.initialize()
    courier = TelegramCourier(bot, timeout=CLIENT_TIMEOUT)
    card = Reply("Usulan U-00001", buttons=((Button("Setujui", "c:1:ok"),),))
    try:
        ref = await courier.send("1", card)
        with pytest.raises(RetryLater) as too_soon:  # the same chat again within its interval
            await courier.send("1", Reply("again"))
        assert (too_soon.value.flood, too_soon.value.retry_after) == (True, 1.0)
        api.flood_next(1, retry_after=7)
        with pytest.raises(RetryLater) as flood:
            await courier.send("2", Reply("hello"))
        assert (flood.value.flood, flood.value.retry_after) == (True, 7.0)
        api.fail_next(1)
        with pytest.raises(RetryLater, match="network"):
            await courier.send("2", Reply("hello"))
        api.time_out_next(1)
        with pytest.raises(RetryLater, match="timeout"):
            await courier.send("2", Reply("hello"))
        api.block(3)
        with pytest.raises(Undeliverable, match="blocked"):
            await courier.send("3", Reply("hello"))
        api.forget_chat(4)
        with pytest.raises(Undeliverable, match="chat_not_found"):
            await courier.send("4", Reply("hello"))
        with pytest.raises(Undeliverable, match="message_gone"):
            await courier.edit("1", "999999", Reply("disetujui"))
        await courier.edit("1", ref or "", Reply("Usulan U-00001: disetujui"))
    finally:
        await bot.shutdown()
        await api.stop()
    assert [(m.text, m.buttons) for m in api.sent] == [("Usulan U-00001: disetujui", [])]
    assert [a.status for a in api.arrivals] == [200, 429, 429, 500, TIMEOUT, 403, 400, 400, 200]
    assert api.too_many == 2


# ---------------------------------------------------------------------------------------- delivering


async def test_every_message_arrives_once_and_in_order_through_429_500s_and_timeouts(services, api, start):
    """Through a 429, 500s and timeouts every message arrives once, in order per chat, the 429 pause kept."""
    chats = list(range(1, 9))
    api.flood_next(1, retry_after=1)
    api.fail_next(3)
    api.time_out_next(2)
    api.fail_next(3, chat_id=5)  # one chat's head fails again and again: its later messages must wait
    await queue(services, plan(chats, 6))

    start(services)
    await until(lambda: settled(services), "every message delivered")

    for chat in chats:
        assert texts_to(api, chat) == [text(chat, k) for k in range(6)]
    rows = await outbound(services)
    assert {m.status for m in rows} == {Delivery.SENT}
    assert max(m.attempts for m in rows if m.chat_id == "5") >= 2
    statuses = Counter(a.status for a in api.arrivals)
    assert (statuses[429], statuses[500], statuses[TIMEOUT]) == (1, 6, 2)
    assert statuses[200] == len(rows)  # nothing accepted twice
    # The 429 asked the whole bot to wait a second: nothing new was started in that second (what was
    # already on its way when the answer came back may still arrive just after it).
    flood = next(a.at for a in api.arrivals if a.status == 429)
    assert not [a for a in api.arrivals if flood + 0.1 < a.at < flood + 1.0]


@SQLITE_ONLY
async def test_the_worker_keeps_to_the_limits_so_telegram_never_answers_429(services, start):
    """Paced below the overall and per-chat limits, the worker never gets a 429 from a fake enforcing them."""
    limits = Limits(per_second=40, chat_interval=0.1, idle_poll=0.2, lease_ttl=1.0)
    busy = [(chat, text(chat, k)) for k in range(5) for chat in (91, 92, 93)]  # one after another
    messages = busy + plan(list(range(1, 51)), 1)  # more chats than the overall limit allows in a second
    async with FakeBotApi(enforce_limits=True, per_second=44, chat_interval=0.08) as api:
        bot = Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest())
        await bot.initialize()
        outbox = Outbox(services, "telegram", TelegramCourier(bot, timeout=1.0), limits=limits)
        await queue(services, messages)
        task = asyncio.create_task(outbox.run())
        try:
            await until(lambda: settled(services), "every message delivered")
        finally:
            await stop(task)
            await bot.shutdown()
    assert api.too_many == 0
    assert sorted(m.text for m in api.sent) == sorted(body for _, body in messages)
    for chat in (91, 92, 93):
        assert texts_to(api, chat) == [text(chat, k) for k in range(5)]


async def test_a_blocked_chat_and_a_missing_chat_are_recorded_failed_while_others_get_theirs(
    services, api, start
):
    """403 (blocked) and 400 (chat not found) are recorded failed with their reason, for the dinas to see."""
    api.block(2)
    api.forget_chat(3)
    await queue(services, plan([1, 2, 3, 4], 2))

    start(services)
    await until(lambda: settled(services), "every message settled")

    assert texts_to(api, 1) == [text(1, 0), text(1, 1)]
    assert texts_to(api, 4) == [text(4, 0), text(4, 1)]
    assert texts_to(api, 2) == texts_to(api, 3) == []
    outcome = {(m.chat_id, m.text): (m.status, m.error, m.attempts) for m in await outbound(services)}
    for k in range(2):
        assert outcome["2", text(2, k)] == (Delivery.FAILED, "blocked", 1)  # never retried
        assert outcome["3", text(3, k)] == (Delivery.FAILED, "chat_not_found", 1)
        assert outcome["1", text(1, k)][:2] == (Delivery.SENT, None)
    async with services.sessions() as session:
        shown, total = await store.failed_deliveries(session, limit=10)
    assert total == 4
    assert {m.chat_id for m, _ in shown} == {"2", "3"}


@SQLITE_ONLY
async def test_a_message_failing_every_time_is_given_up_after_max_attempts(services, api, start):
    """A chat whose messages keep failing with 5xx is recorded failed after max_attempts; others go on."""
    api.fail_next(1000, status=502, chat_id=7)
    await queue(services, plan([6, 7], 2))

    start(services, limits=dataclasses.replace(FAST, max_attempts=3, backoff_cap=0.05))
    await until(lambda: settled(services), "every message settled")

    assert texts_to(api, 6) == [text(6, 0), text(6, 1)]
    failed = [(m.status, m.error, m.attempts) for m in await outbound(services) if m.chat_id == "7"]
    assert failed == [(Delivery.FAILED, "gave_up", 3)] * 2
    assert sum(1 for a in api.arrivals if a.chat_id == 7) == 6


# -------------------------------------------------------------------------------------------- cards


async def _card(services: Services, chat: int) -> CardCopy:
    """A proposal waiting for the camat and the camat's copy of its approval card (not sent yet)."""
    async with services.sessions() as session:
        operator = await store.officer_by_phone(session, phone=OPERATOR_PHONE)
        camat = await store.officer_by_phone(session, phone=CAMAT_PHONE)
        assert operator is not None
        assert operator.id is not None
        assert camat is not None
        assert camat.id is not None
        proposal = Proposal(
            desa_code=TOMOK, kecamatan_code=SIMANINDO, officer_id=operator.id, status=Status.MENUNGGU_CAMAT
        )
        session.add(proposal)
        await session.flush()
        assert proposal.id is not None
        card = CardCopy(
            proposal_id=proposal.id,
            stage=Status.MENUNGGU_CAMAT.value,
            officer_id=camat.id,
            channel="telegram",
            chat_id=str(chat),
        )
        session.add(card)
        await session.commit()
        return card


async def _queue_card_and_outcome(services: Services, card: CardCopy, chat: int) -> None:
    async with services.sessions() as session:
        buttons = [[["Setujui", "c:1:ok"], ["Kembalikan", "c:1:back"]]]
        await store.queue_message(
            session, account=account(chat), text="Usulan U-00001", buttons=buttons, card=card
        )
        await session.commit()
    async with services.sessions() as session:
        await store.queue_message(
            session, account=account(chat), text="Usulan U-00001: disetujui", buttons=[], card=card, edit=True
        )
        await session.commit()


async def test_an_outcome_is_written_on_the_delivered_card_and_its_buttons_go(services, api, start):
    """An edit queued for a card copy replaces the sent card's text and removes its buttons."""
    card = await _card(services, 2001)
    await _queue_card_and_outcome(services, card, 2001)

    start(services)
    await until(lambda: settled(services), "card and outcome delivered")

    [shown] = api.messages_to(2001)
    assert (shown.text, shown.buttons) == ("Usulan U-00001: disetujui", [])
    assert [int(e["message_id"]) for e in api.edits] == [shown.message_id]
    async with services.sessions() as session:
        stored = await session.get(CardCopy, card.id, populate_existing=True)
    assert stored is not None
    assert stored.message_ref == str(shown.message_id)
    assert [m.status for m in await outbound(services)] == [Delivery.SENT, Delivery.SENT]


@SQLITE_ONLY
async def test_an_outcome_for_a_card_never_delivered_is_recorded_failed(services, api, start):
    """When the card itself could not be delivered, its outcome edit fails with a reason, not a retry loop."""
    api.forget_chat(2002)
    card = await _card(services, 2002)
    await _queue_card_and_outcome(services, card, 2002)

    start(services)
    await until(lambda: settled(services), "card and outcome settled")

    assert [(m.edit, m.status, m.error) for m in await outbound(services)] == [
        (False, Delivery.FAILED, "chat_not_found"),
        (True, Delivery.FAILED, "card_not_delivered"),
    ]
    assert api.edits == []


# --------------------------------------------------------------------------------- restarts, crashes


async def test_a_restart_delivers_every_queued_message_none_twice(services, api, start):
    """Stopped halfway, a new worker (a new process) delivers the rest: everything once, in order."""
    chats = list(range(1, 11))
    await queue(services, plan(chats, 5))

    _, first = start(services, holder="before")
    await until(lambda: len(api.sent) >= 15, "some messages sent")
    await stop(first)
    left = [m for m in await outbound(services) if m.status == Delivery.PENDING]
    assert 0 < len(left) < 50

    restarted = make_services(services.database_url)
    try:
        start(restarted, holder="after")
        await until(lambda: settled(restarted), "the rest delivered")
    finally:
        await restarted.close()
    for chat in chats:
        assert texts_to(api, chat) == [text(chat, k) for k in range(5)]
    assert len(api.sent) == 50


async def test_two_workers_at_once_only_the_lease_holder_delivers(services, api, start):
    """Two processes run the worker on one database: one delivers, even in rounds longer than the lease."""
    other = make_services(services.database_url)
    # 40 chats paced at 30/s: a round of 1.3 s, longer than the lease, which must be renewed meanwhile.
    limits = dataclasses.replace(FAST, per_second=30.0, lease_ttl=0.6)
    try:
        await queue(services, plan(list(range(1, 41)), 1))
        a, _ = start(services, holder="worker-a", limits=limits)
        b, _ = start(other, holder="worker-b", limits=limits)
        await until(lambda: settled(services), "every message delivered")
    finally:
        await other.close()
    assert sorted([a.sent, b.sent]) == [0, 40]
    assert len(api.sent) == 40 == len({m.text for m in api.sent})


async def test_a_crash_between_sending_and_recording_sends_that_message_twice_at_most(
    services, api, start, monkeypatch
):
    """The documented window: Telegram took a message, the process dies before its record commits.

    A failed record is retried, not the send (the chat stays reserved meanwhile); after the crash the next
    holder, once the dead one's lease expires, sends that message again: twice in all, once per crash.
    Every other message arrives once.
    """
    await queue(services, plan([1, 2, 3], 3))
    victim = next(m.id for m in await outbound(services) if m.text == text(2, 0))
    died = asyncio.Event()
    records = 0
    record = store.mark_sent

    async def mark_sent(session: Any, *, message: OutboundMessage, **kwargs: Any) -> None:
        nonlocal records
        if message.id == victim:
            records += 1
            if records == 1:
                raise ConnectionError("the database went away for a moment")
            if records == 2:  # the process stops here: the record never commits
                died.set()
                await asyncio.Event().wait()
        await record(session, message=message, **kwargs)

    monkeypatch.setattr(store, "mark_sent", mark_sent)
    _, first = start(services, holder="dies")
    await event(died, "the victim's record")
    assert texts_to(api, 2) == [text(2, 0)]  # the record was retried, the message not sent again
    # The other chats finish (recorded), so that only the victim is caught in the window by the crash.
    await until(lambda: len(api.sent) == 7, "the other chats delivered")
    await until(lambda: _recorded(services, 6), "the other chats recorded")
    await crash(first)
    async with services.sessions() as session:
        lease = await session.get(Lease, LEASE + "telegram")
        assert lease is not None
        assert lease.holder == "dies"  # a dead process gives nothing back

    restarted = make_services(services.database_url)
    try:
        start(restarted, holder="next")
        await until(lambda: settled(restarted), "every message delivered", timeout=10)
    finally:
        await restarted.close()
    assert texts_to(api, 2) == [text(2, 0), text(2, 0), text(2, 1), text(2, 2)]
    for chat in (1, 3):
        assert texts_to(api, chat) == [text(chat, k) for k in range(3)]


async def _recorded(services: Services, count: int) -> bool:
    return sum(m.status == Delivery.SENT for m in await outbound(services)) == count


@SQLITE_ONLY
async def test_a_lost_answer_sends_the_message_again_once(services, api, start):
    """A timeout after Telegram took the message (the answer lost) is the same window: one more copy."""
    api.time_out_next(1, chat_id=1, delivered=True)
    await queue(services, plan([1], 2))

    start(services)
    await until(lambda: settled(services), "every message delivered")

    assert texts_to(api, 1) == [text(1, 0), text(1, 0), text(1, 1)]
    assert [m.attempts for m in await outbound(services)] == [2, 1]


# ----------------------------------------------------------------------------------------- doorbell


@SQLITE_ONLY
async def test_the_doorbell_makes_a_waiting_worker_deliver_at_once(services, api, start):
    """A ring after a commit makes an idle worker send now, not at its next poll."""
    start(services, limits=dataclasses.replace(FAST, idle_poll=30.0, lease_ttl=90.0))
    await asyncio.sleep(0.2)  # the worker has found nothing to do and waits

    await queue(services, [(1, "hello")])
    services.doorbell.ring()
    await api.wait_for(1, 1, timeout=1.0)


async def test_a_ring_while_the_worker_reads_is_not_lost(services, api, start, monkeypatch):
    """A message committed and rung while the worker is reading the outbox is sent at once anyway."""
    read = store.next_due_at
    rung = asyncio.Event()
    handler = make_services(services.database_url)  # another connection: the worker's read holds its own

    async def next_due_at(session: Any, **kwargs: Any) -> Any:
        found = await read(session, **kwargs)
        if not rung.is_set():  # another handler commits and rings between this read and the worker's wait
            rung.set()
            await queue(handler, [(1, "hello")])
            services.doorbell.ring()
        return found

    monkeypatch.setattr(store, "next_due_at", next_due_at)
    try:
        start(services, limits=dataclasses.replace(FAST, idle_poll=30.0, lease_ttl=90.0))
        await event(rung, "the worker's read")
        await api.wait_for(1, 1, timeout=1.0)
    finally:
        await handler.close()


@SQLITE_ONLY
async def test_a_retry_with_messages_queued_behind_it_does_not_make_the_worker_spin(
    services, api, start, monkeypatch
):
    """While a chat's head waits for its retry, the worker sleeps instead of reading the outbox in a loop."""
    reads = 0
    read = store.due_messages

    async def due_messages(session: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return await read(session, **kwargs)

    monkeypatch.setattr(store, "due_messages", due_messages)
    api.fail_next(1, chat_id=1)
    await queue(services, plan([1], 3))
    start(services, limits=dataclasses.replace(FAST, backoff_first=1.0, backoff_cap=1.0, idle_poll=0.5))
    await until(lambda: api.arrivals, "the first attempt")
    await asyncio.sleep(0.8)  # the head's retry is due after 1 s

    assert reads < 10
    await until(lambda: settled(services), "every message delivered")
    assert texts_to(api, 1) == [text(1, k) for k in range(3)]


# ------------------------------------------------------------------------------------------------ pacing


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def paced(
    limits: Limits, lateness: Callable[[int], float], round_trip: Callable[[int], float], count: int
) -> list[tuple[float, float]]:
    """(start, end) of ``count`` calls, each started as soon as the pacer allows plus ``lateness(k)`` (a
    busy event loop), its answer back ``round_trip(k)`` later; a different chat each, so only the overall
    limits apply. The clock moves by hand, as the worker's sleeps would."""
    clock = Clock()
    pacer = Pacer(limits, clock=clock)
    calls: list[tuple[Start, float]] = []
    for k in range(count):
        while True:
            for start, rtt in calls[-40:]:  # answers back by now
                if start.ended is None and start.at + rtt <= clock.now:
                    start.ended = start.at + rtt
            at = pacer.start_at()
            if at <= clock.now:
                break
            # sleep until then, or until an answer comes back and the pacer is asked again
            coming = [s.at + rtt for s, rtt in calls[-40:] if s.ended is None and s.at + rtt > clock.now]
            clock.now = min([at, *coming])
        clock.now += lateness(k)
        calls.append((pacer.take(("telegram", str(k))), round_trip(k)))
    return [(start.at, start.at + rtt) for start, rtt in calls]


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


@pytest.mark.parametrize("seed", range(5))
def test_no_second_at_telegram_holds_more_than_30_arrivals_whatever_the_delays(seed):
    """The pacer's guarantee: however late each start and however slow each call (a busy event loop, a
    slow network), no second holds more than 30 arrivals, even with every call arriving as late as it
    could (just before its answer came back)."""
    limits = Limits()
    rng = random.Random(seed)
    late = [rng.choice((0.0, rng.uniform(0, 0.005), rng.uniform(0, 0.02))) for _ in range(3000)]
    rtt = [rng.choice((0.02, rng.uniform(0.02, 0.06))) for _ in range(3000)]
    for k in range(0, 3000, 97):
        late[k] = rng.uniform(0.05, 0.3)  # now and then a stall
        rtt[k + 1] = rng.uniform(0.1, 0.5)  # and a call delayed by hundreds of ms

    calls = paced(limits, lambda k: late[k], lambda k: rtt[k], 3000)
    assert most_in_any_window([end for _, end in calls], 1.0) <= 30
    starts = [start for start, _ in calls]
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.5 / limits.rate - 1e-9  # never a burst


@pytest.mark.parametrize("seed", range(3))
def test_late_starts_are_made_up_so_the_rate_holds_up_on_a_busy_machine(seed):
    """4 ms late on average and a 20-60 ms round trip: still 28,5 a second (spacing each start 1/rate
    after the one before, as late as it came, would give 26)."""
    rng = random.Random(seed)
    late = [rng.choice((0.0, rng.uniform(0, 0.005), rng.uniform(0, 0.02))) for _ in range(3000)]
    rtt = [rng.choice((0.02, rng.uniform(0.02, 0.06))) for _ in range(3000)]
    starts = [start for start, _ in paced(Limits(), lambda k: late[k], lambda k: rtt[k], 3000)]
    assert statistics.mean(late) > 0.004
    assert (len(starts) - 1) / (starts[-1] - starts[0]) >= 28.5


def test_a_call_still_unanswered_is_taken_to_have_arrived_within_the_jitter_margin():
    limits = Limits()
    calls = paced(limits, lambda k: 0.0, lambda k: 60.0, 200)  # no answer in time at all
    starts = [start for start, _ in calls]
    assert most_in_any_window([t + limits.jitter - 1e-6 for t in starts], 1.0) <= 30


def test_on_time_starts_with_quick_answers_are_evenly_spaced_at_29_a_second():
    limits = Limits()
    starts = [start for start, _ in paced(limits, lambda k: 0.0, lambda k: 0.02, 300)]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert max(gaps) - min(gaps) < 1e-6
    assert 1 / gaps[0] == pytest.approx(limits.rate) == pytest.approx(30 / 1.03)


def test_slow_answers_slow_the_pacer_down():
    """A round trip of 200 ms: 30 starts a second plus that, not 29."""
    limits = Limits()
    starts = [start for start, _ in paced(limits, lambda k: 0.0, lambda k: 0.2, 600)]
    assert (len(starts) - 1) / (starts[-1] - starts[0]) == pytest.approx(30 / 1.2, rel=0.01)


def test_a_429_pauses_every_start_for_its_retry_after():
    clock = Clock()
    pacer = Pacer(Limits(), clock=clock)
    pacer.take(("telegram", "1"))
    pacer.pause(2.0)
    assert pacer.start_at() == pytest.approx(clock.now + 2.0)
