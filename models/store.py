"""Database functions (keyword-only, one session passed in): the only place that writes SQL for the bot."""

from __future__ import annotations

import datetime as dt
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, case, delete, func, or_, text, update
from sqlalchemy import event as sa_event
from sqlalchemy import insert as sa_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.db import SessionMaker, when_free
from models.rules.status import LIVE_STATUSES, Role, Status
from models.tables import (
    ActiveParticipant,
    AuditEvent,
    CardCopy,
    ChatAccount,
    ChatWindow,
    Conversation,
    Delivery,
    Dispatch,
    ExportRecord,
    InboundUpdate,
    Lease,
    Officer,
    OfficerCreate,
    OutboundMessage,
    ProgramAudit,
    ProgramYear,
    Proposal,
    Purpose,
    RegistryActive,
    RegistryBatch,
    RegistryEntry,
    RegistryLookup,
    utcnow,
)

LIVE_NIK_INDEX = "uq_proposal_live_nik"


class DuplicateLiveNik(Exception):
    """The live-NIK unique key refused a proposal: another officer's proposal of the NIK committed first."""


async def flush_proposal_changes(session: AsyncSession) -> None:
    """Flush pending changes, turning the live-NIK unique key's refusal into :class:`DuplicateLiveNik`."""
    try:
        await session.flush()
    except IntegrityError as error:
        # PostgreSQL names the index; SQLite names the column of a unique index.
        message = str(error.orig)
        if LIVE_NIK_INDEX in message or "proposal.nik_hash" in message:
            raise DuplicateLiveNik from error
        raise


# The two statements of every update, built once: constructing them per call was measurable.
_TURN_STATE = (
    select(ChatAccount, Officer, Conversation, Proposal)
    # An inactive officer is no officer: their account gets the unknown user's answer at once.
    .outerjoin(Officer, and_(col(Officer.id) == col(ChatAccount.officer_id), col(Officer.active).is_(True)))
    .outerjoin(Conversation, col(Conversation.officer_id) == col(Officer.id))
    .outerjoin(Proposal, col(Proposal.id) == col(Conversation.proposal_id))
    .where(ChatAccount.channel == bindparam("channel"), ChatAccount.external_id == bindparam("external_id"))
)
_CLAIM = (
    update(InboundUpdate)
    .execution_options(synchronize_session=False)  # no loaded rows to keep in step
    .where(
        col(InboundUpdate.channel) == bindparam("in_channel"),
        col(InboundUpdate.update_id) == bindparam("in_update_id"),
        col(InboundUpdate.handled_at).is_(None),
    )
    # bind names differ from the columns': UPDATE reserves the column names for its SET clause
    .values(handled_at=bindparam("in_now"), payload="")  # keep no message longer than needed (UU PDP)
)


async def turn_state(
    session: AsyncSession, *, channel: str, external_id: str
) -> tuple[ChatAccount | None, Officer | None, Conversation | None, Proposal | None]:
    """A chat account, its officer, their open conversation and its draft: one query.

    While the caller holds the conversation and draft, they sit in the session's identity map (it keeps
    only weak references), so the handlers' ``session.get`` of them costs no further round trip.
    """
    row = (await session.exec(_TURN_STATE, params={"channel": channel, "external_id": external_id})).first()
    if row is None:
        return None, None, None, None
    return row[0], row[1], row[2], row[3]


async def officer_by_phone(session: AsyncSession, *, phone: str) -> Officer | None:
    """The roster row of a phone number (E.164), active or not."""
    return (await session.exec(select(Officer).where(Officer.phone == phone))).first()


async def bind_account(
    session: AsyncSession, *, channel: str, external_id: str, chat_id: str, officer: Officer
) -> ChatAccount:
    """Bind a channel account to an officer; an officer has one account per channel (a new phone wins)."""
    assert officer.id is not None
    if not officer.active:
        raise ValueError("an inactive officer cannot be bound to a chat account")
    previous = await session.exec(
        select(ChatAccount).where(ChatAccount.channel == channel, ChatAccount.officer_id == officer.id)
    )
    for old in previous:
        if old.external_id != external_id:
            old.officer_id = None
            old.bound_at = None
            session.add(old)
    account = (
        await session.exec(
            select(ChatAccount).where(ChatAccount.channel == channel, ChatAccount.external_id == external_id)
        )
    ).first()
    if account is None:
        account = ChatAccount(channel=channel, external_id=external_id, chat_id=chat_id)
    account.chat_id = chat_id
    account.officer_id = officer.id
    account.bound_at = utcnow()
    session.add(account)
    return account


# What identifies the person behind a roster row besides the phone: a change of any of them may be a new
# person on a recycled number, so their chat accounts are unbound and the holder onboards again.
IDENTITY_FIELDS = ("name", "role", "region_code")


@dataclass(frozen=True, slots=True)
class RosterChange:
    """What saving one roster row (or deactivating one officer) did."""

    officer: Officer
    kind: str  # "added", "updated", "reactivated", "unchanged", "deactivated"
    changed: tuple[str, ...] = ()  # of IDENTITY_FIELDS
    unbound: int = 0  # chat accounts unbound


async def unbind_officer(session: AsyncSession, *, officer_id: int) -> int:
    """Unbind every chat account of an officer and drop what was open or queued for them; returns how
    many accounts were bound.

    Whoever holds the accounts now may be someone else (a recycled number, a moved officer): their open
    conversation goes (a draft holds a typed NIK, an approver's half-taken decision fits a role they may
    no longer have), messages not yet sent to them are not sent, and their copies of approval cards get no
    outcome written on them.
    """
    unbound = await session.exec(
        update(ChatAccount)
        .execution_options(synchronize_session="fetch")
        .where(col(ChatAccount.officer_id) == officer_id)
        .values(officer_id=None, bound_at=None)
    )
    conversation = await session.get(Conversation, officer_id)
    if conversation is not None:
        draft = await session.get(Proposal, conversation.proposal_id) if conversation.proposal_id else None
        await session.delete(conversation)
        await session.flush()
        if draft is not None and draft.status is Status.DRAFT:
            await session.delete(draft)
    await session.exec(
        delete(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(
            col(OutboundMessage.officer_id) == officer_id,
            col(OutboundMessage.status).in_([Delivery.PENDING.value, Delivery.WAITING.value]),
        )
    )
    await session.exec(
        update(CardCopy)
        .execution_options(synchronize_session=False)
        .where(col(CardCopy.officer_id) == officer_id, col(CardCopy.closed).is_(False))
        .values(closed=True)
    )
    return int(unbound.rowcount)


async def upsert_officer(session: AsyncSession, *, data: OfficerCreate) -> tuple[Officer, bool]:
    """Insert or update an officer by phone number; returns (officer, created). See :func:`save_officer`."""
    existing = await officer_by_phone(session, phone=data.phone)
    change = await save_officer(session, data=data, existing=existing)
    return change.officer, change.kind == "added"


async def save_officer(
    session: AsyncSession, *, data: OfficerCreate, existing: Officer | None
) -> RosterChange:
    """Insert or update an officer by phone number (the roster's key), active; ``existing``: the officer
    of that phone now, if any.

    A changed name, role or region, or a reactivation, unbinds the officer's chat accounts
    (:func:`unbind_officer`): the holder of the number shares it again to be recognised.
    """
    officer = existing
    if officer is None:
        officer = Officer.model_validate(data)
        session.add(officer)
        await session.flush()
        return RosterChange(officer, "added")
    assert officer.id is not None
    changed = tuple(f for f in IDENTITY_FIELDS if getattr(officer, f) != getattr(data, f))
    reactivated = not officer.active
    if not changed and not reactivated:
        return RosterChange(officer, "unchanged")
    unbound = await unbind_officer(session, officer_id=officer.id)
    officer.sqlmodel_update(data.model_dump())
    officer.active, officer.deactivated_at = True, None
    officer.updated_at = utcnow()
    session.add(officer)
    return RosterChange(officer, "reactivated" if reactivated else "updated", changed, unbound)


async def deactivate_officer(session: AsyncSession, *, officer: Officer) -> RosterChange:
    """Take an officer off the roster: inactive from now (the row stays for the audit trail), every chat
    account unbound. Their proposals stay with their desa and kecamatan."""
    assert officer.id is not None
    unbound = await unbind_officer(session, officer_id=officer.id)
    if officer.active:
        officer.active, officer.deactivated_at = False, utcnow()
        officer.updated_at = officer.deactivated_at
        session.add(officer)
    return RosterChange(officer, "deactivated", unbound=unbound)


async def apply_roster(
    session: AsyncSession, *, rows: list[OfficerCreate], authoritative: bool
) -> list[RosterChange]:
    """Save a roster file's rows; when ``authoritative``, every active officer absent from them is
    deactivated. Returns what changed for each officer (unchanged rows included), in file order then the
    deactivated ones by id. The caller commits, or rolls back for a dry run."""
    officers = {o.phone: o for o in await session.exec(select(Officer).order_by(col(Officer.id)))}
    changes = [await save_officer(session, data=row, existing=officers.get(row.phone)) for row in rows]
    if authoritative:
        listed = {row.phone for row in rows}
        for phone, officer in officers.items():
            if officer.active and phone not in listed:
                changes.append(await deactivate_officer(session, officer=officer))
    return changes


def _hash_list(nik_hash: str | Sequence[str]) -> list[str]:
    """One hash, or the hashes of one NIK to try (``vault.hashes``: two while the secret is rotated)."""
    return [nik_hash] if isinstance(nik_hash, str) else list(nik_hash)


async def live_proposal_with_nik(
    session: AsyncSession, *, nik_hash: str | Sequence[str], exclude_id: int | None = None
) -> Proposal | None:
    """The proposal (not rejected, not a draft) that already carries this NIK (under any of its hashes)."""
    if exclude_id is None:
        found = await session.exec(_LIVE_WITH_NIK, params={"nik_hash": _hash_list(nik_hash)})
    else:
        found = await session.exec(
            _LIVE_WITH_NIK_BUT, params={"nik_hash": _hash_list(nik_hash), "exclude_id": exclude_id}
        )
    return cast(Proposal | None, found.first())


async def officer_proposals(
    session: AsyncSession, *, officer_id: int, limit: int
) -> tuple[list[Proposal], int]:
    """An officer's sent proposals, newest first, and how many there are in all."""
    sent = Proposal.officer_id == officer_id, Proposal.status != Status.DRAFT
    rows = await session.exec(select(Proposal).where(*sent).order_by(col(Proposal.id).desc()).limit(limit))
    total = await session.exec(select(func.count()).select_from(Proposal).where(*sent))
    return list(rows), total.one()


async def record_audit(
    session: AsyncSession,
    *,
    proposal_id: int,
    actor: Officer,
    action: str,
    from_status: Status | None,
    to_status: Status | None,
    reason: str | None = None,
) -> None:
    """Append an audit event, with who acted as the roster describes them now (the row may change later)."""
    assert actor.id is not None
    session.add(
        AuditEvent(
            proposal_id=proposal_id,
            officer_id=actor.id,
            actor_name=actor.name,
            actor_role=actor.role.value,
            actor_region=actor.region_code,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            reason=reason,
        )
    )


async def submitted_by(session: AsyncSession, *, proposal_id: int, officer_id: int) -> bool:
    """Whether this officer proposed, or sent a correction of, the proposal (the trail says)."""
    found = await session.exec(
        select(AuditEvent.id).where(
            col(AuditEvent.proposal_id) == proposal_id,
            col(AuditEvent.officer_id) == officer_id,
            col(AuditEvent.action).in_(["submit", "resubmit"]),
        )
    )
    return found.first() is not None


async def conversation_of(session: AsyncSession, *, officer_id: int) -> Conversation | None:
    return await session.get(Conversation, officer_id)


# -------------------------------------------------------------------------------------------------- inbox


async def record_inbound(
    session: AsyncSession, *, channel: str, updates: Sequence[tuple[str, str, str | None]]
) -> list[str]:
    """Record received updates (the channel's id, encrypted payload, the sender as an Inbound's user_id)
    not seen before, in the order given; returns the ids that were new. A repeated delivery (Meta retries a
    webhook) is recorded once."""
    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for update_id, payload, person in updates:  # twice in one delivery: once
        rows.setdefault(
            update_id,
            {
                "channel": channel,
                "update_id": update_id,
                "payload": payload,
                "person": person,
                "received_at": now,
                "handled_at": None,
            },
        )
    if not rows:
        return []
    # One statement: the ids already known are skipped by the unique key, the new ones come back.
    insert = _insert_for(session)(InboundUpdate).on_conflict_do_nothing(
        index_elements=["channel", "update_id"]
    )
    connection = await session.connection()
    inserted = await connection.execute(insert.returning(col(InboundUpdate.update_id)), list(rows.values()))
    new = {str(update_id) for (update_id,) in inserted}
    return [update_id for update_id in rows if update_id in new]


async def each_statement_alone(session: AsyncSession) -> None:
    """On PostgreSQL, run the session's statements each in its own implicit transaction (autocommit): no
    BEGIN and COMMIT round trips, for a write that is one statement. Called before the first statement;
    on SQLite (calls on the loop, no round trips) the session stays as it is."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def hold_lock(session: AsyncSession, *, key: str) -> None:
    """Hold the lock named ``key`` until the transaction ends, so that processes sharing a PostgreSQL
    database take turns (SQLite, one writer at a time, needs none: it returns at once)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        connection = await session.connection()
        await connection.execute(_LOCK, {"key": key})


class EarlierPending(Exception):
    """An earlier update of the same person is not handled yet (by another process): wait for it."""


# PostgreSQL: one person's turns one at a time across processes (a lock held until the transaction ends),
# and in the order their updates were received.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")
# The lock and the check in one round trip. The check may see the rows as they were before the lock was
# granted (one snapshot per statement): an earlier update handled meanwhile then looks pending, and the
# turn is tried again; one seen handled stays handled, so "none pending" is always right.
_PERSON_TURN = text(
    "SELECT EXISTS (SELECT 1 FROM inboundupdate AS earlier JOIN inboundupdate AS mine"
    " ON mine.channel = earlier.channel AND mine.update_id = :update_id"
    " WHERE earlier.channel = :channel AND earlier.person = :person AND earlier.handled_at IS NULL"
    " AND earlier.seq < mine.seq)"
    " FROM (SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))) AS locked"
)


async def take_person_turn(
    session: AsyncSession, *, channel: str, person: str, update_id: str, in_order: bool = True
) -> None:
    """Hold this person's turn for the transaction (PostgreSQL, several processes); with ``in_order``,
    raises :class:`EarlierPending` while an update of theirs received before this one is not handled."""
    connection = await session.connection()
    key = f"{channel}:{person}"
    if not in_order:
        await connection.execute(_LOCK, {"key": key})
        return
    earlier = await connection.execute(
        _PERSON_TURN, {"key": key, "channel": channel, "person": person, "update_id": update_id}
    )
    if earlier.scalar():
        raise EarlierPending


async def claim_inbound(session: AsyncSession, *, channel: str, update_id: str) -> bool:
    """Mark an update handled, in the caller's transaction; False when it was handled already.

    An update that was never recorded (the channel has no inbox, or a test) may always be handled.
    """
    claimed = await session.exec(
        _CLAIM, params={"in_channel": channel, "in_update_id": update_id, "in_now": utcnow()}
    )
    if claimed.rowcount == 1:
        return True
    known = await session.exec(_KNOWN_INBOUND, params={"channel": channel, "ids": [update_id]})
    return known.first() is None


async def pending_inbound(session: AsyncSession, *, channel: str) -> list[InboundUpdate]:
    """Updates received but not handled, oldest first: what a crash left in flight."""
    rows = await session.exec(
        select(InboundUpdate)
        .where(InboundUpdate.channel == channel, col(InboundUpdate.handled_at).is_(None))
        .order_by(col(InboundUpdate.seq))
    )
    return list(rows)


async def purge_inbound(session: AsyncSession, *, handled_before: dt.datetime) -> None:
    """Forget handled updates once Telegram can no longer send them again (it keeps them 24 hours)."""
    await session.exec(delete(InboundUpdate).where(col(InboundUpdate.handled_at) < handled_before))


# ------------------------------------------------------------------------------------------- decisions


async def change_status(
    session: AsyncSession, *, proposal: Proposal, to_status: Status, at: dt.datetime, decision: bool = True
) -> bool:
    """Move a proposal from the status (and version) it was read in to ``to_status``; False if it moved
    or was resubmitted meanwhile.

    A guarded UPDATE (compare and set): of two approvers pressing at the same moment, on SQLite or
    PostgreSQL, exactly one changes the row and the other learns it lost.
    """
    assert proposal.id is not None
    changed = await session.exec(
        update(Proposal)
        .execution_options(synchronize_session=False)
        .where(
            col(Proposal.id) == proposal.id,
            col(Proposal.status) == proposal.status.value,
            col(Proposal.resubmissions) == proposal.resubmissions,
        )
        .values(status=to_status.value, updated_at=at, **({"decided_at": at} if decision else {}))
    )
    if changed.rowcount != 1:
        return False
    # Keep the loaded object in step without a reload (the UPDATE bypassed it).
    set_committed_value(proposal, "status", to_status)
    set_committed_value(proposal, "updated_at", at)
    if decision:
        set_committed_value(proposal, "decided_at", at)
    return True


async def take_quota_place(session: AsyncSession, *, year: int, default_quota: int) -> bool:
    """Count one more new participant for ``year`` if its quota has room; False when it is full.

    The quota is the year's figure (``lanjutkan program set``); a year never set starts with
    ``default_quota`` (the setting).
    """
    await _insert_if_missing(
        session, ProgramYear, {"year": year, "new_quota": default_quota, "new_established": 0}
    )
    taken = await session.exec(
        update(ProgramYear)
        .execution_options(synchronize_session=False)
        .where(col(ProgramYear.year) == year, col(ProgramYear.new_established) < col(ProgramYear.new_quota))
        .values(new_established=col(ProgramYear.new_established) + 1)
    )
    return bool(taken.rowcount == 1)


async def program_year(session: AsyncSession, *, year: int, default_quota: int) -> ProgramYear:
    """The year's figures and count (a year never set: the default quota, nothing else known)."""
    found = await session.get(ProgramYear, year, populate_existing=True)
    return found or ProgramYear(year=year, new_quota=default_quota)


async def set_program(
    session: AsyncSession, *, year: int, default_quota: int, figures: dict[str, Any]
) -> ProgramYear:
    """Set some of a year's figures (the others stay); creates the year if needed."""
    await _insert_if_missing(
        session, ProgramYear, {"year": year, "new_quota": default_quota, "new_established": 0}
    )
    program = await session.get(ProgramYear, year, populate_existing=True)
    assert program is not None
    for name, value in figures.items():
        setattr(program, name, value)
    session.add(program)
    _forget_intake_reads_now_and_at_commit(session)  # this process's intake sees the new figures
    return program


async def program_years(session: AsyncSession) -> list[ProgramYear]:
    return list(await session.exec(select(ProgramYear).order_by(col(ProgramYear.year))))


async def status_counts(
    session: AsyncSession, *, kecamatan_code: str | None
) -> list[tuple[str, Status, int]]:
    """Sent proposals counted by area and status: per kecamatan for the kabupaten, per desa for one
    kecamatan."""
    area = col(Proposal.kecamatan_code) if kecamatan_code is None else col(Proposal.desa_code)
    statement = (
        select(area, Proposal.status, func.count())
        .where(Proposal.status != Status.DRAFT)
        .group_by(area, col(Proposal.status))
    )
    if kecamatan_code is not None:
        statement = statement.where(Proposal.kecamatan_code == kecamatan_code)
    return [(code, Status(status), count) for code, status, count in await session.exec(statement)]


async def established_days(
    session: AsyncSession, *, kecamatan_code: str | None, zone: ZoneInfo
) -> list[tuple[dt.date, int]]:
    """Established (ditetapkan) proposals counted by the day, in ``zone``, they were established: the
    coverage and cost they bring. A row per day, not per proposal, whatever their number."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        day: Any = func.date(func.timezone(zone.key, col(Proposal.decided_at)))
    else:
        # SQLite knows no zones; Indonesia's keep one offset all year (WIB +7, WITA +8, WIT +9).
        offset = zone.utcoffset(dt.datetime(2026, 1, 1)) or dt.timedelta(0)
        day = func.date(col(Proposal.decided_at), f"{int(offset.total_seconds() // 60):+d} minutes")
    statement = (
        select(day, func.count())
        .where(Proposal.status == Status.DITETAPKAN, col(Proposal.decided_at).is_not(None))
        .group_by(day)
    )
    if kecamatan_code is not None:
        statement = statement.where(Proposal.kecamatan_code == kecamatan_code)
    return [
        (value if isinstance(value, dt.date) else dt.date.fromisoformat(value), count)
        for value, count in await session.exec(statement)
    ]


async def officers_of(session: AsyncSession, *, role: Role, region_code: str | None = None) -> list[Officer]:
    """The active officers of a role (in one region when given): who gets cards, notices and reminders."""
    statement = select(Officer).where(Officer.role == role, col(Officer.active).is_(True))
    if region_code is not None:
        statement = statement.where(Officer.region_code == region_code)
    return list(await session.exec(statement.order_by(col(Officer.id))))


async def proposal_operators(session: AsyncSession, *, proposal: Proposal) -> list[Officer]:
    """Who hears of a proposal: its proposer while still an active operator of its desa; if the roster has
    moved them off it or taken them off since, the desa's current operators (someone who may act on it)."""
    proposer = await session.get(Officer, proposal.officer_id)
    if (
        proposer is not None
        and proposer.active
        and proposer.role is Role.OPERATOR
        and proposer.region_code == proposal.desa_code
    ):
        return [proposer]
    return await officers_of(session, role=Role.OPERATOR, region_code=proposal.desa_code)


def wa_id(phone: str) -> str:
    """A roster phone (E.164, "+6281234567890") as a WhatsApp id ("6281234567890")."""
    return phone.removeprefix("+")


def unbound_account(officer: Officer, channel: str) -> ChatAccount:
    """Where to reach an officer who never wrote to the bot: their roster phone on ``channel`` (WhatsApp).
    Transient, never added to the session: the account is bound when they write."""
    return ChatAccount(channel=channel, external_id="", chat_id=wa_id(officer.phone), officer_id=officer.id)


async def accounts_of(
    session: AsyncSession, *, officer_id: int, reach_unbound: str | None = None
) -> list[ChatAccount]:
    """Where an officer can be written to: their bound chat accounts (one per channel); none when the
    officer is inactive. An officer bound nowhere is reached by their roster phone on ``reach_unbound``
    when given (see :func:`unbound_account`)."""
    rows = list(
        await session.exec(
            select(ChatAccount)
            .join(Officer, col(Officer.id) == col(ChatAccount.officer_id))
            .where(ChatAccount.officer_id == officer_id, col(Officer.active).is_(True))
            .order_by(col(ChatAccount.id))
        )
    )
    if rows or reach_unbound is None:
        return rows
    officer = await session.get(Officer, officer_id)  # most often in the session already (no query)
    return [unbound_account(officer, reach_unbound)] if officer is not None and officer.active else []


async def accounts_of_officers(
    session: AsyncSession, *, officers: Sequence[Officer], reach_unbound: str | None = None
) -> dict[int, list[ChatAccount]]:
    """:func:`accounts_of` for many officers in one query, by officer id (an officer with nowhere to be
    written to is absent)."""
    active = {o.id: o for o in officers if o.id is not None and o.active}
    if not active:
        return {}
    rows = await session.exec(
        select(ChatAccount).where(col(ChatAccount.officer_id).in_(list(active))).order_by(col(ChatAccount.id))
    )
    found: dict[int, list[ChatAccount]] = {}
    for account in rows:
        if account.officer_id is not None:
            found.setdefault(account.officer_id, []).append(account)
    if reach_unbound is not None:
        for officer_id, officer in active.items():
            if officer_id not in found:
                found[officer_id] = [unbound_account(officer, reach_unbound)]
    return found


def _queue_filter(status: Status, kecamatan_code: str | None) -> list[Any]:
    where: list[Any] = [Proposal.status == status]
    if kecamatan_code is not None:
        where.append(Proposal.kecamatan_code == kecamatan_code)
    return where


async def decision_queue(
    session: AsyncSession, *, status: Status, kecamatan_code: str | None, offset: int, limit: int
) -> tuple[list[Proposal], int]:
    """Proposals waiting in ``status`` (in one kecamatan when given), oldest first, and their count."""
    where = _queue_filter(status, kecamatan_code)
    rows = await session.exec(
        select(Proposal)
        .where(*where)
        .order_by(col(Proposal.submitted_at), col(Proposal.id))
        .offset(offset)
        .limit(limit)
    )
    total = await session.exec(select(func.count()).select_from(Proposal).where(*where))
    return list(rows), total.one()


async def without_warnings(
    session: AsyncSession,
    *,
    status: Status,
    kecamatan_code: str | None,
    up_to_id: int | None = None,
    not_by: int | None = None,
) -> list[Proposal]:
    """Waiting proposals that carry no warning (oldest first), up to an id when given, and not proposed
    or resubmitted by officer ``not_by`` when given."""
    where = _queue_filter(status, kecamatan_code)
    if up_to_id is not None:
        where.append(col(Proposal.id) <= up_to_id)
    if not_by is not None:
        sent_by = select(AuditEvent.id).where(
            col(AuditEvent.proposal_id) == col(Proposal.id),
            col(AuditEvent.officer_id) == not_by,
            col(AuditEvent.action).in_(["submit", "resubmit"]),
        )
        where += [col(Proposal.officer_id) != not_by, ~sent_by.exists()]
    rows = await session.exec(select(Proposal).where(*where).order_by(col(Proposal.id)))
    return [p for p in rows if not p.findings]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted on an audit event, as they were at the time."""

    officer_id: int
    name: str
    role: Role
    region_code: str


def _actor(event: AuditEvent, officer: Officer) -> Actor:
    """The event's own record of its actor; the officer row only for an event that has none."""
    return Actor(
        officer_id=event.officer_id,
        name=event.actor_name or officer.name,
        role=Role(event.actor_role) if event.actor_role else officer.role,
        region_code=event.actor_region or officer.region_code,
    )


async def history(session: AsyncSession, *, proposal_id: int) -> list[tuple[AuditEvent, Actor]]:
    """A proposal's audit trail with who acted (as they were then), oldest first."""
    rows = await session.exec(
        select(AuditEvent, Officer)
        .join(Officer, col(Officer.id) == col(AuditEvent.officer_id))
        .where(AuditEvent.proposal_id == proposal_id)
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    )
    return [(event, _actor(event, officer)) for event, officer in rows]


# -------------------------------------------------------------------------------------------------- outbox


async def queue_message(
    session: AsyncSession,
    *,
    account: ChatAccount | CardCopy,  # where to: a chat account, or the chat a card copy lives in
    text: str,
    buttons: list[list[list[str]]],
    card: CardCopy | None = None,
    edit: bool = False,
    photo: bytes | None = None,
    purpose: Purpose | None = None,  # None: a card's (or its outcome's) when ``card`` is given, else a notice
) -> OutboundMessage:
    """Add a message to the outbox in the caller's transaction; it is sent once that commits."""
    if purpose is None:
        purpose = Purpose.CARD if card is not None else Purpose.NOTICE
    message = OutboundMessage(
        channel=account.channel,
        chat_id=account.chat_id,
        officer_id=account.officer_id,
        card_id=card.id if card else None,
        edit=edit,
        text=text,
        buttons=buttons,  # [[[label, data], ...], ...]: rows of buttons
        photo=photo,
        purpose=purpose.value,
    )
    session.add(message)
    return message


async def open_cards(session: AsyncSession, *, proposal_id: int, stage: Status) -> list[CardCopy]:
    rows = await session.exec(
        select(CardCopy)
        .where(
            CardCopy.proposal_id == proposal_id,
            CardCopy.stage == stage.value,
            col(CardCopy.closed).is_(False),
        )
        .order_by(col(CardCopy.id))
    )
    return list(rows)


# The oldest unsent message of each chat: the only one of a chat that may be sent (or be waited for). A
# reply still being sent directly by the process that handled its turn heads its chat too: nothing queued
# after it may overtake it, nor, after a crash, before it is taken over. So does a message waiting for the
# person to open their reply window (WhatsApp): it is never due, and what was queued after it waits too.
_UNSENT = (Delivery.PENDING.value, Delivery.DIRECT.value, Delivery.WAITING.value)
_HEAD_IDS = (
    select(func.min(OutboundMessage.id))
    .where(col(OutboundMessage.status).in_(_UNSENT))
    .group_by(col(OutboundMessage.channel), col(OutboundMessage.chat_id))
)
_HEADS = (
    select(OutboundMessage)
    .where(
        col(OutboundMessage.id).in_(_HEAD_IDS),
        OutboundMessage.status == Delivery.PENDING,
        col(OutboundMessage.next_attempt_at) <= bindparam("now"),
        col(OutboundMessage.channel).in_(bindparam("channels", expanding=True)),
    )
    .order_by(col(OutboundMessage.id))
    .limit(bindparam("limit"))
)


async def due_messages(
    session: AsyncSession, *, now: dt.datetime, channels: list[str], limit: int
) -> list[OutboundMessage]:
    """The oldest pending message of each chat, if it is due: a chat's next message waits for the one
    before it, so each chat receives its messages in order even while one is being retried."""
    rows = await session.exec(_HEADS, params={"now": now, "channels": channels, "limit": limit})
    return list(rows)


async def next_due_at(session: AsyncSession, *, channels: list[str]) -> dt.datetime | None:
    """When the earliest waiting (retrying) head of a chat becomes due; messages queued behind a head
    wait for it, whatever their own time."""
    found = await session.exec(
        select(func.min(OutboundMessage.next_attempt_at)).where(
            col(OutboundMessage.id).in_(_HEAD_IDS),
            OutboundMessage.status == Delivery.PENDING,
            col(OutboundMessage.channel).in_(channels),
        )
    )
    return found.one()


# ------------------------------------------------------------------------------------- reply windows

# The oldest message of each chat still to be sent, a waiting one aside: on a channel with a reply window
# the outbox looks at it even behind waiting ones (never sending it before them), to hold it with them.
_LIVE_IDS = (
    select(func.min(OutboundMessage.id))
    .where(col(OutboundMessage.status).in_([Delivery.PENDING.value, Delivery.DIRECT.value]))
    .group_by(col(OutboundMessage.channel), col(OutboundMessage.chat_id))
)
_EARLIER = aliased(OutboundMessage)
_BEHIND_WAITING = (
    select(_EARLIER.id)
    .where(
        _EARLIER.channel == OutboundMessage.channel,
        _EARLIER.chat_id == OutboundMessage.chat_id,
        _EARLIER.status == Delivery.WAITING,
        col(_EARLIER.id) < col(OutboundMessage.id),
    )
    .exists()
)
_WINDOW_HEADS = (
    select(OutboundMessage, ChatWindow.last_inbound_at, ChatWindow.template_at, _BEHIND_WAITING)
    .outerjoin(
        ChatWindow,
        and_(
            col(ChatWindow.channel) == col(OutboundMessage.channel),
            col(ChatWindow.chat_id) == col(OutboundMessage.chat_id),
        ),
    )
    .where(
        col(OutboundMessage.id).in_(_LIVE_IDS),
        OutboundMessage.status == Delivery.PENDING,
        col(OutboundMessage.next_attempt_at) <= bindparam("now"),
        col(OutboundMessage.channel).in_(bindparam("channels", expanding=True)),
    )
    .order_by(col(OutboundMessage.id))
    .limit(bindparam("limit"))
)


@dataclass(frozen=True, slots=True)
class Window:
    """A chat's reply window as read with its head: when the person last wrote, the last template, and
    whether an earlier message of the chat waits for them (then this one may not go before it)."""

    last_inbound_at: dt.datetime | None
    template_at: dt.datetime | None
    behind_waiting: bool


async def due_in_window(
    session: AsyncSession, *, now: dt.datetime, channels: list[str], limit: int
) -> list[tuple[OutboundMessage, Window]]:
    """:func:`due_messages` for a channel with a reply window, each with its chat's window (one query).

    A pending message queued behind waiting ones is returned too, to be held with them: never sent first.
    """
    rows = await session.exec(_WINDOW_HEADS, params={"now": now, "channels": channels, "limit": limit})
    return [(message, Window(last, template, bool(behind))) for message, last, template, behind in rows]


def _insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, for ON CONFLICT (SQLite and PostgreSQL)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql_insert if dialect == "postgresql" else sqlite_insert


async def release_waiting(session: AsyncSession, *, channel: str, chat_id: str, at: dt.datetime) -> int:
    """The chat's messages waiting for the person to write are due at ``at``, in their order; how many."""
    released = await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(
            col(OutboundMessage.status) == Delivery.WAITING,
            col(OutboundMessage.channel) == channel,
            col(OutboundMessage.chat_id) == chat_id,
        )
        .values(status=Delivery.PENDING.value, next_attempt_at=at, attempts=0, error=None)
    )
    return int(released.rowcount)


async def open_window(
    session: AsyncSession, *, channel: str, chat_id: str, at: dt.datetime, release: bool = True
) -> int:
    """The person wrote at ``at`` (in the transaction recording their message): their window is open, and
    what waited for it is due now, in its order; returns how many messages were released (ring the
    doorbell after the commit if any). ``release=False``: the caller releases them later
    (:func:`release_waiting`), after its answer to the message, which then comes first; returns how many
    wait (a read, no write when none do)."""
    insert = _insert_for(session)
    statement = insert(ChatWindow).values(channel=channel, chat_id=chat_id, last_inbound_at=at)
    newer = statement.excluded.last_inbound_at
    current = col(ChatWindow.last_inbound_at)
    # Webhooks may arrive out of order: an older message never moves the window back.
    statement = statement.on_conflict_do_update(
        index_elements=["channel", "chat_id"],
        set_={"last_inbound_at": case((or_(current.is_(None), current < newer), newer), else_=current)},
    )
    await session.exec(statement)
    if release:
        return await release_waiting(session, channel=channel, chat_id=chat_id, at=at)
    waiting = await session.exec(
        select(func.count())
        .select_from(OutboundMessage)
        .where(
            col(OutboundMessage.status) == Delivery.WAITING,
            col(OutboundMessage.channel) == channel,
            col(OutboundMessage.chat_id) == chat_id,
        )
    )
    return int(waiting.one())


async def release_open(session: AsyncSession, *, channel: str, since: dt.datetime, at: dt.datetime) -> int:
    """Release what waits for people who wrote since ``since`` (their window is open): after a restart,
    for a message answered before the stop whose release the stop cut off."""
    opened = select(ChatWindow.chat_id).where(
        col(ChatWindow.channel) == channel, col(ChatWindow.last_inbound_at) >= since
    )
    released = await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(
            col(OutboundMessage.status) == Delivery.WAITING,
            col(OutboundMessage.channel) == channel,
            col(OutboundMessage.chat_id).in_(opened),
        )
        .values(status=Delivery.PENDING.value, next_attempt_at=at, attempts=0, error=None)
    )
    return int(released.rowcount)


async def hold_for_window(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    open_since: dt.datetime,
    template_at: dt.datetime | None,
    now: dt.datetime,
) -> int:
    """Make the chat's pending messages (not replies) wait for the person to write, recording a template
    sent at ``template_at``; returns how many wait now.

    The chat's window row is written first, so it is locked for the transaction: :func:`open_window` of
    the same chat waits for it and then releases what this one held. If the person wrote since the
    outbox looked (``last_inbound_at`` at or after ``open_since``), nothing is held and what waited is
    released instead.
    """
    insert = _insert_for(session)
    statement = insert(ChatWindow).values(channel=channel, chat_id=chat_id, template_at=template_at)
    statement = statement.on_conflict_do_update(
        index_elements=["channel", "chat_id"],
        set_={"template_at": func.coalesce(statement.excluded.template_at, col(ChatWindow.template_at))},
    ).returning(col(ChatWindow.last_inbound_at))
    last_inbound = (await session.exec(statement)).scalar_one()
    if last_inbound is not None and last_inbound >= open_since:
        await release_waiting(session, channel=channel, chat_id=chat_id, at=now)
        return 0
    await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(
            col(OutboundMessage.status) == Delivery.PENDING,
            col(OutboundMessage.channel) == channel,
            col(OutboundMessage.chat_id) == chat_id,
            col(OutboundMessage.reply).is_(False),
        )
        .values(status=Delivery.WAITING.value)
    )
    return await waiting_count(session, channel=channel, chat_id=chat_id)


async def waiting_count(session: AsyncSession, *, channel: str, chat_id: str) -> int:
    """How many messages (not replies) wait for the person or are still to be sent to them."""
    found = await session.exec(
        select(func.count())
        .select_from(OutboundMessage)
        .where(
            col(OutboundMessage.status).in_([Delivery.PENDING.value, Delivery.WAITING.value]),
            col(OutboundMessage.channel) == channel,
            col(OutboundMessage.chat_id) == chat_id,
            col(OutboundMessage.reply).is_(False),
        )
    )
    return found.one()


async def fail_waiting(
    session: AsyncSession, *, channel: str, chat_id: str, at: dt.datetime, error: str
) -> int:
    """The person cannot be reached at all (the template was refused: not a WhatsApp user): everything
    pending or waiting for them fails with the reason, for the dinas to follow up."""
    failed = await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(
            col(OutboundMessage.status).in_([Delivery.PENDING.value, Delivery.WAITING.value]),
            col(OutboundMessage.channel) == channel,
            col(OutboundMessage.chat_id) == chat_id,
            col(OutboundMessage.reply).is_(False),
        )
        .values(status=Delivery.FAILED.value, sent_at=at, error=error[:120], payload=None)
    )
    return int(failed.rowcount)


async def window_refused(session: AsyncSession, *, channel: str, chat_id: str, before: dt.datetime) -> None:
    """The chat app refused a message outside the window we thought open: forget the person's writing
    recorded before ``before`` and the template since, so the next look sends a template and holds."""
    last = col(ChatWindow.last_inbound_at)
    await session.exec(
        update(ChatWindow)
        .execution_options(synchronize_session=False)
        .where(
            col(ChatWindow.channel) == channel,
            col(ChatWindow.chat_id) == chat_id,
            or_(last.is_(None), last <= before),
        )
        .values(last_inbound_at=None, template_at=None)
    )


async def delivery_failed(
    session: AsyncSession,
    *,
    channel: str,
    message_ref: str,
    reason: str,
    outside_window: bool,
    at: dt.datetime,
) -> bool:
    """A message the chat app accepted was reported failed later (a WhatsApp status); whether one matched.

    Outside the window (131047): it goes back to be sent again once the person writes (a template asks
    them on the outbox's next look). Otherwise it failed for good, with ``reason``.
    """
    message = (
        await session.exec(
            select(OutboundMessage)
            .where(col(OutboundMessage.message_ref) == message_ref, col(OutboundMessage.channel) == channel)
            .order_by(col(OutboundMessage.id).desc())
            .limit(1)
        )
    ).first()
    if message is None:
        return False
    if message.status != Delivery.SENT:
        return True  # reported before (a repeated status), or sent again since
    if outside_window and not message.reply:  # a reply's text is gone once sent: it cannot go again
        # The window row first, as hold_for_window and open_window lock it: never a deadlock with them.
        sent_at = message.sent_at or at
        await window_refused(session, channel=channel, chat_id=message.chat_id, before=sent_at)
        # Pending, not waiting: the outbox's next look finds the window closed, asks with a template and
        # holds it (and what follows) until the person writes.
        await session.exec(
            update(OutboundMessage)
            .execution_options(synchronize_session=False)
            .where(col(OutboundMessage.id) == message.id)
            .values(status=Delivery.PENDING.value, sent_at=None, next_attempt_at=at, error=reason[:120])
        )
    else:
        await session.exec(
            update(OutboundMessage)
            .execution_options(synchronize_session=False)
            .where(col(OutboundMessage.id) == message.id)
            .values(status=Delivery.FAILED.value, error=reason[:120], payload=None)
        )
    return True


async def mark_sent(
    session: AsyncSession, *, message: OutboundMessage, message_ref: str | None, at: dt.datetime
) -> None:
    """Record a delivery (and, for a card, where it landed, so its outcome can be written on it)."""
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message.id)
        .values(
            status=Delivery.SENT.value,
            sent_at=at,
            attempts=message.attempts + 1,
            error=None,
            payload=None,
            progress=message.progress + 1 if message.reply else message.progress,
            # Where a failure reported later (a WhatsApp status) finds it; a reply keeps its last part's
            **({"message_ref": message_ref} if message_ref is not None else {}),
        )
    )
    if message.card_id is not None and not message.edit and message_ref is not None:
        await session.exec(
            update(CardCopy).where(col(CardCopy.id) == message.card_id).values(message_ref=message_ref)
        )


async def mark_retry(session: AsyncSession, *, message: OutboundMessage, at: dt.datetime, error: str) -> None:
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message.id)
        .values(next_attempt_at=at, attempts=message.attempts + 1, error=error[:120])
    )


async def mark_failed(
    session: AsyncSession, *, message: OutboundMessage, at: dt.datetime, error: str
) -> None:
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message.id)
        .values(
            status=Delivery.FAILED.value,
            sent_at=at,
            attempts=message.attempts + 1,
            error=error[:120],
            payload=None,
        )
    )


async def card_message_ref(session: AsyncSession, *, card_id: int) -> str | None:
    found = await session.exec(select(CardCopy.message_ref).where(CardCopy.id == card_id))
    return found.first()


async def failed_deliveries(
    session: AsyncSession, *, limit: int
) -> tuple[list[tuple[OutboundMessage, Officer | None]], int]:
    """Permanently failed messages, newest first, with their intended officer, and how many in all."""
    failed = OutboundMessage.status == Delivery.FAILED
    rows = await session.exec(
        select(OutboundMessage, Officer)
        .outerjoin(Officer, col(Officer.id) == col(OutboundMessage.officer_id))
        .where(failed)
        .order_by(col(OutboundMessage.id).desc())
        .limit(limit)
    )
    total = await session.exec(select(func.count()).select_from(OutboundMessage).where(failed))
    return [(m, o) for m, o in rows], total.one()


async def purge_outbound(session: AsyncSession, *, sent_before: dt.datetime) -> None:
    """Forget delivered messages after a while (failures stay for the dinas to follow up)."""
    await session.exec(
        delete(OutboundMessage).where(
            col(OutboundMessage.status).in_([Delivery.SENT.value, Delivery.SUPERSEDED.value]),
            col(OutboundMessage.sent_at) < sent_before,
        )
    )


async def take_lease(
    session: AsyncSession,
    *,
    name: str,
    holder: str,
    now: dt.datetime,
    ttl: dt.timedelta,
    dead: str | None = None,
) -> bool:
    """Hold (or keep holding) a named lease until now + ttl; False while another process holds it.

    ``dead``: a holder known to be dead (its process is gone), whose lease is taken before it expires.
    """
    taken = (col(Lease.holder) == holder) | (col(Lease.expires_at) < now)
    if dead is not None:
        taken = taken | (col(Lease.holder) == dead)
    renewed = await session.exec(
        update(Lease).where(col(Lease.name) == name, taken).values(holder=holder, expires_at=now + ttl)
    )
    if renewed.rowcount == 1:
        return True
    # No row yet: create it; of two processes doing so at once, one inserts and the other gets nothing.
    return await _insert_if_missing(session, Lease, {"name": name, "holder": holder, "expires_at": now + ttl})


async def release_lease(session: AsyncSession, *, name: str, holder: str) -> None:
    await session.exec(delete(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder))


async def lease_of(session: AsyncSession, *, name: str) -> Lease | None:
    """A lease as it stands (its holder and until when), or None when nobody ever took it."""
    return await session.get(Lease, name, populate_existing=True)


async def live_holders(session: AsyncSession, *, prefix: str, now: dt.datetime) -> set[str]:
    """The holders of the unexpired leases whose name starts with ``prefix`` (processes' heartbeats)."""
    rows = await session.exec(
        select(Lease.holder).where(col(Lease.name).startswith(prefix), col(Lease.expires_at) >= now)
    )
    return set(rows)


async def extend_lease(session: AsyncSession, *, name: str, holder: str, until: dt.datetime) -> None:
    """Make a lease last at least until ``until`` (whoever holds it): a shared pause, such as a 429's."""
    if not await _insert_if_missing(session, Lease, {"name": name, "holder": holder, "expires_at": until}):
        await session.exec(
            update(Lease)
            .where(col(Lease.name) == name, col(Lease.expires_at) < until)
            .values(holder=holder, expires_at=until)
        )


# --------------------------------------------------------------------------------------------- replies


# Written as SQL, not built from the model: it runs on every turn, and SQLAlchemy's ORM statement path costs
# 2,5 times as much per turn (measured: 540 µs against 300 µs for the whole transaction on SQLite).
_INSERT_REPLY = text(
    "INSERT INTO outboundmessage (channel, chat_id, officer_id, edit, text, buttons, status, attempts,"
    " next_attempt_at, created_at, reply, payload, update_id, holder, progress, purpose)"
    " VALUES (:channel, :chat_id, :officer_id, false, '', '[]', 'direct', 0, :now, :now, true, :payload,"
    f" :update_id, :holder, 0, '{Purpose.REPLY.value}') RETURNING id"
).bindparams(bindparam("now", type_=OutboundMessage.__table__.c.created_at.type))  # type: ignore[attr-defined]


async def record_reply(
    session: AsyncSession,
    *,
    channel: str,
    chat_id: str,
    officer_id: int | None,
    update_id: str | None,
    payload: str,
    holder: str,
    now: dt.datetime,
) -> int:
    """Record a turn's reply in the turn's transaction, to be sent by ``holder`` once it commits; returns
    its id. Replies of the same chat recorded before it and not sent yet are stale from now on: see
    :func:`superseded`."""
    connection = await session.connection()
    inserted = await connection.execute(
        _INSERT_REPLY,
        {
            "channel": channel,
            "chat_id": chat_id,
            "officer_id": officer_id,
            "now": now,
            "payload": payload,
            "update_id": update_id,
            "holder": holder,
        },
    )
    return int(inserted.scalar_one())


# As SQL for the same reason as _INSERT_REPLY: it runs with nearly every turn.
_CONFIRM_REPLY = text(
    "UPDATE outboundmessage SET status = 'sent', sent_at = :at, payload = NULL, holder = NULL, kept = :kept"
    " WHERE id = :reply_id AND (status = 'direct' OR (status = 'pending' AND attempts = 0 AND progress = 0))"
).bindparams(bindparam("at", type_=OutboundMessage.__table__.c.sent_at.type))  # type: ignore[attr-defined]


async def confirm_replies(
    session: AsyncSession, *, sent: Sequence[tuple[int, dt.datetime, str | None]]
) -> None:
    """Record replies the channel sent directly (id, when, the ids of messages sent with ``keep``). One
    taken over meanwhile (this process was thought dead) and not sent by the outbox yet is recorded too,
    so the outbox does not send it again."""
    if not sent:
        return
    connection = await session.connection()
    await connection.execute(
        _CONFIRM_REPLY, [{"reply_id": reply_id, "at": at, "kept": kept} for reply_id, at, kept in sent]
    )


async def reply_deliveries(
    session: AsyncSession, *, reply_ids: Sequence[int]
) -> dict[int, tuple[Delivery, str | None]]:
    """Replies' status and kept message ids (see ``OutboundMessage.kept``); a purged one is absent."""
    rows = await session.exec(
        select(OutboundMessage.id, OutboundMessage.status, OutboundMessage.kept).where(
            col(OutboundMessage.id).in_(reply_ids)
        )
    )
    return {reply_id: (Delivery(status), kept) for reply_id, status, kept in rows if reply_id is not None}


async def hand_over_reply(
    session: AsyncSession, *, reply_id: int, progress: int, at: dt.datetime, error: str
) -> None:
    """A reply the channel could not finish sending directly goes to the outbox, from part ``progress``,
    due at ``at`` (after a 429's pause, a backoff)."""
    await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(col(OutboundMessage.id) == reply_id, col(OutboundMessage.status) == Delivery.DIRECT)
        .values(
            status=Delivery.PENDING.value,
            holder=None,
            progress=progress,
            next_attempt_at=at,
            attempts=1,
            error=error[:120],
        )
    )


async def fail_reply(session: AsyncSession, *, reply_id: int, at: dt.datetime, error: str) -> None:
    """A reply that can never be sent (the person blocked the bot): recorded like any failed message."""
    await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(col(OutboundMessage.id) == reply_id, col(OutboundMessage.status) == Delivery.DIRECT)
        .values(status=Delivery.FAILED.value, holder=None, sent_at=at, error=error[:120], payload=None)
    )


async def direct_holders(session: AsyncSession) -> set[str]:
    """The processes with replies being sent directly (each one's own, or a dead one's left over)."""
    rows = await session.exec(
        select(OutboundMessage.holder)
        .where(col(OutboundMessage.status) == Delivery.DIRECT, col(OutboundMessage.holder).is_not(None))
        .distinct()
    )
    return {holder for holder in rows if holder is not None}


def _newer_reply() -> Any:
    """A later reply of the same chat exists (the row compared is ``OutboundMessage``'s own)."""
    later = aliased(OutboundMessage)
    return (
        select(later.id)
        .where(
            later.channel == OutboundMessage.channel,
            later.chat_id == OutboundMessage.chat_id,
            col(later.id) > col(OutboundMessage.id),
            col(later.reply).is_(True),
        )
        .exists()
    )


async def take_over_replies(
    session: AsyncSession,
    *,
    holders: set[str],
    now: dt.datetime,
    stale_before: dt.datetime | None = None,
    own: str | None = None,
) -> int:
    """The replies dead processes were sending (and ``own``'s recorded before ``stale_before``: lost on
    their way) become the outbox's, pending in their chat's order; those with a later reply of their chat
    are superseded instead. Returns how many are to be sent."""
    whose: list[Any] = [col(OutboundMessage.holder).in_(holders)] if holders else []
    if own is not None and stale_before is not None:
        whose.append((col(OutboundMessage.holder) == own) & (col(OutboundMessage.created_at) < stale_before))
    if not whose:
        return 0
    orphans = (col(OutboundMessage.status) == Delivery.DIRECT, or_(*whose))
    await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(*orphans, _newer_reply())
        .values(status=Delivery.SUPERSEDED.value, holder=None, payload=None, sent_at=now)
    )
    taken = await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(*orphans)
        .values(status=Delivery.PENDING.value, holder=None)
    )
    return int(taken.rowcount)


async def mark_progress(
    session: AsyncSession, *, message: OutboundMessage, progress: int, message_ref: str | None = None
) -> None:
    """Part of a reply went out (the outbox sends a reply's messages one by one): the rest is due now."""
    await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(col(OutboundMessage.id) == message.id, col(OutboundMessage.status) == Delivery.PENDING)
        .values(progress=progress, error=None, **({"message_ref": message_ref} if message_ref else {}))
    )


async def superseded(session: AsyncSession, *, message: OutboundMessage, at: dt.datetime) -> bool:
    """Whether a pending reply is no longer to be sent: a later reply of its chat was recorded (the person
    moved on past it; it is marked so), or it is no longer pending (superseded, sent by another process)."""
    stale = await session.exec(
        update(OutboundMessage)
        .execution_options(synchronize_session=False)
        .where(
            col(OutboundMessage.id) == message.id,
            col(OutboundMessage.status) == Delivery.PENDING,
            _newer_reply(),
        )
        .values(status=Delivery.SUPERSEDED.value, payload=None, sent_at=at)
    )
    if stale.rowcount:
        return True
    found = await session.exec(select(OutboundMessage.status).where(col(OutboundMessage.id) == message.id))
    return found.first() != Delivery.PENDING


async def recent_deliveries(
    session: AsyncSession, *, channels: list[str], since: dt.datetime, limit: int
) -> list[tuple[str, str, dt.datetime]]:
    """(channel, chat, when) of the latest deliveries since ``since``, newest first: the spacing a new
    process must keep with what the last one sent."""
    rows = await session.exec(
        select(OutboundMessage.channel, OutboundMessage.chat_id, OutboundMessage.sent_at)
        .where(
            col(OutboundMessage.status) == Delivery.SENT,
            col(OutboundMessage.sent_at) >= since,
            col(OutboundMessage.channel).in_(channels),
        )
        .order_by(col(OutboundMessage.sent_at).desc())
        .limit(limit)
    )
    return [(channel, chat, at) for channel, chat, at in rows if at is not None]


async def release_quota_place(session: AsyncSession, *, year: int) -> None:
    """Give back a place taken in this transaction (the decision it was for lost a race)."""
    await session.exec(
        update(ProgramYear)
        .execution_options(synchronize_session=False)
        .where(col(ProgramYear.year) == year)
        .values(new_established=col(ProgramYear.new_established) - 1)
    )


async def queue_overview(
    session: AsyncSession, *, status: Status, kecamatan_code: str | None
) -> list[tuple[int, bool]]:
    """(id, has warnings) of every proposal waiting in ``status``, oldest first: counts for a queue."""
    rows = await session.exec(
        select(Proposal.id, Proposal.findings)
        .where(*_queue_filter(status, kecamatan_code))
        .order_by(col(Proposal.submitted_at), col(Proposal.id))
    )
    return [(pid, bool(findings)) for pid, findings in rows if pid is not None]


async def failed_count(session: AsyncSession) -> int:
    found = await session.exec(
        select(func.count())
        .select_from(OutboundMessage)
        .where(col(OutboundMessage.status) == Delivery.FAILED)
    )
    return found.one()


async def _insert_if_missing(session: AsyncSession, table: type[SQLModel], values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING (SQLite and PostgreSQL); True if this call inserted the row.

    Not add-and-flush in a savepoint: a refused pending object would stay in the session and fail the
    next flush, and the caller's transaction with it.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).values(**values).on_conflict_do_nothing()
    result = await session.exec(statement)
    return bool(result.rowcount == 1)


async def claim_dispatch(
    session: AsyncSession, *, kind: str, period: str, officer_id: int, at: dt.datetime
) -> bool:
    """Take the key of one scheduled message (scheduler/jobs.py); False when it was taken before, by this
    or any other process."""
    values = {"kind": kind, "period": period, "officer_id": officer_id, "at": at}
    return await _insert_if_missing(session, Dispatch, values)


async def last_dispatch(session: AsyncSession, *, kind: str, officer_id: int) -> dt.datetime | None:
    """When a scheduled message of this kind last went to this officer."""
    found = await session.exec(
        select(func.max(Dispatch.at)).where(Dispatch.kind == kind, Dispatch.officer_id == officer_id)
    )
    return found.one()


# ---------------------------------------------------------------------------- registries and participants


@dataclass(frozen=True, slots=True)
class RegistryMatch:
    """A NIK found in an imported social registry: where, under which name, with which desil."""

    source: str
    name: str
    desil: int | None


_REGISTRY_LOOKUP = (
    select(RegistryEntry.source, RegistryEntry.name, RegistryEntry.desil)
    .join(RegistryActive, col(RegistryActive.batch_id) == col(RegistryEntry.batch_id))
    .where(col(RegistryEntry.nik_hash).in_(bindparam("nik_hash", expanding=True)))
    .order_by(col(RegistryEntry.source), col(RegistryEntry.id))
)
_ACTIVE_PARTICIPANT = select(ActiveParticipant.id).where(
    col(ActiveParticipant.nik_hash).in_(bindparam("nik_hash", expanding=True))
)


async def registry_matches(session: AsyncSession, *, nik_hash: str | Sequence[str]) -> list[RegistryMatch]:
    """Every row of the sources' active batches with this NIK (any of its hashes), by source."""
    rows = await session.exec(_REGISTRY_LOOKUP, params={"nik_hash": _hash_list(nik_hash)})
    return [RegistryMatch(source, name, desil) for source, name, desil in rows]


async def is_active_participant(session: AsyncSession, *, nik_hash: str | Sequence[str]) -> bool:
    """Whether this NIK (any of its hashes) is on the imported list of active participants."""
    found = await session.exec(_ACTIVE_PARTICIPANT, params={"nik_hash": _hash_list(nik_hash)})
    return found.first() is not None


async def start_registry_batch(
    session: AsyncSession, *, source: str, file_name: str, hash_key: str | None = None
) -> int:
    """A new, inactive batch for an import of ``source``; its rows serve nothing until it is activated.
    ``hash_key``: the key id of the secret its NIKs are hashed with (``vault.key_id``)."""
    batch = RegistryBatch(source=source, file_name=file_name[:200], hash_key=hash_key)
    session.add(batch)
    await session.flush()
    assert batch.id is not None
    return batch.id


async def add_registry_rows(session: AsyncSession, *, rows: list[dict[str, Any]]) -> None:
    """Insert registry rows (keys: the RegistryEntry columns but id) in one executemany."""
    connection = await session.connection()
    await connection.execute(sa_insert(RegistryEntry), rows)


async def activate_registry_batch(
    session: AsyncSession, *, source: str, batch_id: int, rows: int
) -> int | None:
    """Make ``batch_id`` the source's active batch; returns the batch it replaces (inactive from commit)."""
    previous = await session.get(RegistryActive, source, populate_existing=True, with_for_update=True)
    old = previous.batch_id if previous is not None else None
    now = utcnow()
    await session.exec(
        update(RegistryBatch).where(col(RegistryBatch.id) == batch_id).values(rows=rows, finished_at=now)
    )
    if previous is None:
        session.add(RegistryActive(source=source, batch_id=batch_id, activated_at=now))
    else:
        previous.batch_id, previous.activated_at = batch_id, now
        session.add(previous)
    await session.flush()
    _forget_intake_reads_now_and_at_commit(session)  # this process's intake sees the new source
    return old


async def inactive_registry_batches(session: AsyncSession, *, source: str) -> list[int]:
    """The source's batches that serve no lookup: replaced ones, and those of failed or crashed imports."""
    active = select(RegistryActive.batch_id).where(col(RegistryActive.source) == source)
    rows = await session.exec(
        select(RegistryBatch.id)
        .where(col(RegistryBatch.source) == source, col(RegistryBatch.id).not_in(active.scalar_subquery()))
        .order_by(col(RegistryBatch.id))
    )
    return [batch_id for batch_id in rows if batch_id is not None]


async def purge_registry_batch(session: AsyncSession, *, batch_id: int, limit: int) -> int:
    """Delete up to ``limit`` rows of an inactive batch, and the batch once empty; returns rows deleted."""
    some = select(RegistryEntry.id).where(col(RegistryEntry.batch_id) == batch_id).limit(limit)
    deleted = await session.exec(
        delete(RegistryEntry).where(col(RegistryEntry.id).in_(some.scalar_subquery()))
    )
    if deleted.rowcount < limit:
        await session.exec(delete(RegistryBatch).where(col(RegistryBatch.id) == batch_id))
    return int(deleted.rowcount)


async def registry_sources(session: AsyncSession) -> list[RegistryBatch]:
    """The active batch of each imported source (what lookups read), by source."""
    rows = await session.exec(
        select(RegistryBatch)
        .join(RegistryActive, col(RegistryActive.batch_id) == col(RegistryBatch.id))
        .order_by(col(RegistryBatch.source))
    )
    return list(rows)


async def replace_participants(session: AsyncSession, *, rows: list[dict[str, Any]]) -> None:
    """Replace the whole list of active participants (keys: the ActiveParticipant columns but id)."""
    await session.exec(delete(ActiveParticipant))
    if rows:
        connection = await session.connection()
        await connection.execute(sa_insert(ActiveParticipant), rows)


async def active_participant_count(session: AsyncSession) -> int:
    return (await session.exec(select(func.count()).select_from(ActiveParticipant))).one()


async def sent_proposals(
    session: AsyncSession, *, status: Status | None = None
) -> list[tuple[Proposal, Officer]]:
    """Sent proposals (in one status when given) with their proposing officer, oldest first."""
    statement = (
        select(Proposal, Officer)
        .join(Officer, col(Officer.id) == col(Proposal.officer_id))
        .where(Proposal.status != Status.DRAFT)
        .order_by(col(Proposal.id))
    )
    if status is not None:
        statement = statement.where(Proposal.status == status)
    return [(p, o) for p, o in await session.exec(statement)]


async def all_history(session: AsyncSession) -> dict[int, list[tuple[AuditEvent, Actor]]]:
    """Every proposal's audit trail with who acted (as they were then), oldest first, by proposal id."""
    rows = await session.exec(
        select(AuditEvent, Officer)
        .join(Officer, col(Officer.id) == col(AuditEvent.officer_id))
        .order_by(col(AuditEvent.proposal_id), col(AuditEvent.at), col(AuditEvent.id))
    )
    trail: dict[int, list[tuple[AuditEvent, Actor]]] = {}
    for event, officer in rows:
        trail.setdefault(event.proposal_id, []).append((event, _actor(event, officer)))
    return trail


async def record_export(
    session: AsyncSession,
    *,
    officer_id: int | None,
    kind: str,
    rows: int,
    channel: str,
    actor: str | None = None,
) -> None:
    """Audit one export (who, when, what, how many rows); ``actor`` is the command line's OS user and host."""
    session.add(ExportRecord(officer_id=officer_id, actor=actor, kind=kind, rows=rows, channel=channel))


# A bulk job's transaction waits out another process's write lock this long (~50 s in all): an import or a
# rotation beside a running bot must not fail for a busy moment.
BULK_BUSY_PAUSES = tuple(min(0.05 * (attempt + 1), 1.0) for attempt in range(70))


async def write_transaction(sessions: SessionMaker, work: Callable[[AsyncSession], Awaitable[_T]]) -> _T:
    """``work(session)`` in a committed write transaction of its own, taken with the write lock first
    (:func:`begin_write`), again while SQLite is busy in another process."""

    async def attempt() -> _T:
        async with sessions() as session:
            await begin_write(session)
            result = await work(session)
            await session.commit()
            return result

    return await when_free(attempt, BULK_BUSY_PAUSES)


async def begin_write(session: AsyncSession) -> None:
    """Start the session's transaction holding SQLite's write lock (``BEGIN IMMEDIATE``), so a bulk
    import never fails halfway to upgrade a read lock; first thing in a session. No-op on PostgreSQL."""
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        await session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


async def widen_sqlite_cache(session: AsyncSession, *, megabytes: int) -> None:
    """Let SQLite cache this many MB of this connection's pages (a bulk import); no-op on PostgreSQL."""
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        await session.exec(text(f"PRAGMA cache_size=-{int(megabytes) * 1024}"))  # type: ignore[call-overload]


async def active_participant_starts(session: AsyncSession, *, kecamatan_code: str | None) -> list[dt.date]:
    """The coverage start of every active participant (of one kecamatan when given), for the budget."""
    statement = select(col(ActiveParticipant.coverage_start))
    if kecamatan_code is not None:
        statement = statement.where(col(ActiveParticipant.desa_code).startswith(kecamatan_code + "."))
    return list(await session.exec(statement))


# ---------------------------------------------------------------------------- what intake reads, kept a while

# Every intake assessment needs the year's age limits and desil threshold and the list of imported
# registries. They change only with `lanjutkan program set` and `lanjutkan registry import`, which the dinas
# runs in another process; reading them at every step was two queries of the step's ~ten. So each process
# keeps them for INTAKE_CACHE_SECONDS: a change made by another process reaches intake within that time
# (documented in the README). A change made in this process (set_program, activate_registry_batch) clears
# them, and again when it commits, so no read taken meanwhile is kept.
# Counted at every registry lookup of intake, within one officer's rows of the day: the (officer_id, at)
# index finds them, kind and shown are read from those few rows.
_LOOKUPS_SINCE = (
    select(func.count())
    .select_from(RegistryLookup)
    .where(
        col(RegistryLookup.officer_id) == bindparam("officer_id"),
        col(RegistryLookup.at) >= bindparam("since"),
        col(RegistryLookup.kind) == bindparam("kind"),
        col(RegistryLookup.shown),
    )
)


async def registry_lookups_shown(
    session: AsyncSession, *, officer_id: int, kind: str, since: dt.datetime
) -> int:
    """How many registry results of ``kind`` ("nik", "name") the officer was shown since ``since``."""
    params = {"officer_id": officer_id, "since": since, "kind": kind}
    return int((await session.exec(_LOOKUPS_SINCE, params=params)).one())


async def record_registry_lookup(
    session: AsyncSession, *, officer_id: int, kind: str, nik_hash: str, shown: bool, at: dt.datetime
) -> None:
    """One registry lookup of intake on the trail (the keyed hash, never the NIK); written at commit."""
    session.add(RegistryLookup(officer_id=officer_id, kind=kind, nik_hash=nik_hash, shown=shown, at=at))


# What each NIK finds in the registries (registry_matches) is never kept.
INTAKE_CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class IntakeFigures:
    """The figures of a program year that intake applies; None where the year does not set one."""

    age_min: int | None
    age_max: int | None
    desil_threshold: int | None


# Per database engine (a test process opens many databases): key -> (monotonic time read, value).
_intake_reads: weakref.WeakKeyDictionary[Any, dict[Any, tuple[float, Any]]] = weakref.WeakKeyDictionary()
_intake_generation = 0  # raised by every forget: a read that began before it is not kept
_T = TypeVar("_T")


def forget_intake_reads() -> None:
    """Drop what intake keeps, for every database: its next assessment reads figures and sources again."""
    global _intake_generation
    _intake_generation += 1
    _intake_reads.clear()


def _forget_intake_reads_now_and_at_commit(session: AsyncSession) -> None:
    forget_intake_reads()
    sa_event.listen(session.sync_session, "after_commit", lambda _session: forget_intake_reads(), once=True)


async def _kept(session: AsyncSession, key: Any, read: Callable[[], Awaitable[_T]]) -> _T:
    """``read()``'s value, kept per database for INTAKE_CACHE_SECONDS."""
    engine = session.sync_session.bind
    if engine is None:
        return await read()
    now = time.monotonic()
    found = _intake_reads.get(engine, {}).get(key)
    if found is not None and now - found[0] < INTAKE_CACHE_SECONDS:
        return cast(_T, found[1])
    generation = _intake_generation
    value = await read()
    if generation == _intake_generation:  # not cleared meanwhile (a change committed during the read)
        _intake_reads.setdefault(engine, {})[key] = (now, value)
    return value


_INTAKE_FIGURES = select(ProgramYear.age_min, ProgramYear.age_max, ProgramYear.desil_threshold).where(
    col(ProgramYear.year) == bindparam("year")
)
_IMPORTED_REGISTRIES = (
    select(RegistryBatch.source, RegistryBatch.hash_key)
    .join(RegistryActive, col(RegistryActive.batch_id) == col(RegistryBatch.id))
    .order_by(col(RegistryBatch.source))
)


async def intake_figures(session: AsyncSession, *, year: int) -> IntakeFigures:
    """The year's age limits and desil threshold (`lanjutkan program set`), kept INTAKE_CACHE_SECONDS."""

    async def read() -> IntakeFigures:
        row = (await session.exec(_INTAKE_FIGURES, params={"year": year})).first()
        return IntakeFigures(*row) if row is not None else IntakeFigures(None, None, None)

    return await _kept(session, ("figures", year), read)


async def imported_registries(
    session: AsyncSession, *, key_ids: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The sources of :func:`registry_sources` (those registry_matches reads), kept INTAKE_CACHE_SECONDS.

    With ``key_ids`` (the vault's secrets), only the sources whose active batch was hashed under one of
    them: a registry hashed under a secret since removed finds no NIK, which must not read as "not in it".
    """

    async def read() -> tuple[tuple[str, str | None], ...]:
        return tuple((source, key) for source, key in await session.exec(_IMPORTED_REGISTRIES))

    batches = await _kept(session, "registries", read)
    # A batch from before batches were marked (no key) was hashed with the secret of the time: current.
    return tuple(s for s, key in batches if key_ids is None or key is None or key in key_ids)


# live_proposal_with_nik's statements (every NIK assessment), built once: building them per call cost
# more than running them.
_LIVE_WITH_NIK = select(Proposal).where(
    # IN: one hash, or two while the secret is rotated (one bound value costs what ``=`` does).
    col(Proposal.nik_hash).in_(bindparam("nik_hash", expanding=True)),
    col(Proposal.status).in_([s.value for s in LIVE_STATUSES]),
)
_LIVE_WITH_NIK_BUT = _LIVE_WITH_NIK.where(col(Proposal.id) != bindparam("exclude_id"))


# record_inbound's lookup (every getUpdates batch), built once.
_KNOWN_INBOUND = select(InboundUpdate.update_id).where(
    col(InboundUpdate.channel) == bindparam("channel"),
    col(InboundUpdate.update_id).in_(bindparam("ids", expanding=True)),
)


# ------------------------------------------------------------------ BPJS registration results (bpjs import)
# Additive block for `lanjutkan bpjs import` (models/bpjs.py); the tables are imported where used, so this
# block merges without touching the module's import list.


async def established_by_hashes(session: AsyncSession, *, nik_hashes: Sequence[str]) -> dict[str, Proposal]:
    """The established proposals of these NIK hashes, by hash (at most one each: the live-NIK key)."""
    found: dict[str, Proposal] = {}
    for start in range(0, len(nik_hashes), 500):
        rows = await session.exec(
            select(Proposal).where(
                col(Proposal.nik_hash).in_(nik_hashes[start : start + 500]),
                Proposal.status == Status.DITETAPKAN,
            )
        )
        for proposal in rows:
            assert proposal.nik_hash is not None
            found[proposal.nik_hash] = proposal
    return found


async def record_bpjs_result(
    session: AsyncSession,
    *,
    proposal: Proposal,
    status: str,
    kpj_encrypted: str | None,
    effective: dt.date | None,
    note: str | None,
    at: dt.datetime,
) -> bool:
    """Write BPJS's result on an established proposal, guarded on its status and the result read (compare
    and set): False when it changed meanwhile (another import, a decision)."""
    assert proposal.id is not None
    changed = await session.exec(
        update(Proposal)
        .execution_options(synchronize_session=False)
        .where(
            col(Proposal.id) == proposal.id,
            col(Proposal.status) == Status.DITETAPKAN.value,
            (
                col(Proposal.bpjs_at).is_(None)
                if proposal.bpjs_at is None
                else col(Proposal.bpjs_at) == proposal.bpjs_at
            ),
        )
        .values(
            bpjs_status=status, bpjs_kpj_encrypted=kpj_encrypted, bpjs_effective=effective, bpjs_note=note,
            bpjs_at=at, updated_at=at,
        )
    )  # fmt: skip
    if changed.rowcount != 1:
        return False
    for name, value in (
        ("bpjs_status", status), ("bpjs_kpj_encrypted", kpj_encrypted), ("bpjs_effective", effective),
        ("bpjs_note", note), ("bpjs_at", at),
    ):  # fmt: skip
        set_committed_value(proposal, name, value)
    return True


async def add_bpjs_participant(session: AsyncSession, *, values: dict[str, Any]) -> bool:
    """Add a worker BPJS registered to the active participants; one already listed (by NIK hash) gets the
    KPJ and the proposal instead. True if a participant was added."""
    if await _insert_if_missing(session, ActiveParticipant, values):
        return True
    await session.exec(
        update(ActiveParticipant)
        .execution_options(synchronize_session=False)
        .where(col(ActiveParticipant.nik_hash) == values["nik_hash"])
        .values(kpj_encrypted=values["kpj_encrypted"], proposal_id=values["proposal_id"])
    )
    return False


async def bpjs_failures(session: AsyncSession, *, limit: int) -> tuple[list[Proposal], int]:
    """Established proposals BPJS could not register, newest result first, and how many there are."""
    where = [Proposal.status == Status.DITETAPKAN, Proposal.bpjs_status == "gagal"]
    total = (await session.exec(select(func.count()).select_from(Proposal).where(*where))).one()
    rows = await session.exec(
        select(Proposal).where(*where).order_by(col(Proposal.bpjs_at).desc(), col(Proposal.id)).limit(limit)
    )
    return list(rows), total


async def add_program_audit(
    session: AsyncSession,
    *,
    action: str,
    subject: str,
    detail: dict[str, Any],
    officer_id: int | None = None,
    actor: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Audit one program action that is not a proposal's (an allocation, a BPJS import, an announcement, a
    verification decision); ``detail`` holds figures and reasons, never a NIK."""
    session.add(
        ProgramAudit(
            action=action,
            subject=subject[:48],
            officer_id=officer_id,
            actor=actor,
            detail=detail,
            at=at or utcnow(),
        )
    )
