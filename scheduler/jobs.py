"""The scheduled messages: the weekly summary and the daily reminders, each sent once, through the outbox.

APScheduler 3 (``AsyncIOScheduler``, an in-memory job store) fires two cron jobs in the kabupaten's
timezone: the summary (Monday 08:00 by default) and the reminders (daily 09:00). The scheduler only says
*when*; what makes a message go out exactly once lives in the database:

- every run works out the occurrence it belongs to (the latest scheduled time, by the same cron trigger),
  so the job at 08:00, a catch-up at start-up and a second process all name the same period;
- each recipient's message is queued in one transaction with a ``dispatch`` row keyed by (kind, period,
  recipient); the key is inserted with ON CONFLICT DO NOTHING, so whoever comes second queues nothing;
- at start-up the latest occurrence of each job runs if it is within the catch-up window (3 days by
  default), else it is skipped with a log line: a summary five days late is noise. A run that failed
  (the database away at 08:00) is retried the same way every 15 minutes;
- a reminder's key is the day it is sent: yesterday's, caught up this morning, and today's 09:00 run are
  one reminder.

A persistent APScheduler job store is not used: it would make two processes run each job twice (measured),
and the dispatch keys make its misfire bookkeeping unnecessary. ``misfire_grace_time`` is still set,
so a job that starts late because the event loop was busy runs rather than being dropped after 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from handlers import period, ringkasan, verifikasi
from handlers.context import Services
from handlers.messages import Reply
from models import reports, store
from models.db import is_busy
from models.rules.status import Role
from models.tables import Purpose

log = logging.getLogger(__name__)

SUMMARY = "ringkasan"
REMINDER = "pengingat"
BUSY_ATTEMPTS = 60  # about 25 s of waiting for SQLite's write lock
MISFIRE_GRACE = 3600  # seconds
RETRY_EVERY = 15 * 60  # seconds between retries of a failed run


@dataclass(frozen=True, slots=True)
class Timetable:
    """When the scheduled messages go out and the thresholds of the reminders (settings)."""

    summary_day: str = "mon"
    summary_at: dt.time = dt.time(8, 0)
    reminder_at: dt.time = dt.time(9, 0)
    remind_after_days: int = 3  # a camat (and the dinas) is reminded of proposals waiting longer
    escalate_after_days: int = 7  # the dinas hears of proposals waiting at a camat longer
    fix_after_days: int = 7  # an officer is reminded of returned proposals left uncorrected longer
    catch_up: dt.timedelta = dt.timedelta(days=3)


class Schedule:
    """The two cron jobs of one bot process, and the once-only sending they share with every other one."""

    def __init__(self, services: Services, timetable: Timetable | None = None) -> None:
        self.services = services
        self.timetable = timetable or Timetable()
        zone = services.timezone
        t = self.timetable
        self.triggers = {
            SUMMARY: CronTrigger(
                day_of_week=t.summary_day, hour=t.summary_at.hour, minute=t.summary_at.minute, timezone=zone
            ),
            REMINDER: CronTrigger(hour=t.reminder_at.hour, minute=t.reminder_at.minute, timezone=zone),
        }
        self.scheduler: AsyncIOScheduler | None = None
        self._catching_up: asyncio.Task[None] | None = None
        self._failed: set[str] = set()  # jobs to run again (retry_failed)

    def start(self) -> None:
        """Add the jobs, start the scheduler (in the running event loop), catch up in the background."""
        scheduler = AsyncIOScheduler(timezone=self.services.timezone)
        for kind, trigger in self.triggers.items():
            scheduler.add_job(
                self.run,
                trigger,
                args=[kind],
                id=kind,
                name=kind,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                # A run started late because the loop was busy still runs (APScheduler 3 drops it after 1 s).
                misfire_grace_time=MISFIRE_GRACE,
            )
        scheduler.add_job(
            self.retry_failed, "interval", seconds=RETRY_EVERY, id="retry", replace_existing=True
        )
        scheduler.start()
        self.scheduler = scheduler
        self._catching_up = asyncio.create_task(self.catch_up())

    async def stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._catching_up is not None:
            self._catching_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._catching_up

    def latest(self, kind: str, now: dt.datetime) -> dt.datetime | None:
        """The last scheduled time at or before ``now`` (within the catch-up window and a week), or None."""
        trigger = self.triggers[kind]
        fire = trigger.get_next_fire_time(None, now - self.timetable.catch_up - dt.timedelta(days=8))
        last = None
        while fire is not None and fire <= now:
            last = fire
            fire = trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
        return last

    async def catch_up(self) -> None:
        """Run each job's latest occurrence if it is recent enough: the bot may have been down at the time."""
        for kind in self.triggers:
            await self.run(kind, catching_up=True)

    async def retry_failed(self) -> None:
        """Run again, as a catch-up, the jobs whose last run failed (the database was away at 08:00, one
        recipient's messages could not be queued): the dispatch keys skip whoever already has theirs."""
        for kind in sorted(self._failed):
            self._failed.discard(kind)
            await self.run(kind, catching_up=True)

    async def run(self, kind: str, *, catching_up: bool = False) -> int:
        """Queue the messages of the job's latest occurrence for everyone who has not had them; how many.

        The cron job runs it on time (APScheduler's grace covers a busy loop); a catch-up runs it only
        within the catch-up window.
        """
        now = self.services.clock()
        occurrence = self.latest(kind, now)
        if occurrence is None:
            return 0
        if catching_up and now - occurrence > self.timetable.catch_up:
            log.info(
                "%s of %s not sent: %s late, past the catch-up window of %s; skipped",
                kind, occurrence.isoformat(timespec="minutes"), now - occurrence, self.timetable.catch_up,
            )  # fmt: skip
            return 0
        try:
            if kind == SUMMARY:
                year, week, _ = occurrence.astimezone(self.services.timezone).date().isocalendar()
                return await self._summaries(occurrence, f"{year}-W{week:02d}")
            # Keyed by the day it is sent, not the day it was due: yesterday's reminder caught up this
            # morning and today's 09:00 run are one reminder, not two.
            queued = await self._reminders(now, now.astimezone(self.services.timezone).date().isoformat())
            return queued + await self._closing(now)
        except Exception:
            log.exception("%s could not be sent; retried within %d minutes", kind, RETRY_EVERY // 60)
            self._failed.add(kind)
            return 0

    async def _summaries(self, occurrence: dt.datetime, period: str) -> int:
        queued = 0
        for person, replies in await summaries_for(self.services, occurrence):
            queued += await self._queue_once(SUMMARY, period, person, replies, at=self.services.clock())
        log.info("%s %s: %d messages queued", SUMMARY, period, queued)
        self.services.events.scheduled(SUMMARY, queued)
        return queued

    async def _reminders(self, now: dt.datetime, period: str) -> int:
        t = self.timetable
        async with self.services.sessions() as session:
            people = await reports.recipients(session, reach_unbound=self.services.reach_unbound)
            found = await ringkasan.overdues(
                session,
                self.services,
                now=now,
                remind_days=t.remind_after_days,
                escalate_days=t.escalate_after_days,
                fix_days=t.fix_after_days,
            )
            # An officer hears of a returned proposal once every `fix_after_days` at most, not daily;
            # counted in days of the calendar, so a reminder caught up in an afternoon does not push the
            # next one a day later.
            zone = self.services.timezone
            today = now.astimezone(zone).date()
            quiet = set()
            for person in people:
                officer = person.officer
                if officer.role is Role.OPERATOR and officer.region_code in found.to_fix and officer.id:
                    last = await store.last_dispatch(session, kind=REMINDER, officer_id=officer.id)
                    if last is not None and (today - last.astimezone(zone).date()).days < t.fix_after_days:
                        quiet.add(officer.id)
        queued = 0
        for person in people:
            if person.officer.id in quiet:
                continue
            replies = ringkasan.reminder(found, self.services, person.officer)
            queued += await self._queue_once(REMINDER, period, person, replies, at=now)
        # Re-verification: the operators of desa not finished near the due date, once per round.
        today = now.astimezone(self.services.timezone).date()
        for person, round_key, replies in await verifikasi.reminders(self.services, today=today):
            queued += await self._queue_once(verifikasi.DISPATCH_KIND, round_key, person, replies, at=now)
        if queued:
            log.info("%s %s: %d messages queued", REMINDER, period, queued)
        self.services.events.scheduled(REMINDER, queued)
        return queued

    async def _closing(self, now: dt.datetime) -> int:
        """The reminders 7 days and 1 day before the intake closes, to the operators of desa that have sent
        nothing this year; keyed by the close ("2026-H7"), so each goes once whatever the day it runs."""
        today = now.astimezone(self.services.timezone).date()
        async with self.services.sessions() as session:
            due = await period.closing_due(session, self.services, today)
            if due is None:
                return 0
            people = await reports.recipients(session, reach_unbound=self.services.reach_unbound)
        queued = 0
        for person in people:
            replies = period.closing_reminder(due, self.services, person.officer)
            queued += await self._queue_once(period.CLOSING, due.period, person, replies, at=now)
        if queued:
            log.info("%s %s: %d messages queued", period.CLOSING, due.period, queued)
        return queued

    async def _queue_once(
        self, kind: str, period: str, person: reports.Recipient, replies: list[Reply], *, at: dt.datetime
    ) -> int:
        """Queue one recipient's messages with their dispatch key, in one transaction; 0 if the key was
        taken (by another process, or before a restart) or there is nothing to say."""
        if not replies:
            return 0
        officer_id = person.officer.id
        assert officer_id is not None
        pause = 0.01
        for attempt in range(BUSY_ATTEMPTS):
            try:
                async with self.services.sessions() as session:
                    await store.begin_write(session)
                    if not await store.claim_dispatch(
                        session, kind=kind, period=period, officer_id=officer_id, at=at
                    ):
                        return 0
                    for account in person.accounts:
                        for reply in replies:
                            buttons = [[[b.label, b.data] for b in row] for row in reply.buttons]
                            await store.queue_message(
                                session,
                                account=account,
                                text=reply.text,
                                buttons=buttons,
                                photo=reply.photo,
                                purpose=Purpose.SUMMARY if kind == SUMMARY else Purpose.REMINDER,
                            )
                    await session.commit()
                break
            except Exception as error:
                if is_busy(error) and attempt < BUSY_ATTEMPTS - 1:
                    # SQLite: another process (a second bot, an import) holds the write lock; never wait
                    # for it on the event loop.
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 0.5)
                    continue
                # One recipient's failure must not stop the others; the key was not taken, so the retry
                # tries again.
                log.exception("%s %s for officer %s could not be queued", kind, period, officer_id)
                self._failed.add(kind)
                return 0
        self.services.doorbell.ring()
        return len(replies) * len(person.accounts)


async def summaries_for(
    services: Services, occurrence: dt.datetime
) -> list[tuple[reports.Recipient, list[Reply]]]:
    """Every bound officer's summary of the week before ``occurrence``: the kabupaten read once, the chart
    drawn once the connection is given back, a summary cut for each (benchmarks/summary.py times this)."""
    async with services.sessions() as session:
        people = await reports.recipients(session, reach_unbound=services.reach_unbound)
        if not people:
            return []
        start, end = ringkasan.week_before(services, occurrence)
        snap = await ringkasan.snapshot(session, services, start=start, end=end)
    if any(p.officer.role is Role.DINAS for p in people):
        await ringkasan.draw_chart(snap, services)
    return [(person, ringkasan.summary(snap, services, person.officer)) for person in people]
