"""The intake period's rules: which day is open for /daftar, Kirim and Perbaiki, and when reminders go."""

from __future__ import annotations

import datetime as dt

import pytest

from models.rules.period import (
    Period,
    PeriodError,
    Phase,
    checked,
    days_left,
    may_fix,
    may_propose,
    phase,
    reminder_due,
)

D = dt.date
PERIOD = checked(D(2026, 2, 16), D(2026, 3, 31), None)


def test_fix_close_defaults_to_fourteen_days_after_the_close() -> None:
    assert Period(D(2026, 2, 16), D(2026, 3, 31), D(2026, 4, 14)) == PERIOD
    assert checked(D(2026, 2, 16), D(2026, 3, 31), D(2026, 3, 31)).fix_close == D(2026, 3, 31)


def test_open_after_close_or_fix_close_before_close_is_refused() -> None:
    with pytest.raises(PeriodError, match=r"opens .* after it closes"):
        checked(D(2026, 4, 1), D(2026, 3, 31), None)
    with pytest.raises(PeriodError, match=r"fix-close .* before"):
        checked(D(2026, 2, 16), D(2026, 3, 31), D(2026, 3, 30))


@pytest.mark.parametrize(
    ("day", "expected", "propose", "fix"),
    [
        (D(2026, 2, 15), Phase.BEFORE, False, True),  # a correction is no new proposal
        (D(2026, 2, 16), Phase.OPEN, True, True),  # the first day counts
        (D(2026, 3, 31), Phase.OPEN, True, True),  # and the last
        (D(2026, 4, 1), Phase.FIXING, False, True),
        (D(2026, 4, 14), Phase.FIXING, False, True),
        (D(2026, 4, 15), Phase.CLOSED, False, False),
    ],
)
def test_phases_at_the_edges(day: dt.date, expected: Phase, propose: bool, fix: bool) -> None:
    assert phase(PERIOD, day) is expected
    assert may_propose(PERIOD, day) is propose
    assert may_fix(PERIOD, day) is fix


def test_a_year_without_dates_is_always_open() -> None:
    for day in (D(2020, 1, 1), D(2026, 12, 31)):
        assert phase(Period(), day) is Phase.ALWAYS
        assert may_propose(Period(), day)
        assert may_fix(Period(), day)
        assert days_left(Period(), day) is None
        assert reminder_due(Period(), day) is None


def test_days_left_count_the_close_day() -> None:
    assert days_left(PERIOD, D(2026, 3, 20)) == 12
    assert days_left(PERIOD, D(2026, 3, 31)) == 1
    assert days_left(PERIOD, D(2026, 4, 1)) is None


def test_reminders_from_seven_days_before_the_close_then_from_the_day_before() -> None:
    """Due over a window (a bot down on the day sends it on its next run; the dispatch key keeps it once)."""
    due = {day: reminder_due(PERIOD, day) for day in (PERIOD.open + dt.timedelta(n) for n in range(60))}
    sevens = [day for day, n in due.items() if n == 7]
    ones = [day for day, n in due.items() if n == 1]
    assert (sevens[0], sevens[-1], len(sevens)) == (D(2026, 3, 24), D(2026, 3, 29), 6)
    assert ones == [D(2026, 3, 30), D(2026, 3, 31)]
    assert not [day for day, n in due.items() if n and day < D(2026, 3, 24)]
