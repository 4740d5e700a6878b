"""Database functions of re-verification rounds: start in chunks, progress, compare-and-set, audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, insert, literal, update
from sqlalchemy import select as sa_select  # nine columns: more than sqlmodel's select types
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import store
from models.rules.verification import ItemStatus, birth_date_of, premarks, reference_day
from models.tables import (
    ActiveParticipant,
    Officer,
    ProgramAudit,
    ProgramYear,
    RegistryActive,
    RegistryEntry,
    VerificationItem,
    VerificationRound,
    utcnow,
)

CHUNK = 5000  # rows read and inserted at a time: memory stays bounded whatever the list's length
NO_DESIL = 99  # in the registry without a desil (DTKS-like rows): found, but no desil to compare


class RoundOpen(Exception):
    """A round of this year is still open."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What a round would cover: participants and desa."""

    participants: int
    desa: int


@dataclass(frozen=True, slots=True)
class DesaProgress:
    desa_code: str
    kecamatan_code: str
    total: int
    done: int  # looked at by the operator (any status but menunggu)


async def plan(session: AsyncSession) -> Plan:
    """How many active participants (not ended) and in how many desa a round would start with."""
    row = (
        await session.exec(
            select(func.count(), func.count(func.distinct(ActiveParticipant.desa_code))).where(
                col(ActiveParticipant.ended_on).is_(None)
            )
        )
    ).one()
    return Plan(int(row[0]), int(row[1]))


async def open_round(session: AsyncSession, *, year: int | None = None) -> VerificationRound | None:
    """The open round (of ``year`` when given), the latest first."""
    statement = select(VerificationRound).where(col(VerificationRound.closed_at).is_(None))
    if year is not None:
        statement = statement.where(col(VerificationRound.year) == year)
    found = await session.exec(statement.order_by(col(VerificationRound.id).desc()).limit(1))
    return found.first()


async def latest_round(session: AsyncSession) -> VerificationRound | None:
    """The round started last, open or closed."""
    found = await session.exec(select(VerificationRound).order_by(col(VerificationRound.id).desc()).limit(1))
    return found.first()


async def round_of_year(session: AsyncSession, *, year: int) -> VerificationRound | None:
    """The latest round of a year, open or closed."""
    found = await session.exec(
        select(VerificationRound)
        .where(col(VerificationRound.year) == year)
        .order_by(col(VerificationRound.id).desc())
        .limit(1)
    )
    return found.first()


async def start_round(
    session: AsyncSession,
    *,
    year: int,
    due: dt.date,
    officer_id: int | None,
    actor: str | None,
    decrypt: Callable[[str], str],
    today: dt.date,
    default_age_max: int,
) -> VerificationRound:
    """A new round over every active participant, inserted in chunks (keyset pages, executemany) with the
    rules' pre-marks; :class:`RoundOpen` if the year has an open round. The caller commits."""
    # Two starts at once (two dinas, or the chat and the CLI): the second waits here and then sees the first's
    # round. On SQLite the second's insert fails busy and is run again.
    await store.hold_lock(session, key=f"verification-round:{year}")
    if await open_round(session, year=year) is not None:
        raise RoundOpen
    program = await session.get(ProgramYear, year)
    reference = reference_day(year, program.coverage_start if program else None)
    age_max = program.age_max if program and program.age_max is not None else default_age_max
    threshold = program.desil_threshold if program else None
    active = await session.get(RegistryActive, "dtsen")
    dtsen_imported = active is not None
    started = VerificationRound(year=year, due=due, officer_id=officer_id)
    session.add(started)
    await session.flush()
    assert started.id is not None
    # One lookup per participant on the (nik_hash, batch_id) index, the active batch named outright (a join
    # to RegistryActive let PostgreSQL scan the registry): NULL when absent, NO_DESIL when found without one.
    lowest_desil = (
        select(func.min(func.coalesce(col(RegistryEntry.desil), NO_DESIL)))
        .where(
            col(RegistryEntry.nik_hash) == col(ActiveParticipant.nik_hash),
            col(RegistryEntry.batch_id) == (active.batch_id if active is not None else 0),
        )
        .scalar_subquery()
    )
    page = sa_select(
        col(ActiveParticipant.id),
        col(ActiveParticipant.nik_hash),
        col(ActiveParticipant.nik_encrypted),
        col(ActiveParticipant.name),
        col(ActiveParticipant.desa_code),
        col(ActiveParticipant.category),
        col(ActiveParticipant.coverage_start),
        lowest_desil if dtsen_imported else literal(None),
    ).where(col(ActiveParticipant.ended_on).is_(None))
    connection = await session.connection()
    last, count = 0, 0
    while True:
        rows = (
            await connection.execute(
                page.where(col(ActiveParticipant.id) > last).order_by(col(ActiveParticipant.id)).limit(CHUNK)
            )
        ).all()
        if not rows:
            break
        batch: list[dict[str, Any]] = []
        for pid, nik_hash, encrypted, name, desa, category, since, lowest in rows:
            birth = birth_date_of(decrypt(encrypted), today=today)
            marks = premarks(
                birth_date=birth,
                reference=reference,
                age_max=age_max,
                dtsen_imported=dtsen_imported,
                in_dtsen=lowest is not None,
                desil=None if lowest == NO_DESIL else lowest,
                desil_threshold=threshold,
            )
            batch.append(
                {
                    "round_id": started.id,
                    "nik_hash": nik_hash,
                    "nik_encrypted": encrypted,
                    "name": name,
                    "desa_code": desa,
                    "kecamatan_code": desa[:8],
                    "category": category,
                    "coverage_start": since,
                    "birth_date": birth,
                    "status": ItemStatus.MENUNGGU.value,
                    "premarks": [m.encode() for m in marks],
                    "version": 0,
                }
            )
            last = pid
        await connection.execute(insert(VerificationItem), batch)
        count += len(batch)
    started.items = count
    session.add(started)
    session.add(
        ProgramAudit(
            action="verification_start",
            subject=f"verification-round:{started.id}",
            officer_id=officer_id,
            actor=actor,
            detail={"year": year, "due": due.isoformat(), "items": count},
        )
    )
    await session.flush()
    return started


async def desa_counts(session: AsyncSession, *, round_id: int) -> list[tuple[str, int]]:
    """Each desa of the round with how many items wait for its operator."""
    rows = await session.exec(
        select(col(VerificationItem.desa_code), func.count())
        .where(
            col(VerificationItem.round_id) == round_id,
            col(VerificationItem.status) == ItemStatus.MENUNGGU.value,
        )
        .group_by(VerificationItem.desa_code)
        .order_by(VerificationItem.desa_code)
    )
    return [(desa, int(n)) for desa, n in rows.all()]


async def progress(
    session: AsyncSession, *, round_id: int, kecamatan_code: str | None = None
) -> list[DesaProgress]:
    """Done / total per desa (of one kecamatan when given)."""
    done = func.sum(case((col(VerificationItem.status) != ItemStatus.MENUNGGU.value, 1), else_=0))
    statement = (
        select(col(VerificationItem.desa_code), col(VerificationItem.kecamatan_code), func.count(), done)
        .where(col(VerificationItem.round_id) == round_id)
        .group_by(col(VerificationItem.desa_code), VerificationItem.kecamatan_code)
        .order_by(VerificationItem.desa_code)
    )
    if kecamatan_code is not None:
        statement = statement.where(col(VerificationItem.kecamatan_code) == kecamatan_code)
    rows = await session.exec(statement)
    return [DesaProgress(d, k, int(t), int(n or 0)) for d, k, t, n in rows.all()]


async def status_counts(session: AsyncSession, *, round_id: int) -> dict[str, int]:
    """How many items of the round are in each status."""
    rows = await session.exec(
        select(col(VerificationItem.status), func.count())
        .where(col(VerificationItem.round_id) == round_id)
        .group_by(VerificationItem.status)
    )
    return {status: int(n) for status, n in rows.all()}


async def next_item(
    session: AsyncSession,
    *,
    round_id: int,
    status: str,
    desa_code: str | None = None,
    kecamatan_code: str | None = None,
) -> tuple[VerificationItem | None, int]:
    """The first item in ``status`` (of a desa or a kecamatan), and how many are in it."""
    where = [col(VerificationItem.round_id) == round_id, col(VerificationItem.status) == status]
    if desa_code is not None:
        where.append(col(VerificationItem.desa_code) == desa_code)
    if kecamatan_code is not None:
        where.append(col(VerificationItem.kecamatan_code) == kecamatan_code)
    total = (await session.exec(select(func.count()).select_from(VerificationItem).where(*where))).one()
    first = await session.exec(
        select(VerificationItem).where(*where).order_by(col(VerificationItem.id)).limit(1)
    )
    return first.first(), int(total)


async def clean_waiting(
    session: AsyncSession, *, round_id: int, kecamatan_code: str
) -> list[VerificationItem]:
    """The removals waiting for the camat of a kecamatan without any pre-mark (for a bulk confirmation)."""
    rows = await session.exec(
        select(VerificationItem)
        .where(
            col(VerificationItem.round_id) == round_id,
            col(VerificationItem.kecamatan_code) == kecamatan_code,
            col(VerificationItem.status) == ItemStatus.USUL_KELUAR.value,
        )
        .order_by(col(VerificationItem.id))
    )
    return [item for item in rows.all() if not item.premarks]


async def decide_item(
    session: AsyncSession,
    *,
    item_id: int,
    version: int,
    from_status: str,
    to_status: str,
    actor: Officer | None,
    action: str,
    reason: str | None = None,
    reason_text: str | None = None,
) -> bool:
    """Compare-and-set: move the item if it is still in ``from_status`` at ``version``; audit it. False when
    another decision came first (nothing changes)."""
    values: dict[str, Any] = {
        "status": to_status,
        "version": col(VerificationItem.version) + 1,
        "officer_id": actor.id if actor is not None else None,
        "decided_at": utcnow(),
    }
    if reason is not None:
        values["reason"] = reason
        values["reason_text"] = reason_text
    result = await session.exec(
        update(VerificationItem)
        .where(
            col(VerificationItem.id) == item_id,
            col(VerificationItem.version) == version,
            col(VerificationItem.status) == from_status,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    detail: dict[str, Any] = {"from": from_status, "to": to_status}
    if reason is not None:
        detail["reason"] = reason
    if reason_text:
        detail["reason_text"] = reason_text
    session.add(
        ProgramAudit(
            action=f"verification_{action}",
            subject=f"verification-item:{item_id}",
            officer_id=actor.id if actor is not None else None,
            actor=actor.name if actor is not None else None,
            detail=detail,
        )
    )
    return True


async def end_participation(session: AsyncSession, *, item: VerificationItem, on: dt.date) -> bool:
    """End the participant's coverage for the item's reason (nothing deleted); False if already ended."""
    result = await session.exec(
        update(ActiveParticipant)
        .where(col(ActiveParticipant.nik_hash) == item.nik_hash, col(ActiveParticipant.ended_on).is_(None))
        .values(ended_on=on, end_reason=item.reason or "lainnya")
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def end_day(session: AsyncSession, *, round_: VerificationRound) -> dt.date:
    """When a confirmed removal ends the participation: the year's coverage start, else the due date."""
    program = await session.get(ProgramYear, round_.year)
    return program.coverage_start if program and program.coverage_start else round_.due


async def items_of(
    session: AsyncSession, *, round_id: int, statuses: frozenset[str]
) -> list[VerificationItem]:
    """The round's items in some statuses, by desa then name (for the exports)."""
    rows = await session.exec(
        select(VerificationItem)
        .where(col(VerificationItem.round_id) == round_id, col(VerificationItem.status).in_(sorted(statuses)))
        .order_by(col(VerificationItem.desa_code), col(VerificationItem.name), col(VerificationItem.id))
    )
    return list(rows.all())


async def rounds_open(session: AsyncSession) -> list[VerificationRound]:
    rows = await session.exec(
        select(VerificationRound)
        .where(col(VerificationRound.closed_at).is_(None))
        .order_by(col(VerificationRound.id))
    )
    return list(rows.all())


async def close_round(session: AsyncSession, *, year: int, actor: str | None) -> VerificationRound | None:
    """Close the year's open round (its items stay as they are; a new round may start); None if none."""
    round_ = await open_round(session, year=year)
    if round_ is None:
        return None
    round_.closed_at = utcnow()
    session.add(round_)
    session.add(
        ProgramAudit(
            action="verification_close",
            subject=f"verification-round:{round_.id}",
            actor=actor,
            detail={"year": year},
        )
    )
    await session.flush()
    return round_
