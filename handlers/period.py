"""The intake period in the chat: the gate of /daftar, Kirim and Perbaiki, the /rekap line, the reminders
before the close and the camat's list of desa that have proposed nothing yet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import texts
from handlers.context import Services, Turn
from handlers.messages import Reply
from models import program_year
from models.rules.period import Period, Phase, days_left, may_fix, may_propose, phase, reminder_due
from models.rules.status import Role
from models.tables import Officer

CLOSING = "penutupan"  # the Dispatch kind of the reminders before the close


async def _period(turn: Turn) -> tuple[Period, dt.date]:
    today = turn.services.today()
    return await program_year.period_of(turn.session, year=today.year), today


async def refuse_new(turn: Turn) -> bool:
    """/daftar outside the period: say when intake opens, or that it closed; True when refused."""
    return await _refuse(turn, texts.intake_closed)


async def refuse_kirim(turn: Turn) -> bool:
    """Kirim of a new draft after the close (or before the open): the draft stays; True when refused."""
    return await _refuse(turn, texts.intake_closed_at_kirim)


async def _refuse(turn: Turn, closed: Callable[[dt.date], str]) -> bool:
    period, today = await _period(turn)
    if may_propose(period, today):
        return False
    assert period.open is not None and period.close is not None
    if phase(period, today) is Phase.BEFORE:
        turn.say(texts.intake_not_open(period.open, period.close))
    else:
        turn.say(closed(period.close))
    return True


async def refuse_fix(turn: Turn) -> bool:
    """Perbaiki, or Kirim of a correction, after fix-close; True when refused."""
    period, today = await _period(turn)
    if may_fix(period, today):
        return False
    fix_until = period.fix_until
    assert fix_until is not None
    turn.say(texts.fix_closed(fix_until))
    return True


async def rekap_line(session: AsyncSession, services: Services) -> str | None:
    """The period on /rekap (None: the year has no dates)."""
    today = services.today()
    period = await program_year.period_of(session, year=today.year)
    if not period.set:
        return None
    assert period.open is not None and period.close is not None and period.fix_until is not None
    now = phase(period, today)
    return texts.period_line(
        today.year, period.open, period.close, period.fix_until, now, days_left(period, today)
    )


@dataclass(frozen=True, slots=True)
class Closing:
    """Today's reminder before the close: how many days are left, the close, the desa with no proposal."""

    days: int  # left before the close (0: it closes today)
    period: str  # the Dispatch period: "2026-H7"
    close: dt.date
    silent_desa: frozenset[str]


async def closing_due(session: AsyncSession, services: Services, today: dt.date) -> Closing | None:
    """The reminder due today (see ``reminder_due``: 7 days before the close, then 1), or None."""
    period = await program_year.period_of(session, year=today.year)
    kind = reminder_due(period, today)
    if kind is None:
        return None
    assert period.close is not None
    sent = await program_year.desa_with_proposals(session, year=today.year, zone=services.timezone)
    silent = frozenset(d.code for d in services.kabupaten.all_desa() if d.code not in sent)
    return Closing((period.close - today).days, f"{today.year}-H{kind}", period.close, silent)


def closing_reminder(closing: Closing, services: Services, officer: Officer) -> list[Reply]:
    """An operator's reminder if their desa has sent nothing this year; nothing for anyone else."""
    if officer.role is not Role.OPERATOR or officer.region_code not in closing.silent_desa:
        return []
    desa = services.kabupaten.desa_by_code(officer.region_code)
    label = f"{desa.kind.capitalize()} {desa.name}" if desa else officer.region_code
    return [Reply(texts.remind_closing(closing.days, closing.close, label))]


async def open_line(session: AsyncSession, services: Services) -> str | None:
    """ "Masa pengusulan ditutup 31 Maret 2026 (sisa 12 hari)." while intake is open, else None."""
    today = services.today()
    found = await program_year.period_of(session, year=today.year)
    left = days_left(found, today)
    if left is None or found.close is None:
        return None
    return texts.closes_in(found.close, left)
