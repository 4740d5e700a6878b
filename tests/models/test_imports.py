"""Registry and participant imports through the store, on SQLite and PostgreSQL (what production uses).

Files are made by the tests; NIKs are synthetic (tests.conftest.synthetic_nik), names made up.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import stat
from pathlib import Path

import pytest
from sqlmodel import func, select

from handlers.context import Services
from models import imports, store
from models.imports import import_participants, import_registry, rejected_path
from models.store import RegistryMatch
from models.tables import ActiveParticipant, RegistryBatch, RegistryEntry, RegistrySource
from models.tabular import TabularFileError
from tests.conftest import make_services, synthetic_nik
from tests.files import xlsx

DTSEN, DTKS = RegistrySource.DTSEN, RegistrySource.DTKS


def nik(serial: int) -> str:
    return synthetic_nik(serial=serial)


def write_csv(path: Path, rows: list[list[object]], *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as sink:
        csv.writer(sink, delimiter=delimiter).writerows(rows)
    return path


async def matches(services: Services, serial: int) -> list[RegistryMatch]:
    async with services.sessions() as session:
        return await store.registry_matches(session, nik_hash=services.vault.hash(nik(serial)))


async def count(services: Services, table: type) -> int:
    async with services.sessions() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def run_registry(
    services: Services, path: Path, source: RegistrySource = DTSEN, **kw
) -> imports.ImportReport:
    return await import_registry(
        services.sessions, services.vault, services.kabupaten, path, source=source, **kw
    )


# -------------------------------------------------------------------------------------------- registries


async def test_a_registry_csv_imports_and_each_source_is_looked_up_by_nik_hash(services, tmp_path):
    dtsen = write_csv(
        tmp_path / "dtsen.csv",
        [
            ["NIK", "No KK", "Nama", "Desil", "Alamat", "Desa"],
            [nik(1), "1217010101900001", "Budi Santoso", 3, "Dusun II", "12.17.01.2001"],
            [nik(2), "", "Sari  Manik", "", "", ""],
        ],
        delimiter=";",
        encoding="utf-8-sig",
    )
    dtks = xlsx(tmp_path / "dtks.xlsx", [["nik", "nama"], [int(nik(1)), "BUDI SANTOSO"]])

    report = await run_registry(services, dtsen)
    await run_registry(services, dtks, DTKS)

    assert (report.rows, report.imported, report.rejected_count) == (2, 2, 0)
    assert await matches(services, 1) == [
        RegistryMatch("dtks", "BUDI SANTOSO", None),
        RegistryMatch("dtsen", "Budi Santoso", 3),
    ]
    assert await matches(services, 2) == [RegistryMatch("dtsen", "Sari Manik", None)]
    assert await matches(services, 3) == []
    async with services.sessions() as session:
        entries = list(await session.exec(select(RegistryEntry).order_by(RegistryEntry.id)))
    assert entries[0].desa_code == "12.17.01.2001"
    # Only the hash: no NIK, no KK, no address anywhere in the row.
    for entry in entries:
        values = " ".join(str(v) for v in entry.model_dump().values())
        assert nik(1) not in values
        assert "1217010101900001" not in values
        assert "Dusun" not in values


async def test_any_bad_row_imports_nothing_and_the_old_rows_stay(services, tmp_path):
    await run_registry(services, write_csv(tmp_path / "old.csv", [["nik", "nama"], [nik(1), "Lama"]]))
    bad = write_csv(
        tmp_path / "new.csv",
        [
            ["nik", "nama", "desil"],
            [nik(2), "Baru", 2],  # 2 good
            ["1.21701E+15", "Ilmiah", 1],  # 3
            [nik(3)[1:], "Pendek", 1],  # 4
            [nik(4), "", 1],  # 5
            [nik(5), "Desil", 11],  # 6
        ],
    )

    report = await run_registry(services, bad)

    assert report.imported == 0
    assert [(r.line, r.reason.split(" (")[0].split(":")[0]) for r in report.rejected] == [
        (3, "NIK tertulis sebagai angka ilmiah"),
        (4, "NIK kurang dari 16 angka"),
        (5, "nama kosong"),
        (6, "desil 11 harus 1 sampai 10"),
    ]
    assert report.rejected_file is None
    assert not rejected_path(bad).exists()
    assert await matches(services, 1) == [RegistryMatch("dtsen", "Lama", None)]
    assert await matches(services, 2) == []
    assert await count(services, RegistryEntry) == 1
    assert await count(services, RegistryBatch) == 1  # the refused batch is gone


async def test_skip_bad_imports_the_good_rows_and_writes_the_bad_ones_with_their_cells(services, tmp_path):
    path = write_csv(
        tmp_path / "dtsen.csv",
        [["NIK", "Nama", "Desil"], [nik(1), "Budi", 3], ["1.21701E+15", "Ilmiah", 1], [nik(2), "Sari", 2]],
    )

    report = await run_registry(services, path, skip_bad=True)

    assert (report.imported, report.rejected_count) == (2, 1)
    assert report.rejected_file == tmp_path / "dtsen.ditolak.csv"
    assert report.rejected_file.stat().st_mode & 0o777 == 0o600
    with report.rejected_file.open(encoding="utf-8-sig", newline="") as source:
        written = list(csv.reader(source))
    assert written[0] == ["baris", "alasan", "NIK", "Nama", "Desil"]
    assert written[1][0] == "3"
    assert written[1][1].startswith("NIK tertulis sebagai angka ilmiah")
    assert written[1][2:] == ["1.21701E+15", "Ilmiah", "1"]
    assert len(written) == 2
    assert [m.name for m in await matches(services, 2)] == ["Sari"]


async def test_reimport_replaces_the_sources_rows_and_leaves_other_sources(services, tmp_path):
    first = write_csv(tmp_path / "a.csv", [["nik", "nama"]] + [[nik(i), f"Lama {i}"] for i in range(1, 6)])
    await run_registry(services, first, chunk=2)
    await run_registry(services, write_csv(tmp_path / "k.csv", [["nik", "nama"], [nik(1), "Di DTKS"]]), DTKS)

    second = write_csv(tmp_path / "b.csv", [["nik", "nama"], [nik(1), "Baru 1"], [nik(9), "Baru 9"]])
    report = await run_registry(services, second, chunk=2)

    assert report.replaced == 5
    assert await matches(services, 1) == [
        RegistryMatch("dtks", "Di DTKS", None),
        RegistryMatch("dtsen", "Baru 1", None),
    ]
    assert await matches(services, 2) == []
    assert [m.name for m in await matches(services, 9)] == ["Baru 9"]
    assert await count(services, RegistryEntry) == 3
    async with services.sessions() as session:
        assert [b.file_name for b in await store.registry_sources(session)] == ["k.csv", "b.csv"]


async def test_lookups_see_the_old_rows_until_the_new_import_switches(
    services, tmp_path, database_url, monkeypatch
):
    await run_registry(services, write_csv(tmp_path / "a.csv", [["nik", "nama"], [nik(1), "Lama"]]))
    reader = make_services(database_url)  # another engine: a bot process reading meanwhile
    seen: list[tuple[list[RegistryMatch], list[RegistryMatch], int]] = []
    activate = store.activate_registry_batch

    async def watched(session, **kwargs):
        # Every chunk of the new file is committed by now; the bot still reads the old rows.
        seen.append((await matches(reader, 1), await matches(reader, 7), await count(reader, RegistryEntry)))
        return await activate(session, **kwargs)

    monkeypatch.setattr(store, "activate_registry_batch", watched)
    new = write_csv(tmp_path / "b.csv", [["nik", "nama"]] + [[nik(i), f"Baru {i}"] for i in range(2, 9)])
    try:
        await run_registry(services, new, chunk=3)
        assert seen == [([RegistryMatch("dtsen", "Lama", None)], [], 1 + 7)]
        assert await matches(reader, 1) == []
        assert [m.name for m in await matches(reader, 7)] == ["Baru 7"]
    finally:
        await reader.close()


async def test_a_failed_import_leaves_the_old_rows_and_no_half_batch(services, tmp_path, monkeypatch):
    await run_registry(services, write_csv(tmp_path / "a.csv", [["nik", "nama"], [nik(1), "Lama"]]))
    add = store.add_registry_rows
    calls = 0

    async def breaks_on_the_second_chunk(session, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        await add(session, **kwargs)

    monkeypatch.setattr(store, "add_registry_rows", breaks_on_the_second_chunk)
    new = write_csv(tmp_path / "b.csv", [["nik", "nama"]] + [[nik(i), "Baru"] for i in range(2, 9)])

    with pytest.raises(OSError, match="disk full"):
        await run_registry(services, new, chunk=3)

    assert await matches(services, 1) == [RegistryMatch("dtsen", "Lama", None)]
    assert await count(services, RegistryEntry) == 1
    assert await count(services, RegistryBatch) == 1


async def test_the_next_import_cleans_up_what_a_crashed_import_left(services, tmp_path):
    async with services.sessions() as session:  # a crash after a chunk was committed, before the switch
        crashed = await store.start_registry_batch(session, source="dtsen", file_name="crashed.csv")
        await store.add_registry_rows(
            session,
            rows=[
                {"batch_id": crashed, "source": "dtsen", "nik_hash": services.vault.hash(nik(4)), "name": "X"}
            ],
        )
        await session.commit()
    assert await matches(services, 4) == []  # never active, never served

    await run_registry(services, write_csv(tmp_path / "a.csv", [["nik", "nama"], [nik(1), "Budi"]]))

    assert await count(services, RegistryEntry) == 1
    assert await count(services, RegistryBatch) == 1


async def test_a_missing_column_refuses_the_file(services, tmp_path):
    path = write_csv(tmp_path / "dtsen.csv", [["NIK", "Alamat"], [nik(1), "Dusun II"]])

    with pytest.raises(TabularFileError, match=r"dtsen\.csv: missing column nama"):
        await run_registry(services, path)
    assert await count(services, RegistryBatch) == 0


# ------------------------------------------------------------------------------------------ participants

PARTICIPANT_HEADER = ["NIK", "Nama", "Kecamatan", "Desa", "Pekerjaan", "Mulai"]


async def run_participants(services: Services, path: Path, **kw) -> imports.ImportReport:
    return await import_participants(services.sessions, services.vault, services.kabupaten, path, **kw)


async def participants(services: Services) -> list[ActiveParticipant]:
    async with services.sessions() as session:
        return list(await session.exec(select(ActiveParticipant).order_by(ActiveParticipant.id)))


async def test_participants_from_xlsx_with_desa_by_code_or_by_names_and_excel_dates(services, tmp_path):
    path = xlsx(
        tmp_path / "peserta.xlsx",
        [
            PARTICIPANT_HEADER,
            [int(nik(1)), "Budi Santoso", None, "12.17.01.2001", "Petani", dt.datetime(2025, 1, 1)],
            [nik(2), "Sari Manik", "Simanindo", "Tomok", "tukang becak", 45658],  # serial of 1 Jan 2025
            [nik(3), "Rudi", "simanindo", "tomok", "Supir", "01-02-2025"],
        ],
    )

    report = await run_participants(services, path)

    assert (report.imported, report.rejected_count) == (3, 0)
    stored = await participants(services)
    assert [(p.name, p.desa_code, p.category, p.coverage_start) for p in stored] == [
        ("Budi Santoso", "12.17.01.2001", "petani", dt.date(2025, 1, 1)),
        ("Sari Manik", "12.17.01.2001", "tukang_becak", dt.date(2025, 1, 1)),
        ("Rudi", "12.17.01.2001", "sopir", dt.date(2025, 2, 1)),
    ]
    assert services.vault.decrypt(stored[0].nik_encrypted) == nik(1)
    async with services.sessions() as session:
        assert await store.is_active_participant(session, nik_hash=services.vault.hash(nik(2)))
        assert not await store.is_active_participant(session, nik_hash=services.vault.hash(nik(4)))


async def test_bad_participant_rows_are_reported_and_nothing_replaces_the_list(services, tmp_path):
    await run_participants(
        services,
        write_csv(
            tmp_path / "old.csv",
            [PARTICIPANT_HEADER, [nik(9), "Lama", "", "12.17.01.2001", "petani", "2025-01-01"]],
        ),
    )
    path = write_csv(
        tmp_path / "peserta.csv",
        [
            PARTICIPANT_HEADER,
            [nik(1), "Budi", "", "12.17.01.2001", "petani", "2025-01-01"],  # 2 good
            [nik(1), "Budi Lagi", "", "12.17.01.2001", "petani", "2025-01-01"],  # 3 same NIK
            [nik(2), "Sari", "", "Tomok", "petani", "2025-01-01"],  # 4 a name without kecamatan
            [nik(3), "Rudi", "Simanindo", "Atlantis", "petani", "2025-01-01"],  # 5 no such desa
            [nik(4), "Tiur", "", "12.71.01.1001", "petani", "2025-01-01"],  # 6 Kota Medan
            [nik(5), "Ucok", "", "12.17.01.2001", "astronot", "2025-01-01"],  # 7 unknown category
            [nik(6), "Lina", "", "12.17.01.2001", "petani", "kemarin"],  # 8 bad date
        ],
        encoding="cp1252",
    )

    report = await run_participants(services, path)

    assert report.imported == 0
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert reasons[3] == "NIK sama dengan baris 2"
    assert "isi juga kolom kecamatan" in reasons[4]
    assert "'Atlantis' tidak ada di Kec. Simanindo" in reasons[5]
    assert "12.71.01.1001 bukan desa/kelurahan di Kabupaten Samosir" in reasons[6]
    assert "kategori 'astronot' tidak dikenal" in reasons[7]
    assert "mulai 'kemarin' tidak terbaca" in reasons[8]
    assert [p.name for p in await participants(services)] == ["Lama"]

    again = await run_participants(services, path, skip_bad=True)

    assert (again.imported, again.rejected_count, again.replaced) == (1, 6, 1)
    assert [p.name for p in await participants(services)] == ["Budi"]
    assert len(list(csv.reader(rejected_path(path).open(encoding="utf-8-sig")))) == 7


async def test_participants_need_their_columns(services, tmp_path):
    path = write_csv(tmp_path / "peserta.csv", [["NIK", "Nama", "Desa"], [nik(1), "Budi", "12.17.01.2001"]])

    with pytest.raises(TabularFileError, match="missing columns kategori, mulai"):
        await run_participants(services, path)


# ------------------------------------------------------------------------------------ hostile cells, files


async def test_a_desil_or_date_of_thousands_of_digits_rejects_its_row_not_the_import(services, tmp_path):
    registry = write_csv(
        tmp_path / "dtsen.csv",
        [["NIK", "Nama", "Desil"], [nik(1), "Budi", 3], [nik(2), "Sari", "9" * 5_000], [nik(3), "Rudi", 2]],
    )
    participants_file = write_csv(
        tmp_path / "peserta.csv",
        [
            PARTICIPANT_HEADER,
            [nik(1), "Budi", "", "12.17.01.2001", "petani", "2025-01-01"],
            [nik(2), "Sari", "", "12.17.01.2001", "petani", "9" * 5_000],
        ],
    )

    registry_report = await run_registry(services, registry, skip_bad=True)
    participants_report = await run_participants(services, participants_file, skip_bad=True)

    assert (registry_report.imported, registry_report.rejected) == (
        2,
        [imports.Rejected(3, "desil berisi 5000 angka: terlalu panjang")],
    )
    assert (participants_report.imported, participants_report.rejected) == (
        1,
        [imports.Rejected(3, "mulai berisi 5000 angka: bukan tanggal")],
    )


async def test_reasons_quote_no_nik_from_a_wrong_column_and_cut_long_cells(services, tmp_path):
    registry = write_csv(tmp_path / "dtsen.csv", [["NIK", "Nama", "Desil"], [nik(1), "Budi", nik(2)]])
    participants_file = write_csv(
        tmp_path / "peserta.csv",
        [
            PARTICIPANT_HEADER,
            [nik(1), "Budi", "", nik(2), "petani", "2025-01-01"],
            [nik(3), "Sari", "", "12.17.01.2001", "petani", nik(4)],
            [nik(5), "Rudi", "", "12.17.01.2001", f"petani {nik(6)} " * 1_000, "2025-01-01"],
            [nik(7), "Tiur", "", "12.17.01.2001", "petani", f"{nik(8)} kemarin"],
        ],
    )

    registry_report = await run_registry(services, registry)
    participants_report = await run_participants(services, participants_file)

    reasons = [r.reason for r in registry_report.rejected + participants_report.rejected]
    assert reasons[0] == "desil 1217••••••••0002 harus 1 sampai 10"
    assert reasons[1].startswith("kode desa 1217••••••••0002 bukan desa/kelurahan")
    assert reasons[2] == "mulai 1217••••••••0004 bukan tanggal"
    assert reasons[3].startswith("kategori 'petani 1217••••••••0006 petani 1217•••••…' tidak dikenal")
    assert reasons[4].startswith("mulai '1217••••••••0008 kemarin' tidak terbaca")
    assert not any(re.search(r"[0-9]{12}", reason) for reason in reasons)


async def test_the_rejected_file_is_a_new_private_file_never_a_symlinks_target(services, tmp_path):
    path = write_csv(tmp_path / "dtsen.csv", [["NIK", "Nama"], [nik(1), "Budi"], ["1.21701E+15", "Ilmiah"]])
    rejected = rejected_path(path)
    rejected.write_text("an old file, readable by all\n")
    rejected.chmod(0o644)

    await run_registry(services, path, skip_bad=True)

    assert stat.S_IMODE(rejected.stat().st_mode) == 0o600  # not the old file's mode
    assert "Ilmiah" in rejected.read_text(encoding="utf-8-sig")

    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not to be overwritten\n")
    elsewhere.chmod(0o644)
    rejected.unlink()
    rejected.symlink_to(elsewhere)

    await run_registry(services, path, skip_bad=True)

    assert elsewhere.read_text() == "not to be overwritten\n"
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o644
    assert not rejected.is_symlink()
    assert stat.S_IMODE(rejected.stat().st_mode) == 0o600
    assert "Ilmiah" in rejected.read_text(encoding="utf-8-sig")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temp file left
