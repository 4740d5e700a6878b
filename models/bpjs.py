"""`lanjutkan bpjs import`: BPJS Ketenagakerjaan's result of the collective registration, read, matched to
established proposals by NIK hash and recorded on them and on the active participants.

The file follows the program-data import rules (models/imports.py): CSV or XLSX, tolerant headers, every
row checked; by default a file with any bad row records nothing, with ``skip_bad`` the good rows are
recorded and the bad ones go to ``<name>.ditolak.csv``. A reason never quotes a NIK. Importing the same
file again changes nothing: a row whose result is already recorded is counted as unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from models import store
from models.crypto import NikVault
from models.db import SessionMaker
from models.imports import ImportRefused, ImportReport, Rejects
from models.rules.bpjs import Result, effective_cell, kpj_cell, note_text, result_cell
from models.rules.categories import Category
from models.tables import Proposal, utcnow
from models.tabular import Cell, CellError, Column, Table, cell_at, locate, nik_cell

AUDIT_ACTION = "bpjs_import"
KPJ_NAMES = (
    "no_kpj", "nomor_kpj", "nomor_kepesertaan", "no_kepesertaan", "nomor_peserta", "no_peserta", "kpj_number",
    "no_kartu", "nomor_kartu",
)  # fmt: skip
EFFECTIVE_NAMES = (
    "tanggal_efektif", "tgl_efektif", "tgl_efektif_kepesertaan", "tanggal_efektif_kepesertaan",
    "efektif_kepesertaan", "tmt", "tanggal_kepesertaan", "tgl_kepesertaan", "mulai_kepesertaan",
)  # fmt: skip
STATUS_NAMES = ("hasil", "status_pendaftaran", "status_kepesertaan", "hasil_pendaftaran")
COLUMNS = (
    Column("nik", ("no_nik", "nomor_nik", "nomor_induk_kependudukan"), required=True),
    Column("kpj", KPJ_NAMES),
    Column("efektif", EFFECTIVE_NAMES),
    Column("status", STATUS_NAMES, required=True),
    Column("keterangan", ("ket", "alasan", "catatan", "keterangan_gagal", "alasan_gagal", "note")),
)
UNKNOWN_NIK = "NIK tidak dikenal: tidak ada usulan yang ditetapkan dengan NIK ini"
# Called in the import's transaction for each worker newly registered: queue the proposer's notice.
Notify = Callable[[AsyncSession, Proposal], Awaitable[int]]


@dataclass
class BpjsReport(ImportReport):
    """What a BPJS import did, besides the rows read and rejected."""

    registered: int = 0  # results "berhasil" recorded by this import
    failed: int = 0  # results "gagal" recorded by this import
    unchanged: int = 0  # rows whose result was recorded already (the same file imported again)
    participants_added: int = 0
    notices: int = 0  # messages queued to the proposing officers


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    cells: list[Cell]
    nik: str
    hashes: tuple[str, ...]
    result: Result
    kpj: str | None
    effective: dt.date | None
    note: str | None


def read_row(line: int, cells: list[Cell], columns: dict[str, int], vault: NikVault) -> _Row:
    """One row checked on its own (raises CellError with the reason); matching comes later."""
    nik = nik_cell(cell_at(cells, columns["nik"]))
    result = result_cell(cell_at(cells, columns["status"]))
    note = note_text(cell_at(cells, columns.get("keterangan")))
    kpj = effective = None
    if result is Result.BERHASIL:
        kpj = kpj_cell(cell_at(cells, columns.get("kpj")))
        effective = effective_cell(cell_at(cells, columns.get("efektif")))
    return _Row(line, cells, nik, tuple(vault.hashes(nik)), result, kpj, effective, note)


def _same(vault: NikVault, proposal: Proposal, row: _Row) -> bool:
    """Whether the proposal holds this row's result already."""
    if proposal.bpjs_status != row.result.value:
        return False
    if row.result is Result.GAGAL:
        return proposal.bpjs_note == row.note
    kpj = vault.decrypt(proposal.bpjs_kpj_encrypted) if proposal.bpjs_kpj_encrypted else None
    return kpj == row.kpj and proposal.bpjs_effective == row.effective


def _conflict(vault: NikVault, proposal: Proposal, row: _Row) -> str | None:
    """Why a row may not replace what is recorded: a registration is never undone by a file."""
    if proposal.bpjs_status != Result.BERHASIL.value:
        return None
    if row.result is Result.GAGAL:
        return "sudah tercatat terdaftar di BPJS: hasil gagal tidak menggantinya"
    kpj = vault.decrypt(proposal.bpjs_kpj_encrypted) if proposal.bpjs_kpj_encrypted else None
    if kpj != row.kpj:
        return "sudah tercatat terdaftar di BPJS dengan nomor kepesertaan lain"
    return None


async def import_bpjs(
    sessions: SessionMaker,
    vault: NikVault,
    path: Path,
    *,
    skip_bad: bool = False,
    actor: str | None = None,
    notify: Notify | None = None,
) -> BpjsReport:
    """Record a BPJS result file on the established proposals and the active participants, in one
    transaction; nothing at all when a row is bad and ``skip_bad`` is not given."""
    report = BpjsReport(file_name=path.name)
    with Table(path) as table:
        columns = locate(table.header, COLUMNS, path.name)
        good: list[_Row] = []
        bad: list[tuple[int, str, list[Cell]]] = []
        seen: dict[str, int] = {}
        for line, cells in table:
            report.rows += 1
            try:
                row = read_row(line, cells, columns, vault)
                if row.hashes[0] in seen:
                    raise CellError(f"NIK sama dengan baris {seen[row.hashes[0]]}")
            except CellError as error:
                bad.append((line, str(error), cells))
                continue
            seen[row.hashes[0]] = line
            good.append(row)

    unreadable = list(bad)

    async def work(session: AsyncSession) -> None:
        # Run again from the start when SQLite is busy: nothing counted by an attempt that did not commit.
        bad[:] = unreadable
        report.unchanged = report.registered = report.failed = 0
        report.participants_added = report.notices = report.rejected_count = 0
        report.rejected.clear()
        hashes = [h for row in good for h in row.hashes]
        proposals = await store.established_by_hashes(session, nik_hashes=hashes)
        changes: list[tuple[_Row, Proposal]] = []
        for row in good:
            proposal = next((proposals[h] for h in row.hashes if h in proposals), None)
            reason = UNKNOWN_NIK if proposal is None else _conflict(vault, proposal, row)
            if reason is not None or proposal is None:
                bad.append((row.line, reason or UNKNOWN_NIK, row.cells))
            elif _same(vault, proposal, row):
                report.unchanged += 1
            else:
                changes.append((row, proposal))
        _reject(report, bad, table, path, skip_bad)
        if bad and not skip_bad:
            return  # all or nothing: the transaction commits no change
        at = utcnow()
        for row, proposal in changes:
            await _record(session, vault, report, row, proposal, at, notify)
        if changes:
            await store.add_program_audit(
                session,
                action=AUDIT_ACTION,
                subject=f"bpjs:{path.name}",
                actor=actor,
                detail={
                    "rows": report.rows, "registered": report.registered, "failed": report.failed,
                    "unchanged": report.unchanged, "rejected": report.rejected_count,
                    "participants_added": report.participants_added, "notices": report.notices,
                },
            )  # fmt: skip

    if report.rows:
        await store.write_transaction(sessions, work)
    report.imported = report.registered + report.failed
    return report


def _reject(
    report: BpjsReport, bad: list[tuple[int, str, list[Cell]]], table: Table, path: Path, skip_bad: bool
) -> None:
    """The bad rows in line order: the first few in the report, all in <name>.ditolak.csv with skip_bad."""
    rejects = Rejects(report, table, path, write_file=skip_bad)
    try:
        for line, reason, cells in sorted(bad, key=lambda item: item[0]):
            rejects.add(line, reason, cells)
    finally:
        rejects.close()


async def _record(
    session: AsyncSession,
    vault: NikVault,
    report: BpjsReport,
    row: _Row,
    proposal: Proposal,
    at: dt.datetime,
    notify: Notify | None,
) -> None:
    kpj_encrypted = vault.encrypt(row.kpj) if row.kpj is not None else None
    written = await store.record_bpjs_result(
        session,
        proposal=proposal,
        status=row.result.value,
        kpj_encrypted=kpj_encrypted,
        effective=row.effective,
        note=row.note,
        at=at,
    )
    if not written:  # another import or a decision got there first: the whole import rolls back
        raise ImportRefused(f"proposal {proposal.number} changed during the import: run it again")
    if row.result is Result.GAGAL:
        report.failed += 1
        return
    report.registered += 1
    assert row.effective is not None and proposal.id is not None
    added = await store.add_bpjs_participant(
        session,
        values={
            "nik_hash": vault.hash(row.nik),
            "nik_encrypted": vault.encrypt(row.nik),
            "name": (proposal.name or "-")[:120],
            "desa_code": proposal.desa_code,
            "category": proposal.category or Category.LAINNYA.value,
            "coverage_start": row.effective,
            "imported_at": at,
            "kpj_encrypted": kpj_encrypted,
            "proposal_id": proposal.id,
        },
    )
    report.participants_added += int(added)
    if notify is not None:
        report.notices += await notify(session, proposal)
