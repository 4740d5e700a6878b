"""SQLModel tables: officers, their chat accounts, proposals, conversation state and the audit trail."""

from __future__ import annotations

import datetime as dt
import secrets
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.rules.status import LIVE_STATUSES, Role, Status


def utcnow() -> dt.datetime:
    """Now, timezone-aware in UTC; SQLModel's UTCDateTime columns keep it aware on SQLite too."""
    return dt.datetime.now(dt.UTC)


def _enum_column(enum: type[StrEnum]) -> sa.Enum:
    # Store the values ("menunggu_camat"), not the member names: SQL (the partial unique index, reports,
    # exports) reads them, and they are the words of the domain.
    return sa.Enum(enum, values_callable=lambda e: [m.value for m in e], native_enum=False, length=16)


# ---------------------------------------------------------------------------------------------- officers


class OfficerBase(SQLModel):
    name: str = Field(max_length=120)
    role: Role = Field(sa_type=_enum_column(Role))
    region_code: str = Field(max_length=13, index=True)
    phone: str = Field(max_length=16, unique=True)  # E.164, the key of the roster


class Officer(OfficerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class OfficerCreate(OfficerBase):
    """A roster row after validation."""


class ChatAccount(SQLModel, table=True):
    """A person's account on one channel (Telegram, WhatsApp, the terminal demo), bound to an officer."""

    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)  # the channel's user id
    chat_id: str = Field(max_length=64)  # where to write to them
    officer_id: int | None = Field(default=None, foreign_key="officer.id", index=True)
    bound_at: dt.datetime | None = None


# --------------------------------------------------------------------------------------------- proposals

_LIVE = ", ".join(f"'{s.value}'" for s in sorted(LIVE_STATUSES))


class ProposalBase(SQLModel):
    desa_code: str = Field(max_length=13, index=True)
    kecamatan_code: str = Field(max_length=8, index=True)
    name: str | None = Field(default=None, max_length=100)
    birth_date: dt.date | None = None
    gender: str | None = Field(default=None, max_length=1)
    category: str | None = Field(default=None, max_length=32)
    category_description: str | None = Field(default=None, max_length=80)
    address: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=16)


class Proposal(ProposalBase, table=True):
    """A candidate worker proposed by an officer; a draft until sent."""

    __table_args__ = (
        # The duplicate rule lives in the database, so two officers sending the same NIK at the same
        # moment get one proposal and one refusal, whatever the process count.
        Index(
            "uq_proposal_live_nik",
            "nik_hash",
            unique=True,
            sqlite_where=text(f"status IN ({_LIVE})"),
            postgresql_where=text(f"status IN ({_LIVE})"),
        ),
        Index("ix_proposal_officer_status", "officer_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: Status = Field(default=Status.DRAFT, sa_type=_enum_column(Status), index=True)
    officer_id: int = Field(foreign_key="officer.id")
    nik_encrypted: str | None = Field(default=None, max_length=200)
    nik_hash: str | None = Field(default=None, max_length=64, index=True)
    nik_birth_date: dt.date | None = None
    nik_gender: str | None = Field(default=None, max_length=1)
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow)
    # Set by every UPDATE of the row, and only then: a step that changes nothing writes nothing.
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column_kwargs={"onupdate": utcnow})
    submitted_at: dt.datetime | None = None

    @property
    def number(self) -> str:
        """The short number officers quote: U-00042."""
        return format_number(self.id or 0)


def format_number(proposal_id: int) -> str:
    return f"U-{proposal_id:05d}"


class Conversation(SQLModel, table=True):
    """Where an officer is in a conversation; committed with every answer so a restart loses nothing."""

    officer_id: int = Field(primary_key=True, foreign_key="officer.id")
    flow: str = Field(max_length=16)  # "intake"
    step: str = Field(max_length=24)
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    from_summary: bool = False  # editing one field: go back to the summary after it
    # Random per conversation, carried by its buttons: a button of a cancelled draft never fits a new one
    # (SQLite reuses the id of a deleted last row).
    token: str = Field(default_factory=lambda: secrets.token_hex(3), max_length=8)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only trail of status changes and full-NIK reveals."""

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    officer_id: int = Field(foreign_key="officer.id")
    action: str = Field(max_length=16)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    at: dt.datetime = Field(default_factory=utcnow)


class InboundUpdate(SQLModel, table=True):
    """The inbox: updates as received, recorded before the channel is told they were delivered.

    Telegram counts an update as delivered once the next getUpdates asks past it, which python-telegram-bot
    does before handling it; a crash in between would lose the officer's answer. Rows are claimed (marked
    handled) in the same transaction as the change they cause, so a replay never applies one twice.
    """

    channel: str = Field(primary_key=True, max_length=16)
    update_id: int = Field(primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False})
    payload: str  # encrypted with the NIK vault: a typed NIK is in there
    received_at: dt.datetime = Field(default_factory=utcnow)
    handled_at: dt.datetime | None = Field(default=None, index=True)
