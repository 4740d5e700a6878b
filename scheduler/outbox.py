"""Outbox delivery: sends the messages that changes queued, within the chat app's limits, never losing one.

Handlers write messages into the outbox table in the same transaction as the change that causes them
(``handlers.notify``). This worker sends them through each channel's :class:`Courier`:

- at most ``per_second`` messages reaching the chat app in any second, and one per ``chat_interval`` per
  chat (Telegram answers 429 beyond ~30/s overall and ~1/s per chat);
- each chat's messages in order: only the oldest pending message of a chat is ever sent, so a retried
  message holds back the ones behind it, never overtaken;
- 429 (honouring ``retry_after``, for the whole bot, as Telegram means it), 5xx and timeouts are retried
  with backoff; permanent failures (the bot blocked, the chat gone) are recorded for the dinas;
- on a channel with a reply window (WhatsApp: free-form messages only within 24 hours of the person's
  last message; ``window``), a message outside it is not sent: the chat's messages wait (``waiting``,
  still heading the chat) behind one template asking the person to write, and go out in order when they
  do (``store.open_window``, called with the inbound message). Replies to a turn are never held;
- one process at a time delivers for a channel, under that channel's lease in the database, because the
  limits are the bot's (Telegram's token, WhatsApp's number), not the process's: several processes may
  run the bot, the one holding the lease sends; each channel has its own worker, limits and pacer, so a
  429 of one chat app never holds the other back.

The window where a message can go out twice, written down where it lives: :meth:`Outbox._deliver` sends,
then records the delivery. A crash (or a lost lease) between the chat app accepting the message and that
record committing leaves the row pending, and the next holder sends it again. Each message crosses that
window once per attempt, and the record is retried until it commits before the chat is released, so a
message is sent twice at most once per crash, never more. A timeout is the same window seen from the
network, without a crash: if the request reached Telegram but the answer did not reach us, the retry
duplicates it, and each further lost answer can add one more copy (at most ``max_attempts`` in all; the
Bot API has no idempotency key to prevent it). A duplicated card keeps its buttons, since only the last
copy's message id is recorded for the outcome edit; pressing them is re-checked like any press, and after
the decision answers "sudah diputuskan".
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Services
from handlers.messages import Button, Reply, load_replies
from models import store
from models.db import when_free
from models.tables import ChatWindow, Lease, OutboundMessage, Purpose
from scheduler.liveness import known_dead, process_name, verdict

log = logging.getLogger(__name__)

LEASE = "outbox:"  # + a channel: one process at a time delivers for each chat app (its limits are its own)
ALIVE = "alive:"  # + a process's name: its heartbeat, renewed with the outbox lease
FLOOD = "flood:"  # + a channel: until when its chat app asked the whole bot to wait (a 429)
# No direct reply takes this long (each call gives up after seconds): one still "direct" was lost
STALE_DIRECT = dt.timedelta(minutes=10)
LEASE_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8)  # well within a renewal's 2 s
SENT_KEEP = dt.timedelta(days=7)
# A window is taken as closed this long before it closes: the message must still find it open when the
# chat app gets it (after pacing, a retry, the network).
WINDOW_MARGIN = dt.timedelta(minutes=5)
PURGE_EVERY = 3600.0  # seconds


class RetryLater(Exception):
    """The message could not be sent now (429, 5xx, timeout, network); try again later."""

    def __init__(self, reason: str, *, retry_after: float | None = None, flood: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.flood = flood  # the chat app asks the whole bot to slow down (429)


class Undeliverable(Exception):
    """The message can never be sent (the bot is blocked, the chat does not exist); a short reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutsideWindow(Undeliverable):
    """The chat app refuses a free-form message outside the person's reply window (WhatsApp's 24 hours,
    error 131047): the message waits for them, behind a template that asks them to write."""


class Part(Protocol):
    """One call to the chat app of a turn's replies, as the channel plans them."""

    @property
    def keep(self) -> str | None:
        """The note to hand back with the id of the message this call makes (see ``Reply.keep``)."""

    @property
    def aside(self) -> bool:
        """A change to an earlier message (planned last): it may go at the same time as the messages,
        and twice without harm."""


class Courier(Protocol):
    """A channel's way of sending: a thin translation of a neutral reply into the chat app's API."""

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Send a new message; return the channel's id of it (to edit it later)."""

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        """Replace a message sent before (a card showing its outcome)."""

    def plan(self, replies: Sequence[Reply], pressed: str | None) -> Sequence[Part]:
        """A turn's replies as the calls that send them, in order (the same every time: a reply handed
        over after some of its calls resumes at the next one)."""

    async def perform(self, chat_id: str, part: Part) -> str | None:
        """Make one call of :meth:`plan`; the id of the message it made, if any."""


class WindowCourier(Courier, Protocol):
    """The courier of a channel with a reply window (WhatsApp): outside it, only templates may be sent."""

    async def send_template(self, chat_id: str, *, purpose: str, count: int) -> str | None:
        """Ask the person to write (a pre-approved template); the id of the message sent.

        ``purpose``: the first waiting message's (a :class:`Purpose` value); ``count``: how many messages
        of any purpose wait for that chat (replies aside), that one included."""


@dataclass(frozen=True, slots=True)
class Limits:
    # Telegram: ~30 overall. At most this many messages reach it in any one second (see Pacer).
    per_second: float = 30.0
    # For a call still unanswered: how much later than its start it may still arrive (see Pacer).
    jitter: float = 0.03
    chat_interval: float = 1.1  # seconds between two messages to one chat (Telegram: ~1 per second)
    max_in_flight: int = 64
    backoff_first: float = 1.0
    backoff_cap: float = 300.0
    max_attempts: int = 20  # with the cap, about an hour and a half of trying before giving up
    batch: int = 200
    idle_poll: float = 1.0  # how often to look for messages queued by other processes
    # A process killed on another host is taken over this long after its last heartbeat (ttl/3 apart);
    # on the same host at once (see scheduler.liveness).
    lease_ttl: float = 6.0

    @property
    def count(self) -> int:
        """Messages allowed in one second."""
        return max(1, int(self.per_second))

    @property
    def rate(self) -> float:
        """The even rate starts are spread at: ``count`` in one second plus ``jitter``."""
        return self.count / (1.0 + self.jitter)


def reply_of(message: OutboundMessage) -> Reply:
    rows = tuple(tuple(Button(label, data) for label, data in row) for row in message.buttons)
    return Reply(message.text, buttons=rows, photo=message.photo)


@dataclass(slots=True)
class Start:
    """A call the pacer let go: its start, and its end once its answer or error is back."""

    at: float
    ended: float | None = None


@dataclass
class Pacer:
    """When the next message may start: overall spacing, per-chat spacing, and 429 pauses.

    Telegram counts its ~30 per second when calls *arrive*, and a call arrives some time after it starts
    (the event loop, the network; under load, up to hundreds of ms), before its answer is back. So the
    pacer keeps the last ``count`` starts, and the next one waits until the oldest of them ended (its
    answer came back) a second ago: then that one arrived more than a second before the new one can, and
    no second at Telegram holds more than ``count`` arrivals, whatever the delays. A call still unanswered
    is taken to have arrived within ``jitter`` of its start: the only case left to a margin. The cost is
    the round trip: ``count`` per second plus a round trip (29/s at 20 ms).

    Within that, starts are spread evenly (``rate``). A start that is late (the event loop was busy when
    its turn came) is made up by starting the next ones sooner, never closer than ``min_gap``, and only as
    the limit above allows: on a busy machine every start is some milliseconds late, and without making
    them up the rate would fall by a fifth. A 429 pauses every start for its ``retry_after``.
    """

    limits: Limits
    channel: str = "telegram"
    clock: Callable[[], float] = time.monotonic
    catch_up: float = 0.5  # seconds behind its even schedule the pacer may be and still make them up
    next_start: float = 0.0
    paused_until: float = 0.0
    chat_free_at: dict[tuple[str, str], float] = field(default_factory=dict)
    starts: collections.deque[Start] = field(init=False)
    # Told of each 429 (the seconds to wait from now), to share the pause with other processes
    on_pause: Callable[[float], None] | None = None

    def __post_init__(self) -> None:
        self.starts = collections.deque(maxlen=self.limits.count)

    @property
    def min_gap(self) -> float:
        """The closest two starts may be: twice the even rate, when making up for a late one."""
        return 0.5 / self.limits.rate

    def chat_ready_at(self, chat: tuple[str, str]) -> float:
        return self.chat_free_at.get(chat, 0.0)

    def start_at(self) -> float:
        """The earliest time the next start keeps the overall limits (later, once an answer is back)."""
        at = max(self.next_start, self.paused_until)
        if self.starts:
            at = max(at, self.starts[-1].at + self.min_gap)
        if len(self.starts) == self.starts.maxlen:
            oldest = self.starts[0]
            arrived_by = oldest.ended if oldest.ended is not None else oldest.at + self.limits.jitter
            at = max(at, arrived_by + 1.0)
        return at

    def take(self, chat: tuple[str, str]) -> Start:
        """Count a start now (never before :meth:`start_at`); :meth:`end` it when its answer is back."""
        now = self.clock()
        # Further behind than ``catch_up``: the worker had nothing to send (or the loop stalled for long),
        # and the schedule starts afresh rather than making up for it.
        scheduled = self.next_start if now - self.next_start <= self.catch_up else now
        self.next_start = scheduled + 1.0 / self.limits.rate
        start = Start(now)
        self.starts.append(start)
        self.chat_free_at[chat] = now + self.limits.chat_interval
        if len(self.chat_free_at) > 10_000:  # forget chats whose spacing has long passed
            self.chat_free_at = {k: v for k, v in self.chat_free_at.items() if v > now}
        return start

    def end(self, start: Start) -> None:
        """The call's answer (or its error) is back: it reached Telegram before now, if at all."""
        start.ended = self.clock()

    def take_direct(self, chat: tuple[str, str]) -> Start:
        """Count a reply's call that starts now without waiting its turn (a person is waiting for it): the
        outbox's next start leaves room for it, and the chat's spacing starts from it."""
        now = self.clock()
        start = Start(now)
        self.starts.append(start)
        self.chat_free_at[chat] = max(self.chat_free_at.get(chat, 0.0), now + self.limits.chat_interval)
        return start

    def paused_for(self) -> float:
        """Seconds left of a 429's pause (0 when none holds)."""
        return max(0.0, self.paused_until - self.clock())

    def pause(self, seconds: float) -> None:
        """A 429 answered to any call (a reply or the outbox): every start waits ``seconds``."""
        now = self.clock()
        if now >= self.paused_until:
            log.warning("%s flood control: every send waits %.0f s", self.channel, seconds)
        if now + seconds <= self.paused_until:
            return  # within a pause already known (and shared)
        self.paused_until = now + seconds
        if self.on_pause is not None:
            self.on_pause(seconds)

    def pause_for(self, seconds: float) -> None:
        """A pause another process (or the last one) learnt of: honoured, not shared again."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def remember(self, deliveries: Sequence[tuple[tuple[str, str], float]]) -> None:
        """Deliveries made before this process started, ``(chat, seconds ago)`` newest first: the chat
        spacing and the last second's count go on from them rather than from zero."""
        now = self.clock()
        for chat, ago in deliveries:
            free = now - ago + self.limits.chat_interval
            if free > now:
                self.chat_free_at[chat] = max(self.chat_free_at.get(chat, 0.0), free)
        if not self.starts:
            recent = [now - ago for _, ago in deliveries if ago < 1.0][: self.limits.count]
            for at in reversed(recent):
                self.starts.append(Start(at, at))


class Outbox:
    """The delivery worker: :meth:`run` in the bot's process, :meth:`deliver_pending` in tests and demos."""

    def __init__(
        self,
        services: Services,
        channel: str,
        courier: Courier,
        *,
        limits: Limits | None = None,
        holder: str | None = None,
        pacer: Pacer | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        window: dt.timedelta | None = None,
        window_margin: dt.timedelta = WINDOW_MARGIN,
    ) -> None:
        self.services = services
        # The channel's reply window (WhatsApp: 24 hours), None when it has none (Telegram): outside it a
        # message waits for the person, behind one template asking them to write (see _action).
        self.window = window
        self.window_margin = window_margin
        self.templates: WindowCourier | None = None
        if window is not None:
            if not hasattr(courier, "send_template"):
                raise TypeError("a channel with a reply window needs a courier that sends templates")
            self.templates = cast(WindowCourier, courier)
        # Real time, not the services' clock: tests freeze that one for ages and dates, while retries
        # and the lease must see time pass.
        self.clock = clock
        self.channel = channel
        self.courier = courier
        self.lease = LEASE + channel
        self.limits = limits or Limits()
        # Shared with the channel's direct replies: one flood state and one count per bot
        self.pacer = pacer or Pacer(self.limits, channel=channel)
        self.pacer.on_pause = self._share_pause
        self.holder = holder or process_name()
        self._sharing: set[asyncio.Task[None]] = set()
        self._doorbell = asyncio.Event()
        self._in_flight: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._holding = False
        self._lease_renew_at = dt.datetime.min.replace(tzinfo=dt.UTC)
        services.doorbell.listen(self.wake)
        self.sent = 0
        self.failed = 0
        self.retried = 0
        self.templates_sent = 0
        self.held = 0  # messages set waiting for their person's window

    def wake(self) -> None:
        """New messages were committed: look now rather than at the next poll."""
        self._doorbell.set()

    # -------------------------------------------------------------------------------------------- running

    async def run(self) -> None:
        """Deliver for as long as the process runs, whenever this process holds the lease."""
        purged_at = time.monotonic()
        heartbeat = asyncio.create_task(self._beat())
        try:
            while True:
                if await self._keep_lease():
                    await self._round()
                    if time.monotonic() - purged_at > PURGE_EVERY:
                        purged_at = time.monotonic()
                        await self._purge_quietly()
                else:
                    self._doorbell.clear()  # rings are for the holder; look at the lease again later
                    await self._wait(self.limits.lease_ttl / 3)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await self._settle()
            await self._release()

    async def _beat(self) -> None:
        """Renew the heartbeat and the lease every ttl/3 on their own, even while every send hangs."""
        while True:
            await asyncio.sleep(self.limits.lease_ttl / 3)
            await self._keep_lease()

    async def deliver_pending(self, *, timeout: float = 30.0) -> int:
        """Deliver everything due now and return when nothing is left in flight (tests, the demo)."""
        deadline = time.monotonic() + timeout
        before = self.sent + self.failed
        while time.monotonic() < deadline:
            if not await self._keep_lease():
                break
            if await self._round(idle_wait=False):
                continue
            if not self._in_flight:
                break
            # A chat's next message becomes due when the one in flight is recorded: look again then.
            await self._settle()
        await self._settle()
        return self.sent + self.failed - before

    async def prepare(self) -> None:
        """Before this process answers anyone: its heartbeat, the lease if free (a dead process's replies
        taken over), a 429 pause still running and the last deliveries' spacing."""
        await self._keep_lease()

    async def _keep_lease(self) -> bool:
        """Every ttl/3: this process's heartbeat, the lease taken or renewed, a 429 pause learnt from
        other processes; as the holder, the replies of dead processes taken over."""
        now = self.clock()
        if self._holding and now < self._lease_renew_at:
            return True
        ttl = dt.timedelta(seconds=self.limits.lease_ttl)
        try:
            # Through a busy SQLite (another process writing): a heartbeat must not lapse for a lock.
            held, taken_over, flood, deliveries = await when_free(
                lambda: self._lease_round(now, ttl), LEASE_PAUSES
            )
        except Exception as error:
            log.error("outbox lease check failed: %s", type(error).__name__)
            held, taken_over = False, 0
        else:
            if flood is not None and flood.expires_at > now:
                self.pacer.pause_for((flood.expires_at - now).total_seconds())
            if deliveries:
                self.pacer.remember([((c, chat), (now - at).total_seconds()) for c, chat, at in deliveries])
        if held and not self._holding:
            log.info("outbox: this process delivers (%s)", self.holder)
        if taken_over:
            log.info("outbox: %d reply(ies) of a stopped process taken over", taken_over)
        self._holding = held
        self._lease_renew_at = now + ttl / 3
        return held

    async def _lease_round(
        self, now: dt.datetime, ttl: dt.timedelta
    ) -> tuple[bool, int, Lease | None, list[tuple[str, str, dt.datetime]]]:
        async with self.services.sessions() as session:
            found = await self._lease_transaction(session, now, ttl)
            await session.commit()
            return found

    async def _lease_transaction(
        self, session: AsyncSession, now: dt.datetime, ttl: dt.timedelta
    ) -> tuple[bool, int, Lease | None, list[tuple[str, str, dt.datetime]]]:
        await store.take_lease(session, name=ALIVE + self.holder, holder=self.holder, now=now, ttl=ttl)
        lease = await store.lease_of(session, name=self.lease)
        dead = lease.holder if lease is not None and known_dead(lease.holder) else None
        held = await store.take_lease(
            session, name=self.lease, holder=self.holder, now=now, ttl=ttl, dead=dead
        )
        taken_over = 0
        if held:
            taken_over = await store.take_over_replies(
                session,
                holders=await self._dead(session),
                now=now,
                # A reply of this very process still "being sent" after this long was lost on the way
                # (an error between its commit and its send): the outbox sends it.
                stale_before=now - STALE_DIRECT,
                own=self.holder,
            )
        flood = await store.lease_of(session, name=FLOOD + self.pacer.channel)
        deliveries = []
        if held and not self._holding:
            deliveries = await store.recent_deliveries(
                session,
                channels=[self.channel],
                since=now - dt.timedelta(seconds=max(self.limits.chat_interval, 1.0)),
                limit=max(self.limits.batch, self.limits.count),
            )
        return held, taken_over, flood, deliveries

    async def _dead(self, session: AsyncSession) -> set[str]:
        """The processes with replies in flight that are gone: known dead on this host, or (elsewhere)
        without a heartbeat. A process of this host that still runs is alive whatever its heartbeat."""
        holders = await store.direct_holders(session)
        if not holders:
            return set()
        alive = await store.live_holders(session, prefix=ALIVE, now=self.clock())
        return {h for h in holders if (seen := verdict(h)) is False or (seen is None and h not in alive)}

    def _share_pause(self, seconds: float) -> None:
        """Write a 429's pause where the other processes (and the next one, after a crash) read it."""
        task = asyncio.get_running_loop().create_task(self._save_pause(seconds))
        self._sharing.add(task)
        task.add_done_callback(self._sharing.discard)

    async def _save_pause(self, seconds: float) -> None:
        until = self.clock() + dt.timedelta(seconds=seconds)
        try:
            async with self.services.sessions() as session:
                name = FLOOD + self.pacer.channel
                await store.extend_lease(session, name=name, holder=self.holder, until=until)
                await session.commit()
        except Exception as error:
            log.warning("could not share a 429 pause: %s", type(error).__name__)

    async def _release(self) -> None:
        try:
            async with self.services.sessions() as session:
                if self._holding:
                    await store.release_lease(session, name=self.lease, holder=self.holder)
                await store.release_lease(session, name=ALIVE + self.holder, holder=self.holder)
                await session.commit()
        except Exception as error:
            log.warning("outbox lease release failed: %s", type(error).__name__)
        self._holding = False

    async def _settle(self) -> None:
        if self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def _wait(self, seconds: float) -> None:
        """Sleep until the doorbell rings or ``seconds`` pass.

        The bell is cleared before each read of the outbox (:meth:`_round`), not here, so a ring during
        the read is not lost. ``asyncio.timeout``, not ``wait_for``: in Python 3.11, ``wait_for`` swallows
        a cancellation that arrives as the bell rings, and the bot's shutdown would wait forever.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.0)):
                await self._doorbell.wait()

    # --------------------------------------------------------------------------------------- dispatching

    async def _round(self, *, idle_wait: bool = True) -> int:
        """Start the due head-of-chat messages, paced; returns how many started (1 after waiting for a
        chat's spacing, which makes a message due)."""
        busy = set(self._in_flight)  # chats in flight now: their head read below may already be sent
        self._doorbell.clear()
        try:
            async with self.services.sessions() as session:
                heads = await self._heads(session)
                later = None if heads else await store.next_due_at(session, channels=[self.channel])
        except Exception as error:
            log.error("outbox read failed: %s", type(error).__name__)
            self.services.events.database_error("outbox")
            await self._wait(self.limits.idle_poll)
            return 0
        started = 0
        skipped_busy = False  # a chat in flight: its next message may be due once that one is recorded
        waiting_chat: float | None = None
        for message, action in heads:
            chat = (message.channel, message.chat_id)
            if chat in busy or chat in self._in_flight:
                skipped_busy = True
                continue
            if action == "hold":  # nothing sent: neither paced nor spaced
                self._in_flight[chat] = asyncio.create_task(self._deliver(message, chat, None, action))
                started += 1
                continue
            ready = self.pacer.chat_ready_at(chat)
            if ready > self.pacer.clock():
                waiting_chat = ready if waiting_chat is None else min(waiting_chat, ready)
                continue
            while len(self._in_flight) >= self.limits.max_in_flight:
                await asyncio.wait(set(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED)
            if not await self._paced():
                break  # the lease went to another process meanwhile: it sends from now on
            start = self.pacer.take(chat)
            self._in_flight[chat] = asyncio.create_task(self._deliver(message, chat, start, action))
            started += 1
        if started:
            return started
        if not idle_wait and waiting_chat is None and not self._in_flight and not skipped_busy:
            return 0
        pause = self.limits.idle_poll
        if waiting_chat is not None:
            pause = min(pause, waiting_chat - self.pacer.clock())
        if later is not None and later > self.clock():
            # A retry coming due. (An earlier time is a message queued behind a retrying one, not due
            # before it: sleeping 0 s for it would make the loop spin until the retry.)
            pause = min(pause, (later - self.clock()).total_seconds())
        if self._in_flight:
            pause = min(pause, 0.05) if not idle_wait else pause
        await self._wait(max(pause, 0.001))
        # Nothing started; but a chat waiting out its spacing has a message due now.
        return int(waiting_chat is not None or skipped_busy)

    async def _paced(self) -> bool:
        """Wait for the next start's turn (pacing, a 429 pause) while renewing the lease; False if lost.

        A round can outlast the lease (200 starts at 29/s, a 429 pause of a minute): without renewing it
        meanwhile, another process would take the lease and send the same heads too.
        """
        while True:
            while (delay := self.pacer.start_at() - self.pacer.clock()) > 0:
                await asyncio.sleep(min(delay, self.limits.lease_ttl / 3))
                if not await self._keep_lease():
                    return False
            if not await self._keep_lease():
                return False
            if self.pacer.start_at() <= self.pacer.clock():  # no pause learnt while renewing
                return True

    async def _heads(self, session: AsyncSession) -> list[tuple[OutboundMessage, str]]:
        """The due heads of the channel's chats, each with what to do with it (see :meth:`_action`)."""
        now = self.clock()
        limit = self.limits.batch
        if self.window is None:  # no window: every head is sent, and no more is asked of the database
            heads = await store.due_messages(session, now=now, channels=[self.channel], limit=limit)
            return [(message, "send") for message in heads]
        found = await store.due_in_window(session, now=now, channels=[self.channel], limit=limit)
        return [(message, self._action(message, window, now)) for message, window in found]

    def _open_since(self, now: dt.datetime) -> dt.datetime:
        """The earliest a person may have written for their window to be taken as open now."""
        assert self.window is not None
        return now - (self.window - self.window_margin)

    def _action(self, message: OutboundMessage, window: store.Window, now: dt.datetime) -> str:
        """ "send" it; "template": ask the person to write first, then hold it; "hold" it without one.

        A turn's reply is sent: the person just wrote. Anything else needs the window open, and nothing
        of the chat waiting before it. Outside the window one template asks the person to write, unless
        one was sent since they last wrote (and within a window's time: a later message asks again).
        """
        assert self.window is not None
        if message.reply:
            return "send"
        last = window.last_inbound_at
        if last is not None and last >= self._open_since(now):
            # Open, yet earlier messages wait (the person wrote as they were held): holding finds the
            # window open and releases them all, to be sent in order.
            return "hold" if window.behind_waiting else "send"
        asked = window.template_at
        if asked is None or (last is not None and asked < last) or asked < now - self.window:
            return "template"
        return "hold"

    async def _deliver(
        self, message: OutboundMessage, chat: tuple[str, str], start: Start | None, action: str = "send"
    ) -> None:
        """Send one message (or a template, or nothing: ``action``) and record the outcome; the chat stays
        reserved until the record commits."""
        try:
            try:
                if action == "hold":
                    outcome: tuple[str, object] = ("hold", None)
                elif action == "template":
                    outcome = await self._attempt_template(message)
                else:
                    outcome = await self._attempt(message)
            finally:
                if start is not None:
                    self.pacer.end(start)
            await self._record(message, outcome, template=action == "template")
        finally:
            del self._in_flight[chat]
            self._doorbell.set()

    async def _attempt(self, message: OutboundMessage) -> tuple[str, object]:
        courier = self.courier
        if self.pacer.paused_for() > 0:
            return "wait", None  # a 429 to a reply while this one was getting ready: not now, no attempt
        try:
            if message.reply:
                return await self._attempt_reply(message, courier)
            if message.edit:
                ref = await self._card_ref(message)
                if ref is None:  # the card itself never arrived: nothing to write the outcome on
                    return "failed", "card_not_delivered"
                await courier.edit(message.chat_id, ref, reply_of(message))
                return "sent", None
            return "sent", await courier.send(message.chat_id, reply_of(message))
        except OutsideWindow as error:
            if self.window is None or message.reply:
                return "failed", error.reason
            return "outside", error.reason  # our window was wrong: a template first, the message waits
        except Undeliverable as error:
            return "failed", error.reason
        except RetryLater as error:
            if error.flood and error.retry_after:
                self.pacer.pause(error.retry_after)
            return "retry", error
        except Exception as error:  # a bug or an unknown failure: retried, never lost; logged by type
            log.error("outbox send failed: %s", type(error).__name__)
            return "retry", RetryLater(type(error).__name__)

    async def _attempt_reply(self, message: OutboundMessage, courier: Courier) -> tuple[str, object]:
        """The next call of a turn's reply the channel could not finish (or a dead process's)."""
        assert message.id is not None
        async with self.services.sessions() as session:
            gone = await store.superseded(session, message=message, at=self.clock())
            await session.commit()
        if gone:
            return "skip", None  # the person has moved on past it (or another process sent it)
        try:
            replies, pressed = load_replies(self.services.vault.decrypt(message.payload or ""))
        except Exception as error:  # another secret, a damaged row: it can never be sent
            log.error("outbox reply %s unreadable: %s", message.id, type(error).__name__)
            return "failed", "unreadable"
        parts = courier.plan(replies, pressed)
        if message.progress >= len(parts):
            return "sent", None
        ref = await courier.perform(message.chat_id, parts[message.progress])
        return ("sent" if message.progress + 1 >= len(parts) else "part"), ref

    async def _attempt_template(self, message: OutboundMessage) -> tuple[str, object]:
        """Ask the person, outside their window, to write (the messages wait for it): one template."""
        assert self.templates is not None
        if self.pacer.paused_for() > 0:
            return "wait", None
        try:
            async with self.services.sessions() as session:
                window = await session.get(
                    ChatWindow, (message.channel, message.chat_id), populate_existing=True
                )
                last = window.last_inbound_at if window is not None else None
                if last is not None and last >= self._open_since(self.clock()):
                    return "hold", None  # they wrote since the round looked: holding releases instead
                count = await store.waiting_count(session, channel=message.channel, chat_id=message.chat_id)
            purpose = message.purpose or Purpose.NOTICE.value
            await self.templates.send_template(message.chat_id, purpose=purpose, count=count)
            return "template", None
        except Undeliverable as error:  # not a user of the chat app, or the number is gone
            return "unreachable", error.reason
        except RetryLater as error:
            if error.flood and error.retry_after:
                self.pacer.pause(error.retry_after)
            return "retry", error
        except Exception as error:
            log.error("outbox template failed: %s", type(error).__name__)
            return "retry", RetryLater(type(error).__name__)

    async def _card_ref(self, message: OutboundMessage) -> str | None:
        assert message.card_id is not None
        async with self.services.sessions() as session:
            return await store.card_message_ref(session, card_id=message.card_id)

    def _backoff(self, attempts: int, error: RetryLater) -> float:
        if error.retry_after is not None:
            return error.retry_after
        return float(min(self.limits.backoff_cap, self.limits.backoff_first * 2**attempts))

    async def _record(
        self, message: OutboundMessage, outcome: tuple[str, object], *, template: bool = False
    ) -> None:
        kind, detail = outcome
        if kind == "retry" and template and message.attempts + 1 >= self.limits.max_attempts:
            kind, detail = "unreachable", "gave_up"  # the template never went: nothing can reach them
        pause = 0.05
        held = 0
        chat = {"channel": message.channel, "chat_id": message.chat_id}
        while True:  # until it commits: releasing the chat unrecorded would send the message again
            now = self.clock()
            try:
                async with self.services.sessions() as session:
                    if kind in ("skip", "wait"):
                        break
                    if kind in ("hold", "template"):
                        # A template sent and not recorded would be sent again: at most once per crash,
                        # as a message (see the module's docstring).
                        held = await store.hold_for_window(
                            session,
                            **chat,
                            open_since=self._open_since(now),
                            template_at=now if kind == "template" else None,
                            now=now,
                        )
                    elif kind == "unreachable":
                        reason = detail if isinstance(detail, str) else "undeliverable"
                        await store.fail_waiting(session, **chat, at=now, error=reason)
                    elif kind == "outside":
                        # Pending again, due now: the next look finds the window closed and asks first.
                        await store.window_refused(session, **chat, before=now)
                        await store.mark_retry(session, message=message, at=now, error="outside_window")
                    elif kind == "part":
                        ref = detail if isinstance(detail, str) else None
                        await store.mark_progress(
                            session, message=message, progress=message.progress + 1, message_ref=ref
                        )
                    elif kind == "sent":
                        ref = detail if isinstance(detail, str) else None
                        await store.mark_sent(session, message=message, message_ref=ref, at=now)
                    elif kind == "failed" or message.attempts + 1 >= self.limits.max_attempts:
                        reason = detail if isinstance(detail, str) else "gave_up"
                        await store.mark_failed(session, message=message, at=now, error=reason)
                        kind = "failed"
                    else:
                        assert isinstance(detail, RetryLater)
                        later = now + dt.timedelta(seconds=self._backoff(message.attempts, detail))
                        await store.mark_retry(session, message=message, at=later, error=detail.reason)
                    await session.commit()
                break
            except Exception as error:
                log.error("outbox record failed, retrying: %s", type(error).__name__)
                self.services.events.database_error("outbox")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
        if kind not in ("skip", "wait", "hold"):  # an attempt was made: counted for the metrics
            self.services.events.sent(self.channel, _failure(kind, detail))
        if kind == "sent":
            self.sent += 1
        elif kind in ("hold", "template"):
            self.held += held
            self.templates_sent += kind == "template"
        elif kind == "unreachable":
            self.failed += 1
            log.warning("outbox chat unreachable outside its window: %s", detail)
        elif kind == "outside":
            log.warning("outbox message %s refused outside the reply window", message.id)
        elif kind == "failed":
            self.failed += 1
            log.warning("outbox message %s undeliverable: %s", message.id, detail)
        elif kind == "retry":
            self.retried += 1

    async def _purge_quietly(self) -> None:
        try:
            await self.purge()
        except Exception as error:
            log.warning("outbox purge failed: %s", type(error).__name__)

    async def purge(self) -> None:
        """Forget messages delivered more than a week ago."""
        async with self.services.sessions() as session:
            await store.purge_outbound(session, sent_before=self.clock() - SENT_KEEP)
            await session.commit()


def _failure(kind: str, detail: object) -> Exception | None:
    """An attempt's outcome as :meth:`handlers.context.Events.sent` takes it (None: it went)."""
    if kind in ("sent", "part", "template"):
        return None
    if kind == "retry" and isinstance(detail, RetryLater):  # not "failed" after the last attempt
        return detail
    if kind == "outside":  # sent again behind a template
        return RetryLater("outside_window")
    return Undeliverable(detail if isinstance(detail, str) else kind)
