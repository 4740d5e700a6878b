"""Database functions (keyword-only, one session passed in): the only place that writes SQL for the bot."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.rules.status import LIVE_STATUSES, Status
from models.tables import (
    AuditEvent,
    ChatAccount,
    Conversation,
    InboundUpdate,
    Officer,
    OfficerCreate,
    Proposal,
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
    .outerjoin(Officer, col(Officer.id) == col(ChatAccount.officer_id))
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
    return (await session.exec(select(Officer).where(Officer.phone == phone))).first()


async def bind_account(
    session: AsyncSession, *, channel: str, external_id: str, chat_id: str, officer: Officer
) -> ChatAccount:
    """Bind a channel account to an officer; an officer has one account per channel (a new phone wins)."""
    assert officer.id is not None
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


async def upsert_officer(session: AsyncSession, *, data: OfficerCreate) -> tuple[Officer, bool]:
    """Insert or update an officer by phone number; returns (officer, created)."""
    officer = await officer_by_phone(session, phone=data.phone)
    created = officer is None
    if officer is None:
        officer = Officer.model_validate(data)
    else:
        officer.sqlmodel_update(data.model_dump())
        officer.updated_at = utcnow()
    session.add(officer)
    return officer, created


async def live_proposal_with_nik(
    session: AsyncSession, *, nik_hash: str, exclude_id: int | None = None
) -> Proposal | None:
    """The proposal (not rejected, not a draft) that already carries this NIK, if any."""
    statement = select(Proposal).where(
        Proposal.nik_hash == nik_hash, col(Proposal.status).in_([s.value for s in LIVE_STATUSES])
    )
    if exclude_id is not None:
        statement = statement.where(Proposal.id != exclude_id)
    return (await session.exec(statement)).first()


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
    officer_id: int,
    action: str,
    from_status: Status | None,
    to_status: Status | None,
    reason: str | None = None,
) -> None:
    session.add(
        AuditEvent(
            proposal_id=proposal_id,
            officer_id=officer_id,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            reason=reason,
        )
    )


async def conversation_of(session: AsyncSession, *, officer_id: int) -> Conversation | None:
    return await session.get(Conversation, officer_id)


# -------------------------------------------------------------------------------------------------- inbox


async def record_inbound(session: AsyncSession, *, channel: str, updates: list[tuple[int, str]]) -> int:
    """Record received updates (id, encrypted payload) not seen before; returns how many were new."""
    ids = [update_id for update_id, _ in updates]
    seen = await session.exec(
        select(InboundUpdate.update_id).where(
            InboundUpdate.channel == channel, col(InboundUpdate.update_id).in_(ids)
        )
    )
    known = set(seen)
    new = [InboundUpdate(channel=channel, update_id=i, payload=p) for i, p in updates if i not in known]
    session.add_all(new)
    return len(new)


async def claim_inbound(session: AsyncSession, *, channel: str, update_id: int) -> bool:
    """Mark an update handled, in the caller's transaction; False when it was handled already.

    An update that was never recorded (the channel has no inbox, or a test) may always be handled.
    """
    claimed = await session.exec(  # type: ignore[call-overload]
        _CLAIM, params={"in_channel": channel, "in_update_id": update_id, "in_now": utcnow()}
    )
    if claimed.rowcount == 1:
        return True
    return await session.get(InboundUpdate, (channel, update_id)) is None


async def pending_inbound(session: AsyncSession, *, channel: str) -> list[InboundUpdate]:
    """Updates received but not handled, oldest first: what a crash left in flight."""
    rows = await session.exec(
        select(InboundUpdate)
        .where(InboundUpdate.channel == channel, col(InboundUpdate.handled_at).is_(None))
        .order_by(col(InboundUpdate.update_id))
    )
    return list(rows)


async def purge_inbound(session: AsyncSession, *, handled_before: dt.datetime) -> None:
    """Forget handled updates once Telegram can no longer send them again (it keeps them 24 hours)."""
    await session.exec(  # type: ignore[call-overload]
        delete(InboundUpdate).where(col(InboundUpdate.handled_at) < handled_before)
    )
