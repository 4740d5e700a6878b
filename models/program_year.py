"""Database functions of the program year's intake period and of the quota shared among kecamatan."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import store
from models.rules.period import Period
from models.rules.status import Status
from models.tables import (
    ActiveParticipant,
    KecamatanAllocation,
    ProgramYear,
    Proposal,
    RegistryActive,
    RegistryEntry,
    utcnow,
)

KECAMATAN_CODE_LENGTH = 8  # "12.17.01" of a desa "12.17.01.2001"


async def period_of(session: AsyncSession, *, year: int) -> Period:
    """The year's intake period (no dates: a Period that is not set, intake always open)."""
    program = await session.get(ProgramYear, year)
    if program is None:
        return Period()
    return Period(program.intake_open, program.intake_close, program.fix_close)


async def allocations(session: AsyncSession, *, year: int) -> dict[str, KecamatanAllocation]:
    """The year's allocation rows by kecamatan code (empty: the year is not allocated)."""
    rows = await session.exec(
        select(KecamatanAllocation)
        .where(col(KecamatanAllocation.year) == year)
        .execution_options(populate_existing=True)
    )
    return {row.kecamatan_code: row for row in rows}


async def allocation_of(
    session: AsyncSession, *, year: int, kecamatan_code: str
) -> KecamatanAllocation | None:
    rows = await session.exec(
        select(KecamatanAllocation)
        .where(
            col(KecamatanAllocation.year) == year, col(KecamatanAllocation.kecamatan_code) == kecamatan_code
        )
        .execution_options(populate_existing=True)
    )
    return rows.first()


async def is_allocated(session: AsyncSession, *, year: int) -> bool:
    found = await session.exec(
        select(func.count()).select_from(KecamatanAllocation).where(col(KecamatanAllocation.year) == year)
    )
    return bool(found.one())


async def take_kecamatan_place(session: AsyncSession, *, year: int, kecamatan_code: str) -> bool | None:
    """Count one more established participant against the kecamatan's allocation if it has room (a
    compare-and-set: of two at once for the last place, one wins); None: the year is not allocated."""
    taken = await session.exec(
        update(KecamatanAllocation)
        .execution_options(synchronize_session=False)
        .where(
            col(KecamatanAllocation.year) == year,
            col(KecamatanAllocation.kecamatan_code) == kecamatan_code,
            col(KecamatanAllocation.established) < col(KecamatanAllocation.quota),
        )
        .values(established=col(KecamatanAllocation.established) + 1, updated_at=utcnow())
    )
    if taken.rowcount == 1:
        return True
    return False if await is_allocated(session, year=year) else None


async def force_kecamatan_place(session: AsyncSession, *, year: int, kecamatan_code: str) -> None:
    """Count one more established participant over the allocation (the dinas's override)."""
    await _insert_allocation_if_missing(session, year=year, kecamatan_code=kecamatan_code)
    await session.exec(
        update(KecamatanAllocation)
        .execution_options(synchronize_session=False)
        .where(
            col(KecamatanAllocation.year) == year, col(KecamatanAllocation.kecamatan_code) == kecamatan_code
        )
        .values(established=col(KecamatanAllocation.established) + 1, updated_at=utcnow())
    )


async def release_kecamatan_place(session: AsyncSession, *, year: int, kecamatan_code: str) -> None:
    """Give back a kecamatan place taken in this transaction (the decision lost a race)."""
    await session.exec(
        update(KecamatanAllocation)
        .execution_options(synchronize_session=False)
        .where(
            col(KecamatanAllocation.year) == year,
            col(KecamatanAllocation.kecamatan_code) == kecamatan_code,
            col(KecamatanAllocation.established) > 0,
        )
        .values(established=col(KecamatanAllocation.established) - 1)
    )


async def _insert_allocation_if_missing(session: AsyncSession, *, year: int, kecamatan_code: str) -> None:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    values = {
        "year": year,
        "kecamatan_code": kecamatan_code,
        "quota": 0,
        "established": 0,
        "updated_at": utcnow(),
    }
    await session.exec(insert(KecamatanAllocation).values(**values).on_conflict_do_nothing())


async def set_allocations(
    session: AsyncSession, *, year: int, quotas: dict[str, int], actor: str, officer_id: int | None = None
) -> None:
    """Replace the year's allocation with ``quotas`` (what was established stays counted) and audit the
    change, with the quotas before (a kecamatan not allocated before is absent)."""
    before = {code: row.quota for code, row in (await allocations(session, year=year)).items()}
    for code, quota in quotas.items():
        await _insert_allocation_if_missing(session, year=year, kecamatan_code=code)
        await session.exec(
            update(KecamatanAllocation)
            .execution_options(synchronize_session=False)
            .where(col(KecamatanAllocation.year) == year, col(KecamatanAllocation.kecamatan_code) == code)
            .values(quota=quota, updated_at=utcnow())
        )
    detail: dict[str, Any] = {
        "before": before,
        "after": dict(sorted(quotas.items())),
    }
    await store.add_program_audit(
        session,
        action="allocate",
        subject=f"allocation:{year}",
        officer_id=officer_id,
        actor=actor,
        detail=detail,
    )


async def registry_weights(session: AsyncSession, *, desil_threshold: int | None) -> dict[str, int]:
    """People of the active DTSEN batch per kecamatan, with desil at most the threshold (none set: all)."""
    kecamatan = func.substr(col(RegistryEntry.desa_code), 1, KECAMATAN_CODE_LENGTH)
    statement = (
        select(kecamatan, func.count())
        .select_from(RegistryEntry)
        .join(RegistryActive, col(RegistryActive.batch_id) == col(RegistryEntry.batch_id))
        .where(col(RegistryActive.source) == "dtsen", col(RegistryEntry.desa_code).is_not(None))
        .group_by(kecamatan)
    )
    if desil_threshold is not None:
        statement = statement.where(col(RegistryEntry.desil) <= desil_threshold)
    return {code: count for code, count in await session.exec(statement)}


async def active_weights(session: AsyncSession) -> dict[str, int]:
    """Active participants (not ended) per kecamatan."""
    kecamatan = func.substr(col(ActiveParticipant.desa_code), 1, KECAMATAN_CODE_LENGTH)
    statement = (
        select(kecamatan, func.count())
        .select_from(ActiveParticipant)
        .where(col(ActiveParticipant.ended_on).is_(None))
        .group_by(kecamatan)
    )
    return {code: count for code, count in await session.exec(statement)}


async def desa_with_proposals(session: AsyncSession, *, year: int, zone: ZoneInfo) -> set[str]:
    """Desa codes that sent at least one proposal in ``year`` (the kabupaten's calendar)."""
    start = dt.datetime(year, 1, 1, tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone).astimezone(dt.UTC)
    rows = await session.exec(
        select(Proposal.desa_code)
        .where(
            col(Proposal.status) != Status.DRAFT,
            col(Proposal.submitted_at) >= start,
            col(Proposal.submitted_at) < end,
        )
        .distinct()
    )
    return set(rows)
