"""BPJS's registration results through the store, on SQLite and PostgreSQL: the rows' rules, the
all-or-nothing refusal, what the database holds after a good file, and a second import changing nothing.

Files are made by the tests; NIKs and participation numbers are synthetic.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col, func, select

from handlers import texts
from handlers.bpjs import registered_notice
from handlers.context import Services
from models import store
from models.bpjs import BpjsReport, import_bpjs
from models.imports import rejected_path
from models.rules.bpjs import Result, effective_cell, kpj_cell, mask_kpj, note_text, result_cell
from models.rules.status import Status
from models.tables import ActiveParticipant, OutboundMessage, ProgramAudit, Proposal
from models.tabular import CellError
from tests.conftest import OPERATOR_PHONE, PANGURURAN_DESA, sent_proposal, synthetic_nik
from tests.files import xlsx

BUDI, ANDO, RIA, WAITING, STRANGER = (synthetic_nik(serial=s) for s in (21, 22, 23, 24, 99))
KPJ_BUDI, KPJ_ANDO = "26010000421", "26010000422"
HEADER = ["NIK", "No KPJ", "Tgl Efektif", "Status", "Ket"]


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as sink:
        csv.writer(sink, delimiter=";").writerows(rows)
    return path


async def seed(services: Services) -> dict[str, int]:
    """Three established proposals (Budi and Ria in Tomok, Ando in Pangururan), one waiting for the camat."""
    ids: dict[str, int] = {}
    async with services.sessions() as session:
        rina = await store.officer_by_phone(session, phone=OPERATOR_PHONE)
        assert rina is not None
        assert rina.id is not None
        for nik, name, status, desa in (
            (BUDI, "BUDI SANTOSO", Status.DITETAPKAN, "12.17.01.2001"),
            (ANDO, "ANDO SINAGA", Status.DITETAPKAN, PANGURURAN_DESA),
            (RIA, "RIA SIHOTANG", Status.DITETAPKAN, "12.17.01.2001"),
            (WAITING, "TUMPAL NABABAN", Status.MENUNGGU_CAMAT, "12.17.01.2001"),
        ):
            proposal = sent_proposal(
                services, officer_id=rina.id, nik=nik, name=name, status=status, desa=desa
            )
            session.add(proposal)
            await session.flush()
            assert proposal.id is not None
            ids[nik] = proposal.id
        await session.commit()
    return ids


async def run(services: Services, path: Path, **kw: object) -> BpjsReport:
    return await import_bpjs(
        services.sessions, services.vault, path, actor="tester@host", notify=registered_notice(services), **kw
    )  # type: ignore[arg-type]


async def count(services: Services, table: type) -> int:
    async with services.sessions() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def proposal_of(services: Services, proposal_id: int) -> Proposal:
    async with services.sessions() as session:
        proposal = await session.get(Proposal, proposal_id)
        assert proposal is not None
        return proposal


# ----------------------------------------------------------------------------------------------- row rules


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-02-01", dt.date(2026, 2, 1)),
        ("01/02/2026", dt.date(2026, 2, 1)),
        ("01-02-2026", dt.date(2026, 2, 1)),
        ("1 Februari 2026", dt.date(2026, 2, 1)),
        ("1 februari 2026", dt.date(2026, 2, 1)),
        ("01-Feb-2026", dt.date(2026, 2, 1)),
        ("17 Agustus 2026", dt.date(2026, 8, 17)),
        ("1 Nopember 2026", dt.date(2026, 11, 1)),
        ("46054", dt.date(2026, 2, 1)),  # Excel's serial number written as text
    ],
)
def test_effective_dates_in_the_usual_indonesian_forms(text: str, day: dt.date) -> None:
    assert effective_cell(text) == day


@pytest.mark.parametrize("text", ["31 Februari 2026", "1 Brumaire 2026", "besok", "2026-13-01"])
def test_a_broken_effective_date_says_why(text: str) -> None:
    with pytest.raises(CellError, match="tanggal efektif"):
        effective_cell(text)


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_every_date_written_in_indonesian_reads_back(day: dt.date) -> None:
    assert effective_cell(texts.tanggal(day)) == day
    assert effective_cell(day.strftime("%d/%m/%Y")) == day


def test_statuses_kpj_and_notes() -> None:
    assert result_cell(" Berhasil ") is Result.BERHASIL
    assert result_cell("SUKSES") is Result.BERHASIL
    assert result_cell("Gagal") is Result.GAGAL
    with pytest.raises(CellError, match="status 'mungkin' tidak dikenal"):
        result_cell("mungkin")
    assert kpj_cell(26010000421) == "26010000421"  # Excel made it a number
    assert kpj_cell("'2601-0000-421") == "26010000421"
    with pytest.raises(CellError, match="KPJ"):
        kpj_cell("")
    with pytest.raises(CellError, match="KPJ"):
        kpj_cell("12AB")
    # BPJS's reason may quote the NIK: kept masked
    note = note_text(f"NIK {BUDI} sudah terdaftar di perusahaan lain")
    assert note is not None
    assert BUDI not in note
    assert "terdaftar di perusahaan lain" in note
    assert mask_kpj("26010000421") == "•••••••0421"


# --------------------------------------------------------------------------------------- all or nothing


async def test_a_file_with_bad_rows_records_nothing_and_says_why_by_line(services: Services, tmp_path: Path):
    await seed(services)
    path = write_csv(
        tmp_path / "hasil-bpjs.csv",
        [
            HEADER,
            [BUDI, KPJ_BUDI, "1 Februari 2026", "berhasil", ""],  # line 2
            [ANDO, "", "", "gagal", "Nama tidak sesuai NIK"],  # line 3
            [STRANGER, "26010000499", "2026-02-01", "berhasil", ""],  # line 4: no proposal
            [RIA, "26010000423", "30 Februari 2026", "berhasil", ""],  # line 5: broken date
            [WAITING, "26010000424", "2026-02-01", "berhasil", ""],  # line 6: not established
            ["1217011508", "26010000425", "2026-02-01", "berhasil", ""],  # line 7: not a NIK
            [BUDI, "26010000426", "2026-02-01", "berhasil", ""],  # line 8: twice in the file
        ],
    )

    report = await run(services, path)

    assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
        (4, "NIK tidak dikenal"),
        (5, "tanggal efektif '30 Februari 2026' bukan tanggal"),
        (6, "NIK tidak dikenal"),
        (7, "NIK kurang dari 16 angka (10 angka)"),
        (8, "NIK sama dengan baris 2"),
    ]
    reasons = " ".join(r.reason for r in report.rejected)
    assert not any(nik in reasons for nik in (BUDI, ANDO, RIA, WAITING, STRANGER, "1217011508"))
    assert report.imported == report.registered == report.failed == 0
    async with services.sessions() as session:
        recorded = (
            await session.exec(select(func.count()).where(col(Proposal.bpjs_status).is_not(None)))
        ).one()
    assert recorded == 0
    for table in (ActiveParticipant, OutboundMessage, ProgramAudit):
        assert await count(services, table) == 0
    assert not rejected_path(path).exists()

    report = await run(services, path, skip_bad=True)

    assert (report.registered, report.failed, report.rejected_count) == (1, 1, 5)
    written = rejected_path(path).read_text(encoding="utf-8-sig").splitlines()
    assert written[0] == "baris,alasan,NIK,No KPJ,Tgl Efektif,Status,Ket"
    assert [line.split(",")[0] for line in written[1:]] == ["4", "5", "6", "7", "8"]


# -------------------------------------------------------------------------------------------- a good file


async def test_a_good_xlsx_records_results_adds_participants_tells_the_proposer_once(
    services: Services, tmp_path: Path
):
    ids = await seed(services)
    services = dataclasses.replace(services, reach_unbound="whatsapp")  # Rina is bound nowhere yet
    path = xlsx(
        tmp_path / "Hasil Pendaftaran BPJS.xlsx",
        [
            ["nik", "Nomor Peserta", "TANGGAL EFEKTIF", "status", "Keterangan"],
            [BUDI, 26010000421, dt.datetime(2026, 2, 1), "Berhasil", None],
            [ANDO, None, None, "Gagal", f"NIK {ANDO} tidak sesuai data Dukcapil"],
            [RIA, "26010000423", "1 Maret 2026", "sukses", None],
        ],
    )

    report = await run(services, path)

    assert (report.rows, report.registered, report.failed, report.unchanged) == (3, 2, 1, 0)
    assert (report.participants_added, report.notices, report.rejected_count) == (2, 2, 0)
    budi = await proposal_of(services, ids[BUDI])
    assert budi.bpjs_status == "berhasil"
    assert budi.bpjs_effective == dt.date(2026, 2, 1)
    assert budi.bpjs_kpj_encrypted is not None
    assert KPJ_BUDI not in budi.bpjs_kpj_encrypted
    assert services.vault.decrypt(budi.bpjs_kpj_encrypted) == KPJ_BUDI
    assert budi.bpjs_at is not None
    assert budi.status is Status.DITETAPKAN
    ando = await proposal_of(services, ids[ANDO])
    assert ando.bpjs_status == "gagal"
    assert ando.bpjs_kpj_encrypted is None
    assert ando.bpjs_note is not None
    assert "tidak sesuai data Dukcapil" in ando.bpjs_note
    assert ANDO not in ando.bpjs_note
    async with services.sessions() as session:
        participants = {p.name: p for p in await session.exec(select(ActiveParticipant))}
        messages = list(await session.exec(select(OutboundMessage).order_by(OutboundMessage.id)))
        audits = list(await session.exec(select(ProgramAudit)))
        failures, total = await store.bpjs_failures(session, limit=10)
    assert sorted(participants) == ["BUDI SANTOSO", "RIA SIHOTANG"]
    budi_row = participants["BUDI SANTOSO"]
    assert budi_row.coverage_start == dt.date(2026, 2, 1)
    assert budi_row.proposal_id == ids[BUDI]
    assert budi_row.nik_hash == services.vault.hash(BUDI)
    assert services.vault.decrypt(budi_row.nik_encrypted) == BUDI
    assert budi_row.kpj_encrypted is not None
    assert services.vault.decrypt(budi_row.kpj_encrypted) == KPJ_BUDI
    assert participants["RIA SIHOTANG"].coverage_start == dt.date(2026, 3, 1)
    # The proposer hears of each registration; nobody hears of the failure (the dinas handles it)
    assert [m.text for m in messages] == [
        f"✅ U-{ids[BUDI]:05d} (BUDI SANTOSO) sudah terdaftar di BPJS Ketenagakerjaan sejak 1 Februari 2026.",
        f"✅ U-{ids[RIA]:05d} (RIA SIHOTANG) sudah terdaftar di BPJS Ketenagakerjaan sejak 1 Maret 2026.",
    ]
    assert {m.chat_id for m in messages} == {OPERATOR_PHONE.lstrip("+")}
    assert [p.id for p in failures] == [ids[ANDO]]
    assert total == 1
    [audit] = audits
    assert (audit.action, audit.subject, audit.actor) == (
        "bpjs_import", "bpjs:Hasil Pendaftaran BPJS.xlsx", "tester@host",
    )  # fmt: skip
    assert audit.detail["registered"] == 2
    assert audit.detail["failed"] == 1
    assert audit.detail["participants_added"] == 2
    assert audit.detail["notices"] == 2

    again = await run(services, path)

    assert (again.registered, again.failed, again.unchanged, again.notices) == (0, 0, 3, 0)
    assert again.imported == 0
    assert await count(services, ActiveParticipant) == 2
    assert await count(services, OutboundMessage) == 2
    assert await count(services, ProgramAudit) == 1
    assert (await proposal_of(services, ids[BUDI])).bpjs_at == budi.bpjs_at


async def test_a_failure_registered_later_joins_the_participants_and_a_registration_is_never_undone(
    services: Services, tmp_path: Path
):
    ids = await seed(services)
    first = write_csv(tmp_path / "gelombang-1.csv", [HEADER, [ANDO, "", "", "gagal", "Tanggal lahir beda"]])
    assert (await run(services, first)).failed == 1
    assert await count(services, ActiveParticipant) == 0

    second = write_csv(tmp_path / "gelombang-2.csv", [HEADER, [ANDO, KPJ_ANDO, "01/03/2026", "berhasil", ""]])
    report = await run(services, second)

    assert (report.registered, report.participants_added) == (1, 1)
    ando = await proposal_of(services, ids[ANDO])
    assert ando.bpjs_status == "berhasil"
    assert ando.bpjs_effective == dt.date(2026, 3, 1)
    async with services.sessions() as session:
        assert (await store.bpjs_failures(session, limit=10))[1] == 0

    third = write_csv(
        tmp_path / "gelombang-3.csv",
        [HEADER, [ANDO, "", "", "gagal", "ganda"], [ANDO[:-1] + "9", "", "", "gagal", ""]],
    )
    refused = await run(services, third)

    assert next(r.reason for r in refused.rejected) == (
        "sudah tercatat terdaftar di BPJS: hasil gagal tidak menggantinya"
    )
    assert (await proposal_of(services, ids[ANDO])).bpjs_status == "berhasil"


async def test_a_worker_already_on_the_participant_list_is_not_added_twice(
    services: Services, tmp_path: Path
):
    ids = await seed(services)
    async with services.sessions() as session:
        await store.replace_participants(
            session,
            rows=[
                {
                    "nik_hash": services.vault.hash(BUDI),
                    "nik_encrypted": services.vault.encrypt(BUDI),
                    "name": "BUDI SANTOSO",
                    "desa_code": "12.17.01.2001",
                    "category": "petani",
                    "coverage_start": dt.date(2026, 1, 1),
                }
            ],
        )
        await session.commit()
    path = write_csv(tmp_path / "hasil.csv", [HEADER, [BUDI, KPJ_BUDI, "2026-02-01", "berhasil", ""]])

    report = await run(services, path)

    assert (report.registered, report.participants_added) == (1, 0)
    async with services.sessions() as session:
        [row] = list(await session.exec(select(ActiveParticipant)))
    assert row.proposal_id == ids[BUDI]
    assert row.coverage_start == dt.date(2026, 1, 1)
    assert row.kpj_encrypted is not None
    assert services.vault.decrypt(row.kpj_encrypted) == KPJ_BUDI


async def test_a_file_without_the_status_column_is_refused_whole(services: Services, tmp_path: Path):
    from models.tabular import TabularFileError

    path = write_csv(tmp_path / "salah.csv", [["NIK", "KPJ"], [BUDI, KPJ_BUDI]])
    with pytest.raises(TabularFileError, match="missing column status"):
        await run(services, path)


async def test_secret_rotation_moves_the_participation_numbers_to_the_new_secret(
    services: Services, tmp_path: Path
):
    from models.crypto import NikVault
    from models.rotation import rotate_secret
    from tests.conftest import SECRET

    ids = await seed(services)
    path = write_csv(tmp_path / "hasil.csv", [HEADER, [BUDI, KPJ_BUDI, "2026-02-01", "berhasil", ""]])
    assert (await run(services, path)).registered == 1
    new_secret = "rotated-secret-" + "z" * 20

    report = await rotate_secret(services.sessions, NikVault(new_secret, SECRET), batch=10)

    assert report.finished
    assert report.changed["proposal_kpj"] == 1
    assert report.changed["activeparticipant_kpj"] == 1
    only_new = NikVault(new_secret)  # LANJUTKAN_SECRET_OLD removed after the rotation
    budi = await proposal_of(services, ids[BUDI])
    assert budi.bpjs_kpj_encrypted is not None
    assert only_new.decrypt(budi.bpjs_kpj_encrypted) == KPJ_BUDI
    async with services.sessions() as session:
        [participant] = list(await session.exec(select(ActiveParticipant)))
    assert participant.kpj_encrypted is not None
    assert only_new.decrypt(participant.kpj_encrypted) == KPJ_BUDI
