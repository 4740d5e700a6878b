"""The intake period in the chat: /daftar before it opens and after it closes, Kirim of a draft left open
at the close, Perbaiki until fix-close, the reminders before the close (once each), and the period on
/rekap and in the camat's summary. Today is Tuesday 24 November 2026 (tests.conftest.NOW)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlmodel import col, select

from handlers import texts
from handlers.context import Services
from models.rules.status import Status
from models.tables import Dispatch, OutboundMessage, ProgramYear, Proposal
from scheduler.jobs import REMINDER, Schedule
from tests.channels import People, text_of
from tests.conftest import NOW, PANGURURAN_DESA
from tests.handlers.test_authorization import (
    BOTH_CHANNELS,
    JONSON,
    LAMRIA,
    MARIA,
    RINA,
    Driver,
    WhatsAppDriver,
    bind_everyone,
    bot,
    make_proposal,
    status_of,
    whatsapp_fakes,
)
from tests.handlers.test_both_channels import ADDRESS, NIK, operator, person

__all__ = ["bot", "person", "whatsapp_fakes"]  # fixtures, imported for pytest

D = dt.date


async def set_period(services: Services, start: dt.date, end: dt.date, fix: dt.date | None = None) -> None:
    """The year's dates, as ``lanjutkan program set`` writes them (fix-close: 14 days after the close)."""
    async with services.sessions() as session:
        program = await session.get(ProgramYear, 2026) or ProgramYear(year=2026, new_quota=10)
        program.intake_open, program.intake_close = start, end
        program.fix_close = fix or end + dt.timedelta(days=14)
        session.add(program)
        await session.commit()


async def proposals(services: Services) -> list[Proposal]:
    async with services.sessions() as session:
        return list(await session.exec(select(Proposal).execution_options(populate_existing=True)))


async def test_daftar_before_the_period_says_when_it_opens(person: People, services: Services):
    await set_period(services, D(2026, 12, 1), D(2026, 12, 31))
    rina = await operator(person)

    said = text_of(await rina.say("/daftar"))

    assert said == texts.intake_not_open(D(2026, 12, 1), D(2026, 12, 31))
    assert "mulai 1 Desember 2026 sampai 31 Desember 2026" in said
    assert await proposals(services) == []


async def test_daftar_after_the_close_says_it_closed_and_whom_to_ask(person: People, services: Services):
    await set_period(services, D(2026, 10, 1), D(2026, 11, 20))
    rina = await operator(person)

    said = text_of(await rina.say("/daftar"))

    assert "Masa pengusulan sudah ditutup pada 20 November 2026" in said
    assert "hubungi Diskopnaker" in said
    assert await proposals(services) == []


async def test_a_year_without_dates_keeps_intake_open(person: People, services: Services):
    rina = await operator(person)

    assert "1/6" in text_of(await rina.say("/daftar"))


async def test_a_draft_left_open_at_the_close_is_kept_but_not_sent(person: People, services: Services):
    """Rina starts on the last day; the period ends before she presses Kirim (the close moved to
    yesterday stands for midnight passing): nothing is sent, nothing is lost."""
    await set_period(services, D(2026, 11, 1), D(2026, 11, 24))
    rina = await operator(person)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi Santoso")
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say(ADDRESS)
    await rina.press("Lewati")
    await set_period(services, D(2026, 11, 1), D(2026, 11, 23))

    said = text_of(await rina.press("Kirim"))

    assert said == texts.intake_closed_at_kirim(D(2026, 11, 23))
    assert "tetap tersimpan" in said
    [draft] = await proposals(services)
    assert (draft.status, draft.name) == (Status.DRAFT, "BUDI SANTOSO")
    resumed = text_of(await rina.say("/daftar"))  # the draft is still there to look at
    assert "BUDI SANTOSO" in resumed


@BOTH_CHANNELS
async def test_perbaiki_until_fix_close_and_refused_after_it(
    services: Services, bot: Driver | WhatsAppDriver
):
    officers = await bind_everyone(services, bot)
    returned = await make_proposal(services, officers, Status.DIKEMBALIKAN)
    assert returned.id is not None
    await bot.card(RINA, returned.number)
    await set_period(services, D(2026, 10, 1), D(2026, 11, 1), D(2026, 11, 20))

    refused = await bot.press(RINA, f"p:{returned.id}")

    assert refused == [texts.fix_closed(D(2026, 11, 20))]
    assert await status_of(services, returned.id) is Status.DIKEMBALIKAN

    await set_period(services, D(2026, 10, 1), D(2026, 11, 20))  # closed; corrections until 4 December
    allowed = await bot.press(RINA, f"p:{returned.id}")
    assert allowed[0].startswith(f"Perbaikan usulan {returned.number}: isi ulang Nama.")
    # Intake is closed for new proposals, but the correction's Kirim goes (the gate is fix-close's).
    await bot.say(RINA, "Budi Santoso Sitanggang")
    await set_period(services, D(2026, 10, 1), D(2026, 11, 1), D(2026, 11, 23))  # fix-close passed meanwhile
    assert await bot.press_label(RINA, "Kirim") == [texts.fix_closed(D(2026, 11, 23))]
    assert await status_of(services, returned.id) is Status.DIKEMBALIKAN
    await set_period(services, D(2026, 10, 1), D(2026, 11, 20))
    sent = await bot.press_label(RINA, "Kirim")
    assert f"Perbaikan usulan {returned.number} terkirim" in "\n".join(sent)
    assert await status_of(services, returned.id) is Status.MENUNGGU_CAMAT


async def test_reminders_seven_days_and_one_day_before_the_close_once_each(services: Services):
    """Tomok has proposed this year, Lamria's desa in Pangururan has not: only Lamria hears, once at H-7
    (even if the job runs again) and once at H-1."""
    officers = await bind_everyone(services)
    await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    await set_period(services, D(2026, 11, 1), D(2026, 12, 1))
    clock = Clock(NOW)
    later = dataclasses.replace(services, clock=clock)

    await Schedule(later).run(REMINDER)
    await Schedule(later).run(REMINDER)
    clock.now = NOW + dt.timedelta(days=1)  # H-6: nothing
    await Schedule(later).run(REMINDER)
    clock.now = NOW + dt.timedelta(days=6)  # 30 November, H-1
    await Schedule(later).run(REMINDER)

    desa = services.kabupaten.desa_by_code(PANGURURAN_DESA)
    assert desa is not None
    label = f"{desa.kind.capitalize()} {desa.name}"
    async with services.sessions() as session:
        sent = list(await session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))))
        keys = list(await session.exec(select(Dispatch).where(Dispatch.kind == "penutupan")))
    closing = [(m.chat_id, m.text) for m in sent if "Masa pengusulan ditutup" in m.text]
    assert closing == [
        (str(LAMRIA), texts.remind_closing(7, D(2026, 12, 1), label)),
        (str(LAMRIA), texts.remind_closing(1, D(2026, 12, 1), label)),
    ]
    assert "ditutup besok, 1 Desember 2026" in closing[1][1]
    assert sorted((k.period, k.officer_id) for k in keys) == [
        ("2026-H1", officers[LAMRIA]),
        ("2026-H7", officers[LAMRIA]),
    ]


async def test_a_reminder_missed_while_the_bot_was_down_goes_on_its_next_run(services: Services):
    """Down from before H-7 until H-4: the reminder goes at H-4 with the days actually left, once, and
    the day before the close the last one goes as usual."""
    officers = await bind_everyone(services)
    await make_proposal(services, officers, Status.MENUNGGU_CAMAT)
    await set_period(services, D(2026, 11, 1), D(2026, 12, 1))
    clock = Clock(NOW + dt.timedelta(days=3))  # 27 November, H-4
    later = dataclasses.replace(services, clock=clock)

    await Schedule(later).run(REMINDER, catching_up=True)  # the start-up catch-up after the outage
    await Schedule(later).run(REMINDER)
    clock.now = NOW + dt.timedelta(days=6)  # 30 November, H-1
    await Schedule(later).run(REMINDER)

    async with services.sessions() as session:
        sent = list(await session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id))))
    closing = [m.text for m in sent if m.chat_id == str(LAMRIA) and "Masa pengusulan ditutup" in m.text]
    assert len(closing) == 2
    assert "ditutup 4 hari lagi, 1 Desember 2026" in closing[0]
    assert "ditutup besok, 1 Desember 2026" in closing[1]


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@BOTH_CHANNELS
async def test_rekap_and_the_camats_summary_show_the_period(services: Services, bot: Driver | WhatsAppDriver):
    await bind_everyone(services, bot)
    await set_period(services, D(2026, 11, 1), D(2026, 12, 31))

    dinas = await bot.say(MARIA, "/rekap")
    summary = "\n".join(await bot.say(JONSON, "/ringkasan"))

    assert "Masa pengusulan 2026: 1 November – 31 Desember 2026 (sisa 38 hari)" in dinas[0]
    assert "Masa pengusulan ditutup 31 Desember 2026 (sisa 38 hari)." in summary
    assert "Desa/kelurahan yang belum mengirim usulan tahun ini (21): " in summary  # all of Simanindo

    await set_period(services, D(2026, 10, 1), D(2026, 11, 20))
    closed = await bot.say(MARIA, "/rekap")
    assert "(sudah ditutup; perbaikan sampai 4 Desember 2026)" in closed[0]
    await set_period(services, D(2026, 12, 1), D(2026, 12, 31))
    assert "Masa pengusulan 2026: 1–31 Desember 2026 (belum dibuka)" in (await bot.say(MARIA, "/rekap"))[0]
