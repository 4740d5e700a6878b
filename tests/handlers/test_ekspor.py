"""/ekspor through the real application: the files as Excel/LibreOffice will read them, cell by cell."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
from sqlmodel import select

from handlers.context import Services
from models import store
from models.rules.status import Status
from models.tables import AuditEvent, ExportRecord
from tests.conftest import (
    CAMAT_PHONE,
    DINAS_PHONE,
    OPERATOR_PHONE,
    PANGURURAN_DESA,
    TOMOK,
    sent_proposal,
    synthetic_nik,
)
from tests.fakebotapi import SentMessage

DECIDED = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)  # 10:00 WIB: covered from 1 December 2026
NIK_TOMOK = synthetic_nik(serial=11)
NIK_PANGURURAN = synthetic_nik(serial=12, district="121708")
NIK_WAITING = synthetic_nik(serial=13)


async def seed(services: Services) -> None:
    """Two established (Pangururan's first in the lampiran's order), one waiting for the camat."""
    async with services.sessions() as session:
        rina = await store.officer_by_phone(session, phone=OPERATOR_PHONE)
        camat = await store.officer_by_phone(session, phone=CAMAT_PHONE)
        assert rina is not None
        assert rina.id is not None
        assert camat is not None
        assert camat.id is not None
        for nik, desa, status, name, phone in (
            (NIK_TOMOK, TOMOK, Status.DITETAPKAN, "BUDI SANTOSO", "+6281200005555"),
            (NIK_PANGURURAN, PANGURURAN_DESA, Status.DITETAPKAN, "ANDO SINAGA", None),
            (NIK_WAITING, TOMOK, Status.MENUNGGU_CAMAT, "RIA SIHOTANG", None),
        ):
            proposal = sent_proposal(
                services,
                officer_id=rina.id,
                nik=nik,
                desa=desa,
                status=status,
                name=name,
                address="Dusun I, RT 001/RW 002",
                phone=phone,
                submitted_at=DECIDED - dt.timedelta(days=3),
                decided_at=DECIDED if status is Status.DITETAPKAN else None,
            )
            session.add(proposal)
            await session.flush()
            assert proposal.id is not None
            session.add(
                AuditEvent(
                    proposal_id=proposal.id, officer_id=rina.id, action="submit", from_status="draft",
                    to_status="menunggu_camat", at=DECIDED - dt.timedelta(days=3),
                )
            )  # fmt: skip
            if status is Status.DITETAPKAN:
                approved = DECIDED - dt.timedelta(days=1)
                session.add(
                    AuditEvent(
                        proposal_id=proposal.id, officer_id=camat.id, action="approve",
                        from_status="menunggu_camat", to_status="menunggu_dinas", at=approved,
                    )
                )  # fmt: skip
        await store.set_program(
            session,
            year=2026,
            default_quota=320,
            figures={"coverage_start": dt.date(2026, 1, 1), "declared_income": 1_000_000},
        )
        await session.commit()


async def export(chat, fake_api, choice: str):  # type: ignore[no-untyped-def]
    maria = chat(3001)
    await maria.onboard(DINAS_PHONE)
    asked = await maria.say("/ekspor")
    assert "File mana yang ingin diunduh?" in asked[-1].text
    await maria.press(choice, asked[-1])
    [document] = fake_api.documents
    return document


async def test_bpjs_export_is_an_xlsx_that_opens_right(chat, services: Services, fake_api):
    """Bold frozen header, fitted columns, NIK as text, dates as dates, the registration's columns."""
    await seed(services)
    document = await export(chat, fake_api, "BPJS")
    assert document.filename == "bpjs-peserta-baru-2026-20261124.xlsx"
    assert "2 baris" in (document.caption or "")
    assert "NIK lengkap" in (document.caption or "")
    sheet = openpyxl.load_workbook(io.BytesIO(document.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header == [
        "NIK", "Nama", "Tanggal Lahir", "Jenis Kelamin", "Alamat", "Desa/Kelurahan", "Kecamatan",
        "Kabupaten/Kota", "Kode Pos", "No HP", "Pekerjaan", "Program", "Mulai Kepesertaan",
        "Penghasilan Dilaporkan",
    ]  # fmt: skip
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width >= 16  # a NIK fits
    rows = {row[1].value: row for row in sheet.iter_rows(min_row=2)}
    budi = rows["BUDI SANTOSO"]
    assert budi[0].value == NIK_TOMOK
    assert budi[0].data_type == "s"
    assert budi[0].number_format == "@"
    assert budi[2].value == dt.datetime(1990, 8, 15)
    assert budi[2].number_format == "DD-MM-YYYY"
    assert [c.value for c in budi[3:12]] == [
        "Laki-laki", "Dusun I, RT 001/RW 002", "Tomok", "Simanindo", "Kabupaten Samosir", "22395",
        "0812-0000-5555", "petani", "JKK + JKM",
    ]  # fmt: skip
    assert budi[12].value == dt.datetime(2026, 12, 1)
    assert budi[12].number_format == "DD-MM-YYYY"
    assert budi[13].value == 1_000_000
    assert rows["ANDO SINAGA"][0].value == NIK_PANGURURAN
    assert "RIA SIHOTANG" not in rows  # not established


async def test_lampiran_is_sorted_by_kecamatan_and_desa(chat, services: Services, fake_api):
    """The decree's lampiran: No, nama, NIK (text), desa, kecamatan, pekerjaan; Pangururan first."""
    await seed(services)
    document = await export(chat, fake_api, "Lampiran")
    sheet = openpyxl.load_workbook(io.BytesIO(document.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values == [
        ["No", "Nama", "NIK", "Desa/Kelurahan", "Kecamatan", "Pekerjaan"],
        [1, "ANDO SINAGA", NIK_PANGURURAN, "Lumban SS Dolok", "Pangururan", "petani"],
        [2, "BUDI SANTOSO", NIK_TOMOK, "Tomok", "Simanindo", "petani"],
    ]
    assert sheet["C2"].data_type == "s"


async def test_proposals_csv_has_status_and_history_with_masked_niks(chat, services: Services, fake_api):
    """UTF-8 with BOM, semicolons: every sent proposal, its status and decisions; no full NIK."""
    await seed(services)
    document = await export(chat, fake_api, "Semua usulan")
    assert document.content.startswith(b"\xef\xbb\xbf")
    text = document.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == [
        "Nomor", "Status", "Nama", "NIK", "Desa/Kelurahan", "Kecamatan", "Pekerjaan", "Diusulkan oleh",
        "Dikirim", "Peringatan", "Riwayat",
    ]  # fmt: skip
    assert len(rows) == 4
    budi = next(r for r in rows if r[2] == "BUDI SANTOSO")
    assert budi[1] == "ditetapkan ✅"
    assert budi[3] == "1217••••••••0011"
    assert budi[8] == "2026-11-21"
    assert "Camat Jonson Simbolon: menyetujui" in budi[10]
    assert all(nik not in text for nik in (NIK_TOMOK, NIK_PANGURURAN, NIK_WAITING))


async def test_exports_are_for_the_dinas_and_every_one_is_audited(chat, services: Services, fake_api):
    """A camat (or a forged press) gets no file; each dinas export is recorded: who, when, what, rows."""
    await seed(services)
    jonson = chat(2001)
    await jonson.onboard(CAMAT_PHONE)
    assert "Hanya untuk petugas Diskopnaker" in (await jonson.say("/ekspor"))[-1].text
    button = {"inline_keyboard": [[{"text": "BPJS", "callback_data": "x:bpjs"}]]}
    pressed = await jonson.press_data("x:bpjs", SentMessage(2001, 1, "File mana?", button))
    assert "Hanya untuk petugas Diskopnaker" in pressed[-1].text
    forged = await jonson.say("/ekspor bpjs")
    assert "Hanya untuk petugas Diskopnaker" in forged[-1].text
    assert fake_api.documents == []
    maria = chat(3001)
    await maria.onboard(DINAS_PHONE)
    await maria.say("/ekspor bpjs")
    await maria.say("/ekspor usulan")
    async with services.sessions() as session:
        records = (await session.exec(select(ExportRecord).order_by(ExportRecord.id))).all()
    assert [(r.kind, r.rows, r.channel) for r in records] == [
        ("bpjs", 2, "telegram"),
        ("usulan", 3, "telegram"),
    ]
    assert all(r.officer_id is not None for r in records)


async def seed_hostile(services: Services) -> str:
    """An established proposal whose free text came in before this release: formulas and a NIK in it."""
    other = synthetic_nik(serial=4242)
    async with services.sessions() as session:
        rina = await store.officer_by_phone(session, phone=OPERATOR_PHONE)
        assert rina is not None
        assert rina.id is not None
        proposal = sent_proposal(
            services,
            officer_id=rina.id,
            nik=synthetic_nik(serial=14),
            status=Status.DITETAPKAN,
            name='=HYPERLINK("http://contoh.invalid","klik")',
            category="lainnya",
            category_description=f"+tukang {other[:4]}/{other[4:8]}/{other[8:12]}/{other[12:]}",
            address="@SUM(A1:A9)",
            decided_at=DECIDED,
        )
        session.add(proposal)
        await session.flush()
        assert proposal.id is not None
        session.add(
            AuditEvent(
                proposal_id=proposal.id, officer_id=rina.id, action="submit", from_status="draft",
                to_status="menunggu_camat", at=DECIDED, reason=f"-catatan {other[:8]}\u200b{other[8:]}",
            )
        )  # fmt: skip
        await session.commit()
    return other


async def test_the_csv_masks_every_text_cell_again_and_neutralises_formulas(chat, services, fake_api):
    """Free text stored before masking existed still leaves masked; = + - @ cells start with an apostrophe."""
    other = await seed_hostile(services)
    document = await export(chat, fake_api, "Semua usulan")
    text = document.content.decode("utf-8-sig")
    [row] = [r for r in csv.reader(io.StringIO(text), delimiter=";") if "HYPERLINK" in r[2]]
    assert row[2] == """'=HYPERLINK("http://contoh.invalid","klik")"""
    assert row[6] == "lainnya: +tukang 1217••••••••4242"
    assert "-catatan 1217••••••••4242" in row[10]
    assert other not in text
    assert "01150890" not in "".join(ch for ch in text if ch.isdigit())
    for cell in (c for r in csv.reader(io.StringIO(text), delimiter=";") for c in r):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


async def test_xlsx_text_that_looks_like_a_formula_is_stored_as_a_string(chat, services, fake_api):
    """openpyxl writes any str starting with "=" as a formula; the BPJS file keeps the text as text."""
    await seed_hostile(services)
    document = await export(chat, fake_api, "BPJS")
    sheet = openpyxl.load_workbook(io.BytesIO(document.content)).active
    assert sheet is not None
    [row] = [r for r in sheet.iter_rows(min_row=2) if "HYPERLINK" in str(r[1].value)]
    assert row[1].value == '=HYPERLINK("http://contoh.invalid","klik")'
    assert row[4].value == "@SUM(A1:A9)"
    assert [c.data_type for c in (row[1], row[4], row[10])] == ["s", "s", "s"]
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)
