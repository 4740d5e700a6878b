"""Months of coverage and their cost: the budget rules, without a database."""

from __future__ import annotations

import datetime as dt

import pytest

from models.rules.budget import months_covered, new_participant_start, projected_cost


@pytest.mark.parametrize(
    ("start", "months"),
    [
        (None, 12),  # an active participant without a known start: the whole year
        (dt.date(2025, 6, 1), 12),
        (dt.date(2026, 1, 1), 12),
        (dt.date(2026, 12, 1), 1),
        (dt.date(2026, 7, 15), 6),  # July counts whole
        (dt.date(2027, 1, 1), 0),
    ],
)
def test_months_covered_in_2026(start, months):
    """The start month counts whole; before the year is all of it, after it none."""
    assert months_covered(start, 2026) == months


def test_projected_cost_is_months_times_the_monthly_contribution():
    """1.495 active all year and 2 new from December at Rp16.800: hand-computed."""
    starts = [None] * 1495 + [dt.date(2026, 12, 1)] * 2
    assert projected_cost(starts, year=2026, monthly=16_800) == 1495 * 12 * 16_800 + 2 * 16_800


@pytest.mark.parametrize(
    ("established", "program_start", "start"),
    [
        (dt.date(2026, 11, 24), dt.date(2026, 1, 1), dt.date(2026, 12, 1)),
        (dt.date(2026, 12, 31), None, dt.date(2027, 1, 1)),
        (dt.date(2025, 12, 10), dt.date(2026, 3, 1), dt.date(2026, 3, 1)),  # not before the program starts
    ],
)
def test_a_new_participant_is_covered_from_the_next_month(established, program_start, start):
    """Covered from the first of the month after ditetapkan, never before the program year's start."""
    assert new_participant_start(established, program_start) == start
