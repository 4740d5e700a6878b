"""The intake period of a program year: which dates are open for /daftar, Kirim and Perbaiki. Pure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

FIX_DAYS = 14  # a returned proposal may be corrected this long after the close, unless set otherwise
REMINDER_DAYS = (7, 1)  # the operators of a desa with no proposal hear this many days before the close


class Phase(StrEnum):
    """Where a day falls in the year's period."""

    ALWAYS = "always"  # no dates set: intake is open, as before the period existed
    BEFORE = "before"
    OPEN = "open"
    FIXING = "fixing"  # closed for new proposals; returned ones may still be corrected
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Period:
    """The dates of a year (inclusive, the kabupaten's calendar); all None: no period set."""

    open: dt.date | None = None
    close: dt.date | None = None
    fix_close: dt.date | None = None

    @property
    def set(self) -> bool:
        return self.open is not None and self.close is not None

    @property
    def fix_until(self) -> dt.date | None:
        """The last day a returned proposal may be corrected."""
        if self.close is None:
            return None
        return self.fix_close or default_fix_close(self.close)


class PeriodError(ValueError):
    """Dates that do not make a period; the message is one line for the command line."""


def default_fix_close(close: dt.date) -> dt.date:
    return close + dt.timedelta(days=FIX_DAYS)


def checked(open_: dt.date, close: dt.date, fix_close: dt.date | None) -> Period:
    """The period these dates make (fix-close defaulting to 14 days after the close), or PeriodError."""
    if open_ > close:
        raise PeriodError(f"intake opens ({open_}) after it closes ({close})")
    fix = fix_close or default_fix_close(close)
    if fix < close:
        raise PeriodError(f"fix-close ({fix}) is before the intake closes ({close})")
    return Period(open_, close, fix)


def phase(period: Period, today: dt.date) -> Phase:
    if not period.set:
        return Phase.ALWAYS
    assert period.open is not None and period.close is not None
    if today < period.open:
        return Phase.BEFORE
    if today <= period.close:
        return Phase.OPEN
    fix_until = period.fix_until
    assert fix_until is not None
    return Phase.FIXING if today <= fix_until else Phase.CLOSED


def may_propose(period: Period, today: dt.date) -> bool:
    """Whether a new draft may be opened, and a draft sent (Kirim), on ``today``."""
    return phase(period, today) in {Phase.ALWAYS, Phase.OPEN}


def may_fix(period: Period, today: dt.date) -> bool:
    """Whether a returned proposal may be corrected and sent again on ``today``: until fix-close."""
    return phase(period, today) is not Phase.CLOSED


def days_left(period: Period, today: dt.date) -> int | None:
    """Days of intake left counting today (the close day is the last: 1 on it), None outside it."""
    if phase(period, today) is not Phase.OPEN:
        return None
    assert period.close is not None
    return (period.close - today).days + 1


def reminder_due(period: Period, today: dt.date) -> int | None:
    """Which reminder is due today: 7 (from 7 days before the close until 2 days before) or 1 (the day
    before and the close day), or None. A window, not a day: a bot that was down on the day sends it on
    its next run (once: the reminder's dispatch key), saying the days actually left."""
    if phase(period, today) is not Phase.OPEN:
        return None
    assert period.close is not None
    before = (period.close - today).days
    return next((days for days in sorted(REMINDER_DAYS) if before <= days), None)
