"""/rekap: the program's figures for an approver: proposals by status and area, quota, budget."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import allocation, period, texts
from handlers.context import Services, Turn
from models import store
from models.rules.budget import new_participant_start, projected_cost
from models.rules.status import Role, Status
from models.tables import ProgramYear


async def show(turn: Turn) -> None:
    """Counts by status (and by kecamatan, or by desa for a camat), the quota, and the budget."""
    officer = turn.officer
    assert officer is not None
    services = turn.services
    kabupaten = services.kabupaten
    if officer.role is Role.CAMAT:
        kecamatan = kabupaten.kecamatan_by_code(officer.region_code)
        scope: str | None = officer.region_code
        area, area_kind = (f"Kec. {kecamatan.name}" if kecamatan else officer.region_code), "desa/kelurahan"
    elif officer.role is Role.DINAS and officer.region_code == kabupaten.code:
        scope, area, area_kind = None, kabupaten.name, "kecamatan"
    else:
        turn.say(texts.REKAP_ONLY_APPROVERS)
        return
    session = turn.session
    year = services.today().year
    totals: dict[Status, int] = {}
    per_area: dict[str, dict[Status, int]] = {}
    for code, status, count in await store.status_counts(session, kecamatan_code=scope):
        totals[status] = totals.get(status, 0) + count
        per_area.setdefault(code, {})[status] = count
    by_area = sorted((_area_name(turn, code), counts) for code, counts in per_area.items())
    program, budget_lines = await program_figures(session, services, kecamatan_code=scope)
    # The intake period and the kecamatan allocations, when the year has them.
    extra = await allocation.rekap_lines(session, services, kecamatan_code=scope)
    if (period_line := await period.rekap_line(session, services)) is not None:
        extra.insert(0, period_line)
    budget_lines = [*extra, *budget_lines]
    turn.say(
        texts.rekap(
            year=year,
            area=area,
            today=texts.tanggal(services.today()),
            totals=totals,
            by_area=by_area,
            area_kind=area_kind,
            quota=program.new_quota,
            established=program.new_established,
            budget_lines=budget_lines,
        )
    )


async def program_figures(
    session: AsyncSession, services: Services, *, kecamatan_code: str | None
) -> tuple[ProgramYear, list[str]]:
    """The year's program row and the budget lines (allocation, projected cost, what remains) of the
    kabupaten, or of one kecamatan."""
    year = services.today().year
    program = await store.program_year(session, year=year, default_quota=services.new_participant_quota)
    days = await store.established_days(session, kecamatan_code=kecamatan_code, zone=services.timezone)
    starts: Counter[dt.date] = Counter()
    for day, count in days:
        starts[new_participant_start(day, program.coverage_start)] += count
    monthly = (program.jkk_per_month or 0) + (program.jkm_per_month or 0) or None
    active = await store.active_participant_starts(session, kecamatan_code=kecamatan_code)
    cost = None
    if monthly:
        new_cost = sum(projected_cost([start], year=year, monthly=monthly) * n for start, n in starts.items())
        cost = projected_cost(active, year=year, monthly=monthly) + new_cost
    new = sum(starts.values())
    lines = texts.budget(
        year=year, allocation=program.budget, monthly=monthly, active=len(active), new=new, cost=cost
    )
    return program, lines


def _area_name(turn: Turn, code: str) -> str:
    kabupaten = turn.services.kabupaten
    if len(code) > 8:
        desa = kabupaten.desa_by_code(code)
        return desa.name if desa else code
    return kabupaten.kecamatan_name(code)
