"""The process's Prometheus metrics, served by ``GET /metrics`` (``bot.server``).

Counters and the handling-time histogram are fed by ``handlers.context.Events`` (the engine, the direct
replies, the outbox, the scheduled messages); the outbox gauges are read from the database at scrape time,
in one query, so every process behind a proxy reports the same queue. A registry per process (per
runtime), never Prometheus's global one: tests build several side by side.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select

from bot.health import RATE_LIMITED
from handlers.context import Services
from models.tables import Delivery, OutboundMessage
from scheduler.outbox import RetryLater

log = logging.getLogger(__name__)

UPDATE_OUTCOMES = ("answered", "duplicate", "ignored", "failed")
SEND_RESULTS = ("ok", "retried", "rate_limited", "failed")
# Seconds from a turn's start to its replies sent: a reply within a second is the goal, 30 s is broken
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
DEFAULT_ALLOW = ("127.0.0.1", "::1")  # loopback only: the reverse proxy does not forward /metrics
QUEUED = (Delivery.PENDING, Delivery.WAITING)  # not sent yet, and not a direct reply in flight


class Metrics:
    """This process's metrics; an ``EventSink`` for ``Services.events``."""

    def __init__(self, services: Services, channels: Iterable[str] = ()) -> None:
        self.services = services
        self.channels = list(channels)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter(
            "lanjutkan_updates", "Updates handled, by outcome", ["channel", "outcome"], registry=r
        )
        self.update_seconds = Histogram(
            "lanjutkan_update_seconds",
            "Seconds from an update's turn starting to its replies sent",
            ["channel"],
            buckets=BUCKETS,
            registry=r,
        )
        self.sends = Counter(
            "lanjutkan_sends",
            "Send attempts (direct replies and the outbox)",
            ["channel", "result"],
            registry=r,
        )
        self.scheduled_messages = Counter(
            "lanjutkan_scheduled_messages", "Scheduled messages queued", ["kind"], registry=r
        )
        self.database_errors = Counter(
            "lanjutkan_database_errors", "Database calls that failed", ["where"], registry=r
        )
        self.queue = Gauge("lanjutkan_outbox_queue", "Outbox messages not sent yet", ["channel"], registry=r)
        self.oldest = Gauge(
            "lanjutkan_outbox_oldest_seconds",
            "Age of the oldest outbox message not sent",
            ["channel"],
            registry=r,
        )
        for channel in self.channels:  # present from the start: a rate() needs the zero
            for outcome in UPDATE_OUTCOMES:
                self.updates.labels(channel, outcome)
            for result in SEND_RESULTS:
                self.sends.labels(channel, result)
            self.queue.labels(channel).set(0)
            self.oldest.labels(channel).set(0)

    # ---------------------------------------------------------------------------------- events

    def update(self, channel: str, outcome: str) -> None:
        self.updates.labels(channel, outcome).inc()

    def handled(self, channel: str, seconds: float) -> None:
        self.update_seconds.labels(channel).observe(seconds)

    def sent(self, channel: str, failure: Exception | None) -> None:
        self.sends.labels(channel, send_result(failure)).inc()

    def scheduled(self, kind: str, count: int) -> None:
        self.scheduled_messages.labels(kind).inc(count)

    def database_error(self, where: str) -> None:
        self.database_errors.labels(where).inc()

    # ---------------------------------------------------------------------------------- scrape

    async def refresh(self) -> None:
        """The outbox gauges from the database: one grouped query."""
        table = OutboundMessage.__table__  # type: ignore[attr-defined]
        query = (
            select(table.c.channel, func.count(), func.min(table.c.created_at))
            .where(table.c.status.in_(QUEUED))
            .group_by(table.c.channel)
        )
        now = dt.datetime.now(dt.UTC)
        try:
            async with self.services.sessions() as session:
                rows = (await session.exec(query)).all()  # type: ignore[call-overload]
        except Exception as error:  # the counters are still worth serving
            log.warning("metrics: outbox not read: %s", type(error).__name__)
            self.database_error("metrics")
            return
        seen = set()
        for channel, count, oldest in rows:
            seen.add(channel)
            self.queue.labels(channel).set(count)
            self.oldest.labels(channel).set(_age(now, oldest))
        for channel in set(self.channels) - seen:
            self.queue.labels(channel).set(0)
            self.oldest.labels(channel).set(0)


def send_result(failure: Exception | None) -> str:
    """ok, retried, rate_limited (429, 130429, 131056) or failed."""
    if failure is None:
        return "ok"
    if isinstance(failure, RetryLater):
        return "rate_limited" if failure.reason in RATE_LIMITED else "retried"
    return "failed"


def _age(now: dt.datetime, at: dt.datetime | None) -> float:
    if at is None:
        return 0.0
    if at.tzinfo is None:  # SQLite hands back naive UTC
        at = at.replace(tzinfo=dt.UTC)
    return max((now - at).total_seconds(), 0.0)


class Allowed:
    """The client addresses that may read ``/metrics`` (``LANJUTKAN_METRICS_ALLOW``)."""

    def __init__(self, entries: Sequence[str] = DEFAULT_ALLOW) -> None:
        self.networks = [ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()]

    def __contains__(self, host: object) -> bool:
        if not isinstance(host, str):
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
        return any(address.version == n.version and address in n for n in self.networks)
