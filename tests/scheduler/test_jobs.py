"""The scheduled messages with a controlled clock: when they fire (in WIB), catch-up after downtime, once
only across restarts and processes, the reminders and escalations, and delivery through the outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections import Counter

import pytest
import time_machine
from sqlmodel import col, select

from handlers.context import Services
from models import reports
from models.tables import Dispatch, OutboundMessage
from scheduler.jobs import REMINDER, SUMMARY, Schedule, Timetable
from scheduler.outbox import Outbox
from tests.conftest import NOW, make_services
from tests.handlers.test_ringkasan import CHATS, seed_week, wib

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
CAMAT, DINAS, RINA, LAMRIA = 2001, 3001, 1001, 1003


class Clock:
    """The time the scheduler's work reads (``services.clock``); tests move it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def at(services: Services, moment: dt.datetime) -> tuple[Services, Clock]:
    clock = Clock(moment)
    return dataclasses.replace(services, clock=clock), clock


async def outbox_rows(services: Services) -> list[OutboundMessage]:
    """The outbox, without the old deliveries ``seed_week`` wrote (text "lama")."""
    async with services.sessions() as session:
        rows = await session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id)))
        return [m for m in rows if m.text != "lama"]


async def queued_for(services: Services, chat: int) -> list[OutboundMessage]:
    return [m for m in await outbox_rows(services) if m.chat_id == str(chat)]


async def dispatches(services: Services) -> list[tuple[str, str, int]]:
    async with services.sessions() as session:
        rows = await session.exec(select(Dispatch).order_by(col(Dispatch.kind), col(Dispatch.officer_id)))
        return [(d.kind, d.period, d.officer_id) for d in rows]


# ------------------------------------------------------------------------------------------- when


def next_run(schedule: Schedule, kind: str, after: dt.datetime) -> dt.datetime | None:
    """When the job's own trigger, as the scheduler was given it, fires next after ``after``."""
    return schedule.triggers[kind].get_next_fire_time(None, after)


def test_jobs_fire_at_their_wib_times(tmp_path):
    """Monday 08:00 WIB is 01:00 UTC; the reminders are daily at 09:00 WIB; both follow the settings."""
    services = make_services(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # no connection is made
    schedule = Schedule(services)
    monday = next_run(schedule, SUMMARY, NOW)  # NOW: Tuesday 24 November, 09:00 WIB
    assert monday == wib(11, 30, 8)
    assert monday.astimezone(dt.UTC) == dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
    assert next_run(schedule, REMINDER, NOW + dt.timedelta(minutes=1)) == wib(11, 25, 9)
    assert next_run(schedule, REMINDER, wib(11, 24, 8, 59)) == wib(11, 24, 9)
    assert schedule.latest(SUMMARY, NOW) == wib(11, 23, 8)
    assert schedule.latest(REMINDER, wib(11, 24, 8, 59)) == wib(11, 23, 9)
    friday = Schedule(services, Timetable(summary_day="fri", summary_at=dt.time(15, 30)))
    assert next_run(friday, SUMMARY, NOW) == wib(11, 27, 15, 30)
    # A Sunday night in UTC is already Monday morning in Samosir.
    assert next_run(schedule, SUMMARY, dt.datetime(2026, 11, 29, 23, 30, tzinfo=dt.UTC)) == wib(11, 30, 8)


@SQLITE_ONLY
async def test_the_running_scheduler_sends_the_summary_at_monday_0800_wib(services: Services):
    """APScheduler itself, with the wall clock moved to a few tenths of a second before Monday 08:00 WIB."""
    await seed_week(services)
    just_before = wib(11, 30, 7, 59) + dt.timedelta(seconds=59.6)
    with time_machine.travel(just_before, tick=True):
        live = dataclasses.replace(services, clock=lambda: dt.datetime.now(dt.UTC))
        # A short catch-up window: last Monday's summary and yesterday's reminders are too old to send.
        schedule = Schedule(live, Timetable(catch_up=dt.timedelta(hours=1)))
        schedule.start()
        try:
            assert schedule._catching_up is not None
            await schedule._catching_up
            assert await dispatches(services) == []  # nothing before 08:00
            fired_at = None
            for _ in range(200):
                sent = await dispatches(services)
                fired_at = fired_at or (dt.datetime.now(dt.UTC) if sent else None)
                if len(sent) == 4:  # every bound officer's, the job done
                    break
                await asyncio.sleep(0.05)
        finally:
            await schedule.stop()
    sent = await dispatches(services)
    assert {(kind, period) for kind, period, _ in sent} == {(SUMMARY, "2026-W49")}
    assert len(sent) == 4  # the four officers bound to a chat
    assert fired_at is not None
    assert wib(11, 30, 8) <= fired_at < wib(11, 30, 8, 1)


# --------------------------------------------------------------------------------- catch-up, once


async def test_catch_up_after_downtime_sends_the_missed_summary_once(services: Services):
    """Down on Monday morning, started on Wednesday: the week's summary goes out then, and only then."""
    await seed_week(services)
    late, clock = at(services, wib(11, 25, 10))
    await Schedule(late).catch_up()
    rows = await outbox_rows(services)
    summaries = [m for m in rows if m.text.startswith("📊 Ringkasan mingguan")]
    assert sorted(int(m.chat_id) for m in summaries) == sorted(CHATS.values())
    assert {(k, p) for k, p, _ in await dispatches(services) if k == SUMMARY} == {(SUMMARY, "2026-W48")}
    # Restarted an hour later: nothing again.
    clock.now = wib(11, 25, 11)
    await Schedule(late).catch_up()
    assert len(await outbox_rows(services)) == len(rows)


async def test_catch_up_past_the_window_skips_with_a_log_line(services: Services, caplog):
    """Started on Thursday 10:00, Monday's 08:00 summary is 3 days 2 hours late: skipped and logged;
    Thursday's reminders (09:00) still go out."""
    await seed_week(services)
    late, _ = at(services, wib(11, 26, 10))
    with caplog.at_level(logging.INFO, logger="scheduler.jobs"):
        await Schedule(late).catch_up()
    assert "ringkasan of 2026-11-23T08:00+07:00 not sent: 3 days, 2:00:00 late" in caplog.text
    assert not [m for m in await outbox_rows(services) if "Ringkasan mingguan" in m.text]
    assert {k for k, _, _ in await dispatches(services)} == {REMINDER}


async def test_two_schedulers_on_one_database_send_each_summary_once(services: Services, database_url: str):
    """Two bot processes (two engines on one database) run the same job at the same moment."""
    await seed_week(services)
    first = make_services(database_url, now=NOW)
    second = make_services(database_url, now=NOW)
    try:
        counts = await asyncio.gather(
            Schedule(first).run(SUMMARY), Schedule(second).run(SUMMARY), Schedule(first).run(REMINDER),
            Schedule(second).run(REMINDER),
        )  # fmt: skip
    finally:
        await first.close()
        await second.close()
    rows = await outbox_rows(services)
    summaries = Counter(m.chat_id for m in rows if m.text.startswith("📊"))
    assert summaries == {str(c): 1 for c in CHATS.values()}
    photos = [m for m in rows if m.photo is not None]
    assert [m.chat_id for m in photos] == [str(DINAS)]  # the chart, once
    reminders = Counter(m.chat_id for m in rows if m.text.startswith(("⏰", "🚩")))
    assert reminders == {str(CAMAT): 1, str(DINAS): 1}
    assert sum(counts) == len(rows)
    keys = await dispatches(services)
    assert len(keys) == len(set(keys)) == 4 + 2


# --------------------------------------------------------------------------------------- reminders


async def test_camat_reminder_lists_what_waits_over_three_days_and_the_dinas_hears_of_a_week(
    services: Services,
):
    ids = await seed_week(services)
    now, _ = at(services, NOW)  # Tuesday 24 November 09:00
    await Schedule(now).run(REMINDER)
    (camat,) = await queued_for(services, CAMAT)
    # Waiting over 3 days: P2 (since 10 November) and P1 (17 November); P7 (22 November) not yet.
    assert camat.text == (
        "⏰ Pengingat: 2 usulan menunggu keputusan Anda lebih dari 3 hari.\n"
        f"• U-{ids['P2 WAITING 14 DAYS']:05d} P2 WAITING 14 DAYS — Tomok, menunggu 14 hari\n"
        f"• U-{ids['P1 SUBMITTED IN WEEK']:05d} P1 SUBMITTED IN WEEK — Tomok, menunggu 7 hari\n"
        "\n1 di antaranya sudah lebih dari 7 hari dan dilaporkan ke Diskopnaker.\n"
        "\nBuka antrian untuk memutuskan."
    )
    assert camat.buttons == [[["📥 Buka antrian", "q:new"]]]
    (dinas,) = await queued_for(services, DINAS)
    assert dinas.text == (
        "🚩 2 usulan menunggu camat lebih dari 7 hari:\n"
        "• Kec. Simanindo: 1 (terlama 14 hari) — Jonson Simbolon\n"
        "• Kec. Pangururan: 1 (terlama 358 hari) — belum ada camat di daftar petugas\n\n"
        "⏰ 1 usulan menunggu verifikasi Anda lebih dari 3 hari (terlama 6 hari). "
        "Buka antrian untuk memutuskan."
    )
    # P5 was returned on 20 November: 4 days, not yet 7. Lumban SS Dolok has nothing to fix.
    assert await queued_for(services, RINA) == []
    assert await queued_for(services, LAMRIA) == []


async def test_at_most_one_reminder_a_day_and_again_the_next_day(services: Services):
    await seed_week(services)
    day, clock = at(services, NOW)
    assert await Schedule(day).run(REMINDER) == 2  # the camat and the dinas
    clock.now = NOW + dt.timedelta(hours=5)  # a restart the same afternoon, a new proposal overdue
    assert await Schedule(day).run(REMINDER) == 0
    clock.now = NOW + dt.timedelta(days=1)
    assert await Schedule(day).run(REMINDER) == 2
    periods = Counter(p for k, p, _ in await dispatches(services) if k == REMINDER)
    assert periods == {"2026-11-24": 2, "2026-11-25": 2}


async def test_returned_proposal_reminds_the_officer_after_a_week_then_weekly(services: Services):
    ids = await seed_week(services)
    number = f"U-{ids['P5 RETURNED']:05d}"
    # P5 was returned on 20 November. The bot was down at 09:00 on the 28th and caught up at 15:00.
    day, clock = at(services, wib(11, 28, 15))
    await Schedule(day).catch_up()
    rina = await queued_for(services, RINA)
    assert [m.text for m in rina] == [
        "⏰ Pengingat: 1 usulan dikembalikan camat lebih dari 7 hari dan belum diperbaiki.\n"
        f"• {number} P5 RETURNED — perbaiki: Nama, Alamat (dikembalikan 8 hari lalu)\n"
        "\nTekan ✏️ Perbaiki, isi bagian yang diminta, lalu Kirim."
    ]
    assert rina[0].buttons == [[[f"✏️ Perbaiki {number}", f"p:{ids['P5 RETURNED']}"]]]
    # Not every day: the next reminder comes a week later, at 09:00 on the 5th, though the first one went
    # out in the afternoon.
    for days in range(1, 7):
        clock.now = wib(11, 28, 9) + dt.timedelta(days=days)
        await Schedule(day).run(REMINDER)
    assert len(await queued_for(services, RINA)) == 1
    clock.now = wib(12, 5, 9)
    await Schedule(day).run(REMINDER)
    assert len(await queued_for(services, RINA)) == 2


async def test_nothing_waiting_means_no_reminder(services: Services):
    day, _ = at(services, NOW)
    assert await Schedule(day).run(REMINDER) == 0
    assert await outbox_rows(services) == []


# --------------------------------------------------------------------------------- through the outbox


async def test_summaries_and_reminders_reach_telegram_through_the_outbox(
    services: Services, outbox: Outbox, fake_api, chat
):
    """Queued by the job, sent by the outbox worker: the texts, the chart as a photo, and a blocked
    operator recorded as a failed delivery; the reminder's button opens the queue."""
    await seed_week(services)
    fake_api.blocked.add(LAMRIA)
    now, _ = at(services, NOW)
    await Schedule(now).run(SUMMARY)
    await Schedule(now).run(REMINDER)
    await outbox.deliver_pending()
    camat = fake_api.messages_to(CAMAT)
    assert camat[0].text.startswith("📊 Ringkasan mingguan LANJUTKAN — Kec. Simanindo\n16–22 November 2026")
    assert camat[1].text.startswith("⏰ Pengingat: 2 usulan")
    assert [p.chat_id for p in fake_api.photos] == [DINAS]
    assert fake_api.photos[0].content.startswith(b"\x89PNG")
    assert fake_api.messages_to(RINA)[0].text.startswith("📊 Ringkasan mingguan LANJUTKAN — Desa Tomok")
    failed = [m for m in await outbox_rows(services) if m.chat_id == str(LAMRIA)]
    assert [(m.status.value, m.error) for m in failed] == [("failed", "blocked")]
    jonson = chat(CAMAT)
    reminder_text = camat[1].text
    queue = await jonson.press("Buka antrian", camat[1])
    assert queue[-1].text.startswith("📥 Antrian Kec. Simanindo: 3 usulan menunggu")
    assert queue[-1].message_id != camat[1].message_id  # a new message: the reminder stays as it was
    assert fake_api.messages_to(CAMAT)[1].text == reminder_text


async def test_a_reminder_caught_up_in_the_morning_is_the_days_only_one(services: Services):
    """Down from before 09:00 on the 24th to 08:30 on the 25th: the catch-up sends the reminder, and the
    25th's own 09:00 run does not send it again."""
    await seed_week(services)
    day, clock = at(services, wib(11, 25, 8, 30))
    await Schedule(day).catch_up()
    clock.now = wib(11, 25, 9)
    assert await Schedule(day).run(REMINDER) == 0
    assert len(await queued_for(services, CAMAT)) == 2  # the week's summary, and one reminder
    assert [p for k, p, _ in await dispatches(services) if k == REMINDER] == ["2026-11-25"] * 2


async def test_without_catch_up_the_jobs_still_run_on_time(services: Services):
    """LANJUTKAN_CATCH_UP_DAYS=0: nothing is sent late at start-up, but the 08:00 job itself sends."""
    await seed_week(services)
    none = Timetable(catch_up=dt.timedelta(0))
    day, clock = at(services, wib(11, 30, 8, 5))
    await Schedule(day, none).catch_up()
    assert await outbox_rows(services) == []
    clock.now = wib(11, 30, 8) + dt.timedelta(milliseconds=5)  # the cron job, a few ms after the minute
    assert await Schedule(day, none).run(SUMMARY) == 5


async def test_a_failed_run_is_retried_and_sends_to_everyone_once(services: Services, monkeypatch):
    """The database is away at 08:00: the run fails, the retry a quarter of an hour later sends."""
    await seed_week(services)
    day, clock = at(services, wib(11, 30, 8))
    schedule = Schedule(day)
    real = reports.recipients

    async def away(session):  # type: ignore[no-untyped-def]
        raise ConnectionError("database away")

    monkeypatch.setattr(reports, "recipients", away)
    assert await schedule.run(SUMMARY) == 0
    monkeypatch.setattr(reports, "recipients", real)
    clock.now = wib(11, 30, 8, 15)
    await schedule.retry_failed()
    summaries = Counter(m.chat_id for m in await outbox_rows(services) if m.text.startswith("📊"))
    assert summaries == {str(c): 1 for c in CHATS.values()}
    await schedule.retry_failed()  # nothing failed any more: nothing again
    assert len(await outbox_rows(services)) == 5
