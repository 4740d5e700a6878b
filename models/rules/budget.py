"""Budget arithmetic of the program: months of coverage in a year and what they cost. Pure, no framework."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable


def months_covered(start: dt.date | None, year: int) -> int:
    """Months of ``year`` a participant covered from ``start`` is paid for (the start month counts whole).

    No start, or a start before the year: all 12; a start after it: none.
    """
    if start is None or start.year < year:
        return 12
    if start.year > year:
        return 0
    return 13 - start.month


def projected_cost(starts: Iterable[dt.date | None], *, year: int, monthly: int) -> int:
    """What ``year`` costs for participants covered from these starts, at ``monthly`` (JKK + JKM) each."""
    return sum(months_covered(start, year) for start in starts) * monthly


def first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def new_participant_start(established: dt.date, program_start: dt.date | None) -> dt.date:
    """A new participant is covered from the first day of the month after it is established (ditetapkan),
    not before the program year's own coverage start."""
    start = first_of_next_month(established)
    return max(start, program_start) if program_start else start
