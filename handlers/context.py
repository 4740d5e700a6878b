"""What a handler needs: the services of the deployment and the turn being handled."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.messages import Inbound, Reply
from models.crypto import NikVault
from models.db import SessionMaker
from models.regions import Kabupaten
from models.rules.candidate import AgeLimits
from models.tables import ChatAccount, Officer


def first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


class Doorbell:
    """Rung after a commit that queued messages, so the outbox worker sends them at once."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def listen(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def ring(self) -> None:
        for listener in self._listeners:
            listener()


class EventSink(Protocol):
    """Where :class:`Events` go (``bot.metrics.Metrics``)."""

    def update(self, channel: str, outcome: str) -> None: ...
    def handled(self, channel: str, seconds: float) -> None: ...
    def sent(self, channel: str, failure: Exception | None) -> None: ...
    def scheduled(self, kind: str, count: int) -> None: ...
    def database_error(self, where: str) -> None: ...


class Events:
    """What the process counts for its metrics: nothing until the runtime attaches a sink, so the
    handlers and the scheduler report without knowing Prometheus (and tests need none)."""

    def __init__(self) -> None:
        self._sink: EventSink | None = None

    def attach(self, sink: EventSink | None) -> None:
        """Send events to ``sink`` from now on (None: drop them); one sink per process."""
        self._sink = sink

    def update(self, channel: str, outcome: str) -> None:
        """An update done: answered, duplicate (handled before), ignored, failed."""
        if self._sink is not None:
            self._sink.update(channel, outcome)

    def handled(self, channel: str, seconds: float) -> None:
        """An update's turn, from its start to its replies sent."""
        if self._sink is not None:
            self._sink.handled(channel, seconds)

    def sent(self, channel: str, failure: Exception | None) -> None:
        """One send attempt: None when it went, else the RetryLater or Undeliverable that stopped it."""
        if self._sink is not None:
            self._sink.sent(channel, failure)

    def scheduled(self, kind: str, count: int) -> None:
        """Scheduled messages queued (summary, reminder)."""
        if self._sink is not None and count:
            self._sink.scheduled(kind, count)

    def database_error(self, where: str) -> None:
        """A database call failed (where: a fixed name such as "outbox", "webhook")."""
        if self._sink is not None:
            self._sink.database_error(where)


class SentReply(NamedTuple):
    """A reply sent directly: when, and the (note, message id) pairs of its messages sent with ``keep``
    (JSON, see ``Reply.keep``)."""

    reply_id: int
    at: dt.datetime
    kept: str | None = None


class SentReplies:
    """Replies a channel sent directly, waiting to be recorded as sent.

    The next turn's transaction records them with its own change, so under load they cost no transaction
    of their own; in a quiet moment ``scheduler.outbox.Receipts`` writes them after a short while.
    """

    def __init__(self) -> None:
        self._waiting: list[SentReply] = []
        self._listeners: list[Callable[[], None]] = []

    def listen(self, listener: Callable[[], None]) -> None:
        """Be told when replies wait again (a turn that took them did not commit)."""
        self._listeners.append(listener)

    def add(self, reply_id: int, at: dt.datetime, kept: str | None = None) -> None:
        self._waiting.append(SentReply(reply_id, at, kept))

    def kept_of(self, reply_id: int) -> str | None:
        """A waiting reply's kept message ids (JSON), or None if it is not waiting here."""
        return next((sent.kept or "[]" for sent in self._waiting if sent.reply_id == reply_id), None)

    def take(self) -> list[SentReply]:
        """All waiting, for a transaction that records them (:meth:`put_back` if it does not commit)."""
        taken, self._waiting = self._waiting, []
        return taken

    def put_back(self, taken: list[SentReply]) -> None:
        if not taken:
            return
        self._waiting[:0] = taken
        for listener in self._listeners:
            listener()

    def __len__(self) -> int:
        return len(self._waiting)


class CourtesyLimit:
    """When each key last got an answer, to answer it at most once per interval.

    In this process's memory only, bounded to ``capacity`` keys (the oldest forgotten first): a courtesy
    that keeps strangers from spending the bot's send budget, not a security boundary. A restart, a second
    process or more than ``capacity`` keys in one interval just answer again.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._answered: OrderedDict[Hashable, dt.datetime] = OrderedDict()  # oldest answer first

    def allows(self, key: Hashable, now: dt.datetime, interval: dt.timedelta) -> bool:
        """Whether ``key`` may be answered now (no answer counted within ``interval`` before)."""
        last = self._answered.get(key)
        return last is None or not dt.timedelta(0) <= now - last < interval

    def count(self, key: Hashable, now: dt.datetime, interval: dt.timedelta) -> None:
        """Remember that ``key`` was answered at ``now``; forget what expired, and the oldest beyond
        capacity."""
        answered = self._answered
        answered[key] = now
        answered.move_to_end(key)
        while answered and (len(answered) > self.capacity or now - next(iter(answered.values())) >= interval):
            answered.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Services:
    """The deployment: database, NIK vault, regions and program rules. Built once by ``bot``."""

    sessions: SessionMaker
    vault: NikVault
    kabupaten: Kabupaten
    timezone: ZoneInfo
    ages: AgeLimits = field(default_factory=AgeLimits)
    coverage_start: dt.date | None = None  # None: the first day of next month
    admin_contact: str = "Diskopnaker"
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    new_participant_quota: int = 320  # per year, until the program figures are set (issue 5)
    # Registry results shown to one operator per day at intake: NIK checks, name comparisons
    registry_lookups_per_day: int = 50
    name_checks_per_day: int = 50
    doorbell: Doorbell = field(default_factory=Doorbell)
    sent_replies: SentReplies = field(default_factory=SentReplies)
    events: Events = field(default_factory=Events)  # counted for the metrics (bot.metrics)
    # An account no officer is bound to gets each kind of answer at most once per interval (onboarding).
    unbound_reply_interval: dt.timedelta = dt.timedelta(minutes=5)
    unbound_replies: CourtesyLimit = field(default_factory=CourtesyLimit)
    # The channel an active officer bound on none is reached on, by their roster phone ("whatsapp" when
    # WhatsApp is configured: a template asks them to write); None: they are not written to until bound.
    reach_unbound: str | None = None

    @property
    def database_url(self) -> str:
        return str(self.sessions.kw["bind"].url.render_as_string(hide_password=False))

    async def close(self) -> None:
        """Close the database connections."""
        await self.sessions.kw["bind"].dispose()

    def today(self) -> dt.date:
        """Today in the kabupaten's timezone."""
        return self.clock().astimezone(self.timezone).date()

    def day_start(self) -> dt.datetime:
        """Midnight of today in the kabupaten's timezone, in UTC: where a daily limit restarts."""
        return dt.datetime.combine(self.today(), dt.time(), tzinfo=self.timezone).astimezone(dt.UTC)

    def effective_coverage_start(self) -> dt.date:
        return self.coverage_start or first_of_next_month(self.today())

    def local_time(self, moment: dt.datetime) -> str:
        local = moment.astimezone(self.timezone)
        return local.strftime("%d-%m-%Y %H:%M")


@dataclass(slots=True)
class Turn:
    """One inbound message being handled: its transaction, who sent it and what we answer."""

    services: Services
    session: AsyncSession
    inbound: Inbound
    account: ChatAccount | None
    officer: Officer | None
    replies: list[Reply] = field(default_factory=list)
    queued: int = 0  # messages put in the outbox by this turn
    held: Sequence[object] = ()  # rows loaded up front, kept alive for session.get
    # Run once the turn's transaction committed: a turn rolled back (a busy database) sent nothing.
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # Given the id of the turn's recorded reply, in its transaction (a channel that sends it keeps ids).
    recorded: list[Callable[[int], None]] = field(default_factory=list)

    def say(self, reply: Reply | str) -> None:
        self.replies.append(reply if isinstance(reply, Reply) else Reply(reply))
