"""Database functions of announcements (/siaran): recipients, the sent announcement, its progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import store
from models.rules.announcement import Audience, Candidate, Progress, progress_of, recipients
from models.tables import (
    Announcement,
    Conversation,
    Delivery,
    Officer,
    OutboundMessage,
)

ANNOUNCE = "announce"  # ProgramAudit.action


async def recipients_of(
    session: AsyncSession, *, audience: Audience, region_code: str, sender_id: int
) -> list[Officer]:
    """The active officers an announcement to ``audience`` in ``region_code`` reaches (see
    :func:`models.rules.announcement.recipients`), by id."""
    rows = list(
        await session.exec(
            select(Officer)
            .where(col(Officer.active).is_(True))
            .where(col(Officer.region_code).startswith(region_code))  # narrowed in SQL, decided by the rule
            .order_by(col(Officer.id))
        )
    )
    candidates = [Candidate(o.id, o.role, o.region_code, o.active) for o in rows if o.id is not None]
    chosen = set(recipients(candidates, audience=audience, region_code=region_code, sender_id=sender_id))
    return [o for o in rows if o.id in chosen]


async def claim_preview(session: AsyncSession, *, officer_id: int, token: str, step: str) -> bool:
    """End the sender's conversation at its preview, once: two presses of Kirim at the same time (two chat
    apps, two processes) delete it once, and only that one sends."""
    result = await session.exec(
        delete(Conversation)
        .execution_options(synchronize_session=False)
        .where(
            col(Conversation.officer_id) == officer_id,
            col(Conversation.token) == token,
            col(Conversation.step) == step,
        )
    )
    return bool(result.rowcount == 1)


async def record(
    session: AsyncSession,
    *,
    officer: Officer,
    audience: Audience,
    region_code: str,
    text: str,
    recipients: int,
    at: dt.datetime,
) -> Announcement:
    """The announcement row (its id flushed, for its messages to carry) and its audit row."""
    assert officer.id is not None
    announcement = Announcement(
        officer_id=officer.id,
        audience_role=audience.value,
        region_code=region_code,
        text=text,
        recipients=recipients,
        created_at=at,
    )
    session.add(announcement)
    await session.flush()
    detail: dict[str, Any] = {"audience": audience.value, "region": region_code, "recipients": recipients}
    await store.add_program_audit(
        session,
        action=ANNOUNCE,
        subject=f"announcement:{announcement.id}",
        officer_id=officer.id,
        actor=officer.name,
        detail=detail,
        at=at,
    )
    return announcement


async def sent_by(session: AsyncSession, *, officer_id: int, limit: int) -> list[Announcement]:
    """The sender's latest announcements, newest first."""
    rows = await session.exec(
        select(Announcement)
        .where(Announcement.officer_id == officer_id)
        .order_by(col(Announcement.created_at).desc(), col(Announcement.id).desc())
        .limit(limit)
    )
    return list(rows)


async def progress(session: AsyncSession, *, announcement_ids: Iterable[int]) -> dict[int, Progress]:
    """Each announcement's messages by delivery status (from the outbox)."""
    ids = list(announcement_ids)
    if not ids:
        return {}
    rows = await session.exec(
        select(OutboundMessage.announcement_id, OutboundMessage.status, func.count())
        .where(col(OutboundMessage.announcement_id).in_(ids))
        .group_by(col(OutboundMessage.announcement_id), col(OutboundMessage.status))
    )
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    for announcement_id, status, count in rows:
        if announcement_id is not None:
            counts[announcement_id][str(getattr(status, "value", status))] = int(count)
    return {i: progress_of(c) for i, c in counts.items()}


async def running(session: AsyncSession, *, officer_id: int) -> tuple[Announcement, Progress] | None:
    """The sender's announcement still being sent, with its progress, if any. Only pending messages count:
    one waiting for a person to open WhatsApp's window (who may never) must not stop the sender for good."""
    pending = (
        await session.exec(
            select(Announcement)
            .join(OutboundMessage, col(OutboundMessage.announcement_id) == col(Announcement.id))
            .where(Announcement.officer_id == officer_id, col(OutboundMessage.status) == Delivery.PENDING)
            .order_by(col(Announcement.id).desc())
            .limit(1)
        )
    ).first()
    if pending is None or pending.id is None:
        return None
    found = await progress(session, announcement_ids=[pending.id])
    return pending, found[pending.id]
