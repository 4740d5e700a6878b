"""SQLModel tables: officers, their chat accounts, proposals, conversation state and the audit trail."""

from __future__ import annotations

import datetime as dt
import secrets
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from models.rules.categories import Category, category_label
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
    # The roster is authoritative: a row absent from a re-import (or deactivated by hand) stays for the
    # audit trail but is treated as unknown on every channel, at once.
    active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    deactivated_at: dt.datetime | None = None
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
        # The summaries' pass over every proposal (counts, oldest waiting, last proposed) and the oldest
        # waiting of each desa read only this index, never the table. The id is in it for PostgreSQL,
        # whose indexes do not carry the primary key (SQLite's carry the rowid anyway).
        Index("ix_proposal_desa_status_times", "desa_code", "status", "submitted_at", "decided_at", "id"),
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
    decided_at: dt.datetime | None = None  # the last decision (approve, return, establish, reject)
    # Set when the camat returns it: which intake fields to fix, and the values then, to show what changed
    fix_fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    returned_values: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    resubmissions: int = 0
    # What the last resubmission changed: [{"field": "name", "before": "..", "after": ".."}]
    changes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # BPJS Ketenagakerjaan's result of the collective registration (``lanjutkan bpjs import``): "berhasil"
    # with the participation number (KPJ, encrypted like the NIK) and the effective date, or "gagal" with
    # BPJS's reason for the dinas.
    bpjs_status: str | None = Field(default=None, max_length=8)
    bpjs_kpj_encrypted: str | None = Field(default=None, max_length=200)
    bpjs_effective: dt.date | None = None
    bpjs_note: str | None = Field(default=None, max_length=200)
    bpjs_at: dt.datetime | None = None

    @property
    def category_text(self) -> str:
        """The work as people read it: "petani", or the description of "lainnya"."""
        return category_label(Category(self.category or Category.LAINNYA), self.category_description)

    @property
    def number(self) -> str:
        """The short number officers quote: U-00042."""
        return format_number(self.id or 0)


def format_number(proposal_id: int) -> str:
    return f"U-{proposal_id:05d}"


class Conversation(SQLModel, table=True):
    """Where an officer is in a conversation; committed with every answer so a restart loses nothing."""

    officer_id: int = Field(primary_key=True, foreign_key="officer.id")
    flow: str = Field(max_length=16)  # "intake", "fix" (a returned proposal), "decide" (a reason to type)
    step: str = Field(max_length=24)
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    from_summary: bool = False  # editing one field: go back to the summary after it
    # Flow-specific answers: the fields still to fix in a correction, the fields a camat ticked to return
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Random per conversation, carried by its buttons: a button of a cancelled draft never fits a new one
    # (SQLite reuses the id of a deleted last row).
    token: str = Field(default_factory=lambda: secrets.token_hex(3), max_length=8)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only trail of status changes and full-NIK reveals."""

    # The week's activity in a summary is read by time.
    __table_args__ = (Index("ix_auditevent_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    officer_id: int = Field(foreign_key="officer.id")
    # Who acted, as they were at the time: an officer row changes with the roster, the trail must not.
    actor_name: str | None = Field(default=None, max_length=120)
    actor_role: str | None = Field(default=None, max_length=16)
    actor_region: str | None = Field(default=None, max_length=13)
    action: str = Field(max_length=16)  # an Action value, or "reveal_nik"
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    at: dt.datetime = Field(default_factory=utcnow)


class InboundUpdate(SQLModel, table=True):
    """The inbox: updates as received, recorded before the channel is told they were delivered.

    Telegram counts an update as delivered once the next getUpdates asks past it (or a webhook is answered
    200); WhatsApp once its webhook is answered 200. Recording first means a crash can only leave updates
    that are in the database. Rows are claimed (marked handled) in the same transaction as the change they
    cause, so a replay never applies one twice, and a repeated delivery of the same id is recorded once.
    """

    __table_args__ = (
        UniqueConstraint("channel", "update_id", name="uq_inbound_channel_update"),
        # A person's updates not handled yet, in the order received (several processes take them in order)
        Index("ix_inbound_person", "channel", "person", "seq"),
    )

    seq: int | None = Field(default=None, primary_key=True)  # the order received in, for a replay
    channel: str = Field(max_length=16)
    person: str | None = Field(default=None, max_length=128)  # who sent it (an Inbound's user_id)
    # The channel's id of the update: Telegram's update_id, WhatsApp's message id (a wamid, ~60 characters)
    update_id: str = Field(max_length=128)
    payload: str  # encrypted with the NIK vault: a typed NIK is in there
    received_at: dt.datetime = Field(default_factory=utcnow)
    handled_at: dt.datetime | None = Field(default=None, index=True)


class ChatWindow(SQLModel, table=True):
    """When a person last wrote to the bot on a channel with a reply window (WhatsApp: 24 hours), and when
    the bot last asked them with a template to open it again."""

    channel: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=64)
    last_inbound_at: dt.datetime | None = None
    template_at: dt.datetime | None = None  # the last template sent for what waits for them


# ------------------------------------------------------------------------------------------------ outbox


class Delivery(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # permanently: the bot is blocked, the chat is gone; shown to the dinas
    # A turn's reply being sent by the process that handled the turn (``holder``), right after its commit;
    # if that process dies first, the outbox takes it over as pending.
    DIRECT = "direct"
    SUPERSEDED = "superseded"  # a reply not yet sent when a later one for its chat was recorded: stale
    # Waiting for the person to write (outside WhatsApp's 24-hour window, a template asked them to): it
    # heads its chat like a pending one and becomes pending when they write.
    WAITING = "waiting"


class Purpose(StrEnum):
    """Why a queued message is sent: the template that asks a person outside their window to open it."""

    CARD = "card"  # a proposal waiting for the recipient's decision (and its outcome)
    NOTICE = "notice"  # a proposal's news for the officer who proposed it
    SUMMARY = "summary"  # the weekly summary
    REMINDER = "reminder"
    REPLY = "reply"  # a turn's reply
    ANNOUNCEMENT = "announcement"  # /siaran: WhatsApp's generic template asks them to open it


class CardCopy(SQLModel, table=True):
    """One approver's copy of a proposal's approval card: where it was sent, to edit it after a decision."""

    __table_args__ = (Index("ix_cardcopy_proposal_stage", "proposal_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id")
    stage: str = Field(max_length=16)  # the status it asks about: menunggu_camat or menunggu_dinas
    officer_id: int = Field(foreign_key="officer.id")
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    message_ref: str | None = Field(default=None, max_length=128)  # the channel's message id, once sent
    closed: bool = False  # its outcome was written on it (or queued to be)


class OutboundMessage(SQLModel, table=True):
    """The outbox: a message caused by a change, written in the change's transaction, sent by a worker."""

    __table_args__ = (
        # The worker's question, "the oldest pending message of each chat", reads only this index.
        Index("ix_outbound_pending_chat", "status", "channel", "chat_id", "id"),
        # Whether a chat has a later reply than a pending one (which is then stale)
        Index("ix_outbound_chat", "channel", "chat_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    officer_id: int | None = Field(default=None, foreign_key="officer.id")
    card_id: int | None = Field(default=None, foreign_key="cardcopy.id")
    edit: bool = False  # edit the card's message instead of sending a new one
    text: str = Field(sa_type=sa.Text)
    buttons: list[list[list[str]]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # A picture (the summary's chart, a PNG) sent with the text as its caption
    photo: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    status: Delivery = Field(default=Delivery.PENDING, sa_type=_enum_column(Delivery))
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow)
    error: str | None = Field(default=None, max_length=120)
    created_at: dt.datetime = Field(default_factory=utcnow)
    sent_at: dt.datetime | None = Field(default=None, index=True)
    # A turn's reply (``reply`` is True): the replies of one handled update, recorded in the turn's
    # transaction, encrypted with the NIK vault (a read-back shows the NIK typed); cleared once sent.
    reply: bool = False
    payload: str | None = Field(default=None, sa_type=sa.Text)
    update_id: str | None = Field(default=None, max_length=128)  # the update it answers
    purpose: str | None = Field(default=None, max_length=16)  # a Purpose
    # The channel's id of the message sent, where a delivery failure reported later names it (WhatsApp)
    message_ref: str | None = Field(default=None, max_length=128, index=True)
    holder: str | None = Field(default=None, max_length=64)  # the process sending it while ``direct``
    progress: int = 0  # of the channel's messages for this reply, how many went out before a hand-over
    # Sent directly: the (note, message id) of its messages sent with ``Reply.keep``, as JSON, read by the
    # person's next turn in whichever process handles it (the ids exist only once sent).
    kept: str | None = Field(default=None, sa_type=sa.Text)
    announcement_id: int | None = Field(default=None, foreign_key="announcement.id", index=True)


class Dispatch(SQLModel, table=True):
    """A scheduled message that was queued: one row per (kind, period, recipient), never two.

    The scheduled jobs insert the row and queue the message in one transaction; a second process, a
    restart or a catch-up that reaches the same key finds it taken and sends nothing.
    """

    kind: str = Field(primary_key=True, max_length=16)  # "ringkasan", "pengingat"
    period: str = Field(primary_key=True, max_length=10)  # "2026-W48" (ISO week), "2026-11-24" (a day)
    officer_id: int = Field(primary_key=True, foreign_key="officer.id")
    at: dt.datetime = Field(default_factory=utcnow)


class Lease(SQLModel, table=True):
    """A named job one process runs at a time (outbox delivery): held while renewed, taken when expired."""

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    expires_at: dt.datetime


class ProgramYear(SQLModel, table=True):
    """One program year's figures (``lanjutkan program set``) and how many new participants have been
    established (ditetapkan) against its quota.

    The count is raised with a guarded UPDATE, so two dinas officers pressing Tetapkan for the last place
    at the same moment get one place and one refusal. Money is in whole Rupiah.
    """

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    new_quota: int
    new_established: int = 0
    budget: int | None = None  # the year's allocation
    target: int | None = None  # participants the budget is for (active + new)
    jkk_per_month: int | None = None  # contribution per participant per month
    jkm_per_month: int | None = None
    coverage_start: dt.date | None = None
    declared_income: int | None = None  # the income reported to BPJS for each participant
    age_min: int | None = None
    age_max: int | None = None
    desil_threshold: int | None = None
    # The intake period: /daftar from open to close (inclusive, the kabupaten's dates); returned proposals
    # may be corrected until fix_close (close + 14 days unless set).
    intake_open: dt.date | None = None
    intake_close: dt.date | None = None
    fix_close: dt.date | None = None


class KecamatanAllocation(SQLModel, table=True):
    """A kecamatan's share of a year's new places (``lanjutkan program allocate``) and how many of them
    were established: raised with a guarded UPDATE, as the year's count is."""

    year: int = Field(
        primary_key=True, foreign_key="programyear.year", sa_column_kwargs={"autoincrement": False}
    )
    kecamatan_code: str = Field(primary_key=True, max_length=8)
    quota: int
    established: int = 0
    updated_at: dt.datetime = Field(default_factory=utcnow)


class ProgramAudit(SQLModel, table=True):
    """The audit of what the program does beside proposals: allocations, verification rounds and their
    decisions, BPJS imports, announcements. ``subject`` names what it is about ("allocation:2026",
    "verification-item:42"); ``detail`` holds figures and reasons, never a NIK."""

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=24)
    subject: str = Field(max_length=48, index=True)
    officer_id: int | None = Field(default=None, foreign_key="officer.id")  # None: the command line
    actor: str | None = Field(default=None, max_length=120)  # the officer's name, or the CLI's user@host
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: dt.datetime = Field(default_factory=utcnow)


class VerificationRound(SQLModel, table=True):
    """A re-verification of the active participants (penyesuaian data) for a program year."""

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    due: dt.date
    items: int = 0
    started_at: dt.datetime = Field(default_factory=utcnow)
    officer_id: int | None = Field(default=None, foreign_key="officer.id")  # None: the command line
    closed_at: dt.datetime | None = None


class VerificationItem(SQLModel, table=True):
    """One active participant in a round, for the operator of their desa to confirm or propose to remove.

    A snapshot of the participant when the round started (the list may be imported again meanwhile);
    ``version`` guards every decision (compare and set), as a proposal's status does."""

    __table_args__ = (Index("ix_verification_round_desa_status", "round_id", "desa_code", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="verificationround.id")
    nik_hash: str = Field(max_length=64)
    nik_encrypted: str = Field(max_length=200)
    name: str = Field(max_length=120)
    desa_code: str = Field(max_length=13)
    kecamatan_code: str = Field(max_length=8, index=True)
    category: str = Field(max_length=32)
    coverage_start: dt.date
    birth_date: dt.date | None = None
    status: str = Field(default="menunggu", max_length=16)
    premarks: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str | None = Field(default=None, max_length=24)
    reason_text: str | None = Field(default=None, max_length=200)
    officer_id: int | None = Field(default=None, foreign_key="officer.id")  # the last to decide
    decided_at: dt.datetime | None = None
    version: int = 0


class Announcement(SQLModel, table=True):
    """A message the dinas (or a camat, for their kecamatan) sent to officers (/siaran), through the outbox:
    its messages carry its id, so the sender can see how many went, wait or failed."""

    id: int | None = Field(default=None, primary_key=True)
    officer_id: int = Field(foreign_key="officer.id", index=True)
    audience_role: str = Field(max_length=16)  # operator, camat, all
    region_code: str = Field(max_length=13)  # the kabupaten, a kecamatan or a desa
    text: str = Field(sa_type=sa.Text)
    recipients: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow)


# ------------------------------------------------------------------------------------------ program data


class RegistrySource(StrEnum):
    """A social registry the dinas imports: DTSEN (since 2025, with desil 1-10), DTKS, P3KE."""

    DTSEN = "dtsen"
    DTKS = "dtks"
    P3KE = "p3ke"


class RegistryBatch(SQLModel, table=True):
    """One import of one registry file; its rows serve lookups once it is its source's active batch."""

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=8, index=True)
    file_name: str = Field(max_length=200)
    rows: int = 0
    started_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None  # set when it became active
    # The key id of the secret its NIK hashes were made with (NikVault.key_id): a secret rotation cannot
    # re-key hashes without their NIKs, so a batch under a removed secret is known stale (re-import it).
    hash_key: str | None = Field(default=None, max_length=16)


class RegistryActive(SQLModel, table=True):
    """Which batch of each source serves lookups; switched in one short transaction after an import."""

    source: str = Field(primary_key=True, max_length=8)
    batch_id: int = Field(foreign_key="registrybatch.id")
    activated_at: dt.datetime = Field(default_factory=utcnow)


class SecretRotation(SQLModel, table=True):
    """How far `lanjutkan secret rotate` got in each table, so an interrupted run resumes there."""

    name: str = Field(primary_key=True, max_length=32)  # the table
    key_id: str = Field(max_length=16)  # the new secret's key id: a later rotation starts over
    last_id: int = 0  # every row up to this primary key is under the new secret
    finished_at: dt.datetime | None = None


class RegistryEntry(SQLModel, table=True):
    """A person in an imported social registry, found by the keyed hash of their NIK only.

    No NIK is stored here, neither plain nor encrypted: intake only asks whether a typed NIK is in a
    registry, which its hash answers, and a million NIKs nobody needs to read back are not kept.
    Rows are written with SQL Core inserts in chunks (no ORM objects) by the registry import.
    """

    __table_args__ = (
        Index("ix_registryentry_nik_hash_batch", "nik_hash", "batch_id"),  # the intake lookup
        Index("ix_registryentry_batch", "batch_id", "id"),  # deleting a replaced batch in chunks
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="registrybatch.id")
    source: str = Field(max_length=8)
    nik_hash: str = Field(max_length=64)
    name: str = Field(max_length=120)
    desil: int | None = None
    desa_code: str | None = Field(default=None, max_length=13)


class ActiveParticipant(SQLModel, table=True):
    """A worker already covered by the program (the Keputusan Bupati's list), imported by the dinas.

    The NIK is encrypted (the BPJS export reads it back) and hashed for the intake's block.
    """

    id: int | None = Field(default=None, primary_key=True)
    nik_hash: str = Field(max_length=64, unique=True)
    nik_encrypted: str = Field(max_length=200)
    name: str = Field(max_length=120)
    desa_code: str = Field(max_length=13, index=True)
    category: str = Field(max_length=32)
    coverage_start: dt.date
    imported_at: dt.datetime = Field(default_factory=utcnow)
    # Registered by BPJS after being established (``lanjutkan bpjs import``): the proposal and the KPJ
    kpj_encrypted: str | None = Field(default=None, max_length=200)
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    # A removal confirmed by the dinas in a verification round: nothing is deleted
    ended_on: dt.date | None = None
    end_reason: str | None = Field(default=None, max_length=24)


class ExportRecord(SQLModel, table=True):
    """The audit of exports (who, when, what): files with full NIKs leave the system this way."""

    id: int | None = Field(default=None, primary_key=True)
    officer_id: int | None = Field(default=None, foreign_key="officer.id")  # None: the command line
    actor: str | None = Field(default=None, max_length=120)  # the command line's OS user and host
    kind: str = Field(max_length=16)  # bpjs, lampiran, usulan
    rows: int
    channel: str = Field(max_length=16)  # telegram, terminal, cli
    at: dt.datetime = Field(default_factory=utcnow)


class RegistryLookup(SQLModel, table=True):
    """The audit of intake's registry lookups: who asked about which NIK (its keyed hash) or name, when.

    Intake shows whether a typed NIK is in the social registries and whether a typed name matches; this
    trail, and the daily limits counted from it, keep intake from becoming a lookup tool.
    """

    __table_args__ = (Index("ix_registrylookup_officer_at", "officer_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    officer_id: int = Field(foreign_key="officer.id")
    kind: str = Field(max_length=8)  # "nik" (is it in a registry, which desil) or "name" (does it match)
    nik_hash: str = Field(max_length=64)
    shown: bool = True  # whether the officer saw it (never outside their kecamatan, nor past the day's limit)
    at: dt.datetime = Field(default_factory=utcnow)
