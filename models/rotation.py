"""`lanjutkan secret rotate`: every encrypted value and keyed hash moved from the old secret to the new.

Table by table in primary-key batches, each batch its own short transaction, so the bot keeps running;
how far each table got is kept in ``secretrotation``, so an interrupted run resumes there. A row is
written only if the value read is still there (compare and set): anything the bot wrote meanwhile is
already under the new secret. Hashes stored without their NIK (the registries, the lookup audit) cannot
be re-keyed: registry batches carry the key id they were hashed with and are reported to be imported
again; the lookup audit keeps the hashes of its time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models import store
from models.crypto import NikVault
from models.db import SessionMaker
from models.tables import (
    ActiveParticipant,
    InboundUpdate,
    OutboundMessage,
    Proposal,
    RegistryActive,
    RegistryBatch,
    SecretRotation,
    VerificationItem,
    utcnow,
)

BATCH = 500
T = TypeVar("T")
Progress = Callable[[str, int, int], None]  # table, rows done, rows in all


class RotationError(Exception):
    """A row cannot be moved to the new secret; the message is one line and carries no data."""


@dataclass(frozen=True, slots=True)
class _Spec:
    """One table's encrypted (and hashed) columns."""

    name: str
    table: sa.Table
    key: str  # the primary key
    token: str  # the encrypted column
    nik_hash: str | None = None  # the keyed hash of the decrypted NIK, if stored beside it


def _table(model: Any) -> sa.Table:
    return model.__table__


SPECS = (
    _Spec("proposal", _table(Proposal), "id", "nik_encrypted", "nik_hash"),
    _Spec("activeparticipant", _table(ActiveParticipant), "id", "nik_encrypted", "nik_hash"),
    _Spec("inboundupdate", _table(InboundUpdate), "seq", "payload"),
    _Spec("outboundmessage", _table(OutboundMessage), "id", "payload"),
    # BPJS's participation numbers (`lanjutkan bpjs import`), encrypted like the NIKs
    _Spec("proposal_kpj", _table(Proposal), "id", "bpjs_kpj_encrypted"),
    _Spec("activeparticipant_kpj", _table(ActiveParticipant), "id", "kpj_encrypted"),
    # A verification round's snapshot of each participant
    _Spec("verificationitem", _table(VerificationItem), "id", "nik_encrypted", "nik_hash"),
)


@dataclass(frozen=True, slots=True)
class StaleRegistry:
    """An active registry batch hashed under a secret other than the new one: import it again."""

    source: str
    rows: int


@dataclass(slots=True)
class RotationReport:
    finished: bool = False  # every table walked to its end (not stopped by ``stop_after``)
    changed: dict[str, int] = field(default_factory=dict)  # rows rewritten, per table
    stale_registries: list[StaleRegistry] = field(default_factory=list)


async def rotate_secret(
    sessions: SessionMaker,
    vault: NikVault,
    *,
    batch: int = BATCH,
    stop_after: int | None = None,
    progress: Progress | None = None,
) -> RotationReport:
    """Move every row to ``vault``'s new secret (``vault`` must hold the old one too); ``stop_after``
    batches, then return unfinished (what an interruption leaves, for tests and a cautious first run)."""
    if vault.old_key_id is None:
        raise ValueError("the vault has no old secret to rotate from")
    old_key_id = vault.old_key_id

    async def mark_legacy_batches(session: Any) -> None:
        # Batches imported before batches carried a key id were hashed with the secret of their time:
        # the old one.
        await (await session.connection()).execute(
            sa.update(_table(RegistryBatch))
            .where(col(RegistryBatch.hash_key).is_(None))
            .values(hash_key=old_key_id)
        )

    await store.write_transaction(sessions, mark_legacy_batches)
    report = RotationReport()
    batches = 0
    for spec in SPECS:
        changed, batches, done = await _rotate_table(
            sessions, vault, spec, batch=batch, batches=batches, stop_after=stop_after, progress=progress
        )
        report.changed[spec.name] = changed
        if not done:
            return report
    report.finished = True
    report.stale_registries = await store.write_transaction(
        sessions, lambda s: stale_registries(s, vault.key_id)
    )
    return report


async def stale_registries(session: Any, key_id: str) -> list[StaleRegistry]:
    """The active registry batches whose NIK hashes are not under the secret ``key_id`` names."""
    rows = await (await session.connection()).execute(
        sa.select(col(RegistryBatch.source), col(RegistryBatch.rows))
        .join(RegistryActive, col(RegistryActive.batch_id) == col(RegistryBatch.id))
        .where(col(RegistryBatch.hash_key) != key_id)
        .order_by(col(RegistryBatch.source))
    )
    return [StaleRegistry(source, count) for source, count in rows]


async def _rotate_table(
    sessions: SessionMaker,
    vault: NikVault,
    spec: _Spec,
    *,
    batch: int,
    batches: int,
    stop_after: int | None,
    progress: Progress | None,
) -> tuple[int, int, bool]:
    """Walk one table from where the last run stopped; returns rows changed, batches so far, finished."""
    table, key = spec.table, spec.table.c[spec.key]

    async def start(session: Any) -> tuple[int, bool, int, int]:
        state = await session.get(SecretRotation, spec.name)
        if state is None:
            state = SecretRotation(name=spec.name, key_id=vault.key_id)
            session.add(state)
        elif state.key_id != vault.key_id:  # an earlier rotation's progress: this one starts over
            state.key_id, state.last_id, state.finished_at = vault.key_id, 0, None
        connection = await session.connection()
        total = (await connection.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
        done = (await connection.execute(sa.select(sa.func.count()).where(key <= state.last_id))).scalar_one()
        return state.last_id, state.finished_at is not None, int(total), int(done)

    last_id, finished, total, done = await store.write_transaction(sessions, start)
    if progress is not None:
        progress(spec.name, total if finished else done, total)
    if finished:
        return 0, batches, True
    changed = 0
    while True:
        if stop_after is not None and batches >= stop_after:
            return changed, batches, False

        async def step(session: Any, after: int = last_id) -> tuple[int | None, int, int]:
            columns = [key, table.c[spec.token]] + ([table.c[spec.nik_hash]] if spec.nik_hash else [])
            if spec.name == "proposal":
                columns.append(table.c.returned_values)
            rows = (
                await (await session.connection()).execute(
                    sa.select(*columns)
                    .where(key > after, table.c[spec.token].is_not(None))
                    .order_by(key)
                    .limit(batch)
                )
            ).all()
            written = 0
            for row in rows:
                written += await _rotate_row(session, vault, spec, row)
            state = await session.get(SecretRotation, spec.name)
            if rows:
                state.last_id = rows[-1][0]
            else:
                state.finished_at = utcnow()
            return (rows[-1][0] if rows else None), len(rows), written

        try:
            reached, count, written = await store.write_transaction(sessions, step)
        except IntegrityError:
            raise RotationError(
                f"{spec.name}: two rows carry the same NIK under the two secrets (one was written by a "
                "process without LANJUTKAN_SECRET_OLD); settle the duplicate, then run again"
            ) from None
        batches += 1
        changed += written
        if reached is None:
            return changed, batches, True
        last_id = reached
        done += count
        if progress is not None:
            progress(spec.name, min(done, total), total)


async def _rotate_row(session: Any, vault: NikVault, spec: _Spec, row: Any) -> int:
    """Rewrite one row under the new secret if it is not already; returns 1 if it was written."""
    table = spec.table
    row_id, token = row[0], row[1]
    try:
        plain = vault.decrypt(token)
    except ValueError:
        raise RotationError(f"{spec.name} {row_id}: cannot be decrypted with either secret") from None
    values: dict[str, Any] = {}
    if not vault.is_current(token):
        values[spec.token] = vault.encrypt(plain)
    if spec.nik_hash is not None:
        new_hash = vault.hash(plain)
        if row[2] != new_hash:
            values[spec.nik_hash] = new_hash
        returned = row[3] if spec.name == "proposal" else None
        # A returned proposal's snapshot holds the NIK's hash of then, to tell whether a correction changed
        # it: re-keyed with the row, unless it is another NIK's (then it stays different, as it should).
        if returned and returned.get("nik") in vault.hashes(plain) and returned["nik"] != new_hash:
            values["returned_values"] = {**returned, "nik": new_hash}
    if not values:
        return 0
    if "updated_at" in table.c:
        values["updated_at"] = table.c.updated_at  # a change of key is no change of the proposal
    # Compare and set: a row the bot rewrote since it was read is under the new secret already.
    result = await (await session.connection()).execute(
        sa.update(table)
        .where(table.c[spec.key] == row_id, table.c[spec.token] == token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
