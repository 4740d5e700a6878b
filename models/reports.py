"""The reading side of the summaries and reminders: a few kabupaten-wide grouped queries, whatever the size.

A weekly run builds one :class:`Snapshot` and cuts every recipient's summary from it, so the database is
asked the same handful of questions for 150 recipients as for one. Each query reads an index built for it
(``ix_proposal_desa_status_times``, ``ix_auditevent_at``), never a million rows of the table.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import store
from models.rules.status import Status
from models.tables import AuditEvent, ChatAccount, Delivery, Officer, OutboundMessage, Proposal

# Where a proposal waits since: the camat since it was (re)submitted, the dinas since the camat approved,
# the officer since it was returned.
WAITING_SINCE = {
    Status.MENUNGGU_CAMAT: Proposal.submitted_at,
    Status.MENUNGGU_DINAS: Proposal.decided_at,
    Status.DIKEMBALIKAN: Proposal.decided_at,
}
UNREACHABLE_REASONS = ("blocked", "chat_not_found", "chat_migrated", "not_on_whatsapp")


@dataclass(slots=True)
class DesaFigures:
    """One desa's sent proposals: counts by status, the oldest waiting at each stage, the last proposal."""

    counts: dict[Status, int] = field(default_factory=dict)
    oldest: dict[Status, dt.datetime] = field(default_factory=dict)
    last_submitted: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """A proposal waiting for someone, as a reminder lists it (no NIK)."""

    id: int
    name: str
    desa_code: str
    kecamatan_code: str
    since: dt.datetime
    fix_fields: tuple[str, ...] = ()


@dataclass(slots=True)
class Overdue:
    """Proposals of one area waiting past a threshold: how many, and the oldest few."""

    count: int = 0
    oldest: list[Waiting] = field(default_factory=list)


async def desa_figures(session: AsyncSession) -> dict[str, DesaFigures]:
    """Every desa's sent proposals by status, with the oldest waiting time per stage (one index scan)."""
    statement = (
        select(  # type: ignore[call-overload]
            Proposal.desa_code,
            Proposal.status,
            func.count(),
            func.min(Proposal.submitted_at),
            func.max(Proposal.submitted_at),
            func.min(Proposal.decided_at),
        )
        .where(Proposal.status != Status.DRAFT)
        .group_by(col(Proposal.desa_code), col(Proposal.status))
    )
    figures: dict[str, DesaFigures] = defaultdict(DesaFigures)
    for desa, raw_status, count, first_sent, last_sent, first_decided in await session.exec(statement):
        status = Status(raw_status)
        desa_figures = figures[desa]
        desa_figures.counts[status] = count
        since = first_sent if status is Status.MENUNGGU_CAMAT else first_decided
        if status in WAITING_SINCE and since is not None:
            desa_figures.oldest[status] = since
        if last_sent is not None:
            last = last_sent
            if desa_figures.last_submitted is None or last > desa_figures.last_submitted:
                desa_figures.last_submitted = last
    return dict(figures)


async def activity(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime
) -> dict[str, dict[str, int]]:
    """What happened in [start, end) by desa: how many submits, approvals, returns... (audit actions)."""
    statement = (
        select(Proposal.desa_code, AuditEvent.action, func.count())
        .join(Proposal, col(Proposal.id) == col(AuditEvent.proposal_id))
        .where(col(AuditEvent.at) >= start, col(AuditEvent.at) < end, AuditEvent.action != "reveal_nik")
        .group_by(col(Proposal.desa_code), col(AuditEvent.action))
    )
    by_desa: dict[str, dict[str, int]] = defaultdict(dict)
    for desa, action, count in await session.exec(statement):
        by_desa[desa][action] = count
    return dict(by_desa)


async def overdue(
    session: AsyncSession,
    *,
    status: Status,
    before: dt.datetime,
    desa_codes: Sequence[str],
    by: str,
    keep: int,
) -> dict[str, Overdue]:
    """Proposals in ``status`` waiting since before ``before``, per desa or kecamatan (``by``): the count
    and the ``keep`` oldest of each area with any.

    Asked desa by desa: each question is a range of ``ix_proposal_desa_status_times`` and never reads the
    table, where one kabupaten-wide ranking read and sorted every waiting row (0,6 s for 150.000 returned
    proposals; measured with benchmarks/summary.py). The few rows listed are then read by id.
    """
    since = col(WAITING_SINCE[status])
    counts: dict[str, int] = {}
    listed: list[int] = []
    for desa in desa_codes:
        rows = await session.exec(
            select(col(Proposal.id), func.count().over())
            .where(col(Proposal.desa_code) == desa, col(Proposal.status) == status.value, since < before)
            .order_by(since, col(Proposal.id))
            .limit(max(keep, 1))
        )
        for pid, total in rows:
            counts[desa] = total
            if keep > 0 and pid is not None:
                listed.append(pid)
    items: list[Waiting] = []
    if listed:
        details = await session.exec(
            select(  # type: ignore[call-overload]
                col(Proposal.id), col(Proposal.name), col(Proposal.desa_code), col(Proposal.kecamatan_code),
                since, col(Proposal.fix_fields),
            ).where(col(Proposal.id).in_(listed))
        )  # fmt: skip
        for pid, name, desa, kecamatan, since_at, fix_fields in details:
            items.append(
                Waiting(
                    id=pid,
                    name=name or "",
                    desa_code=desa,
                    kecamatan_code=kecamatan,
                    since=since_at,
                    fix_fields=tuple(fix_fields or ()),
                )
            )
    items.sort(key=lambda item: (item.since, item.id))
    areas: dict[str, Overdue] = {}
    for desa, count in counts.items():
        area = desa[:8] if by == "kecamatan" else desa  # 12.17.01.2001 is in kecamatan 12.17.01
        areas.setdefault(area, Overdue()).count += count
    for item in items:
        found = areas[item.kecamatan_code if by == "kecamatan" else item.desa_code]
        if len(found.oldest) < keep:
            found.oldest.append(item)
    return areas


@dataclass(frozen=True, slots=True)
class Recipient:
    """An officer the scheduled messages go to, with every chat account they are bound on."""

    officer: Officer
    accounts: tuple[ChatAccount, ...]


async def recipients(session: AsyncSession, *, reach_unbound: str | None = None) -> list[Recipient]:
    """Active officers bound on at least one channel, with their accounts, in roster order; with
    ``reach_unbound``, those bound nowhere too, by their roster phone on that channel (one query)."""
    statement = select(Officer, ChatAccount)
    if reach_unbound is None:
        statement = statement.join(ChatAccount, col(ChatAccount.officer_id) == col(Officer.id))
    else:
        statement = statement.outerjoin(ChatAccount, col(ChatAccount.officer_id) == col(Officer.id))
    rows = await session.exec(
        statement.where(col(Officer.active).is_(True)).order_by(col(Officer.id), col(ChatAccount.id))
    )
    grouped: dict[int, tuple[Officer, list[ChatAccount]]] = {}
    for officer, account in rows:
        assert officer.id is not None
        accounts = grouped.setdefault(officer.id, (officer, []))[1]
        if account is not None:
            accounts.append(account)
        elif reach_unbound is not None:
            accounts.append(store.unbound_account(officer, reach_unbound))
    return [Recipient(officer, tuple(accounts)) for officer, accounts in grouped.values()]


@dataclass(frozen=True, slots=True)
class Unreachable:
    officer: Officer
    reason: str  # "never_onboarded", or the last failed delivery's reason ("blocked", ...)


async def unreachable(session: AsyncSession, *, reach_unbound: str | None = None) -> list[Unreachable]:
    """Active officers nothing can reach: never bound to a chat (or unbound by a roster change since), or
    whose last message failed for good (blocked). Those taken off the roster are nobody to chase.

    With ``reach_unbound`` (WhatsApp), an officer bound nowhere is still reached there by a template to
    their roster phone: listed only if a delivery to them failed (not a WhatsApp user).
    """
    found: list[Unreachable] = []
    if reach_unbound is None:
        bound = select(ChatAccount.officer_id).where(col(ChatAccount.officer_id).is_not(None))
        never = await session.exec(
            select(Officer)
            .where(col(Officer.id).not_in(bound), col(Officer.active).is_(True))
            .order_by(col(Officer.id))
        )
        found = [Unreachable(officer, "never_onboarded") for officer in never]
    # The last delivery to each officer decides: a later success means they unblocked the bot. Messages
    # not sent yet (pending, or waiting for the person to write) decide nothing.
    unsent = [Delivery.PENDING.value, Delivery.WAITING.value]
    last = (
        select(OutboundMessage.officer_id, func.max(OutboundMessage.id).label("last_id"))
        .where(col(OutboundMessage.officer_id).is_not(None), col(OutboundMessage.status).not_in(unsent))
        .group_by(col(OutboundMessage.officer_id))
        .subquery()
    )
    rows = await session.exec(
        select(Officer, OutboundMessage.error)
        .join(last, last.c.officer_id == col(Officer.id))
        .join(OutboundMessage, col(OutboundMessage.id) == last.c.last_id)
        .where(
            OutboundMessage.status == Delivery.FAILED,
            col(OutboundMessage.error).in_(UNREACHABLE_REASONS),
            col(Officer.active).is_(True),
        )
        .order_by(col(Officer.id))
    )
    # An officer unbound since their last message failed is listed once, as not onboarded.
    listed = {u.officer.id for u in found}
    found.extend(Unreachable(o, error or "blocked") for o, error in rows if o.id not in listed)
    return found
