"""A whole re-verification round on Telegram and on WhatsApp: the dinas starts it, the operator goes
through Desa Tomok (one still qualifies, one proposed out with a typed reason), the camat and the dinas
confirm the removal; the participation ends, every decision is audited, the export holds the right rows."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from sqlmodel import col, select

from handlers.context import Services
from handlers.verifikasi import build_export
from models.tables import ActiveParticipant, ExportRecord, ProgramAudit, VerificationItem
from tests.channels import People, choices_of, text_of
from tests.conftest import CAMAT_PHONE, DINAS_PHONE, OPERATOR_PHONE
from tests.handlers.test_both_channels import person  # noqa: F401 (the fixture)
from tests.handlers.test_verifikasi import NIK_A, NIK_B, NIK_C, seed_participants

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_a_round_from_start_to_a_confirmed_removal(person: People, services: Services):  # noqa: F811
    await seed_participants(services)
    rina, jonson, maria = person(OPERATOR_PHONE), person(CAMAT_PHONE), person(DINAS_PHONE)
    for someone in (rina, jonson, maria):
        await someone.onboard()

    asked = await maria.say("/verifikasi 31-01-2027")
    assert "4 peserta aktif di 2 desa" in text_of(asked)
    assert "sebelum 31 Januari 2027" in text_of(asked)
    started = await maria.press("Mulai")
    assert "Verifikasi tahun 2027 dimulai: 4 peserta di 2 desa" in text_of(started)
    await person.deliver_pending()
    told = text_of(await rina.unread())
    assert "3 peserta aktif Desa Tomok perlu diperiksa sebelum 31 Januari 2027. Ketik /verifikasi." in told

    first = await rina.say("/verifikasi")
    assert "3 peserta aktif Desa Tomok menunggu" in text_of(first)
    assert "ANDI GULTOM" in text_of(first)
    assert f"{NIK_A[:4]}••••••••{NIK_A[-4:]}" in text_of(first)
    assert NIK_A not in text_of(first)
    assert any("Masih memenuhi syarat" in c for c in choices_of(first))
    second = await rina.press("Masih memenuhi syarat")
    assert "BERTHA SIALLAGAN" in text_of(second)
    assert "⚠️ usia 61 tahun pada 1 Januari 2027, di atas batas 60" in text_of(second)
    reasons = await rina.press("Tidak lagi")
    assert len(choices_of(reasons)) == 6, choices_of(reasons)
    assert "Mengapa tidak lagi memenuhi syarat?" in text_of(reasons)
    third = await rina.press("Usia melewati batas")
    assert "Diusulkan keluar: BERTHA SIALLAGAN (usia melewati batas)" in text_of(third)
    assert "CANDRA SIDABUTAR" in text_of(third)
    assert "⚠️ tidak ada di DTSEN terbaru" in text_of(third)
    await rina.press("Tidak lagi")
    await rina.press("Lainnya")
    done = await rina.say(f"Sudah pindah ke Medan, NIK {NIK_C}")
    assert "Diusulkan keluar: CANDRA SIDABUTAR (Sudah pindah ke Medan, NIK" in text_of(done)
    assert NIK_C not in text_of(done)  # the typed reason is masked like any free text
    assert "Semua peserta Desa Tomok sudah diperiksa" in text_of(done)

    await person.deliver_pending()
    cards = text_of(await jonson.unread())
    assert cards.count("Usulan keluar peserta (menunggu camat)") == 2
    progress = await jonson.say("/verifikasi")
    assert "Tomok: 3/3" in text_of(progress)
    assert "2 usulan keluar menunggu keputusan Anda" in text_of(progress)
    card = await jonson.press("Buka usulan keluar")
    assert "BERTHA SIALLAGAN" in text_of(card)
    kept = await jonson.press("Tolak")
    assert "BERTHA SIALLAGAN: usulan keluar ditolak: tetap menjadi peserta" in text_of(kept)
    card = await jonson.press("Berikutnya")
    assert "CANDRA SIDABUTAR" in text_of(card)
    approved = await jonson.press("Setujui keluar")
    assert "keluar disetujui camat, diteruskan ke Diskopnaker" in text_of(approved)

    await person.deliver_pending()
    dinas_card = text_of(await maria.unread())
    assert "Usulan keluar peserta (menunggu Diskopnaker)" in dinas_card
    assert "CANDRA SIDABUTAR" in dinas_card
    ended = await maria.press("Setujui keluar")
    assert "CANDRA SIDABUTAR: keluar dari program" in text_of(ended)
    overview = text_of(await maria.say("/verifikasi"))
    assert "Kec. Simanindo: 3/3" in overview
    assert "Kec. Pangururan: 0/1" in overview
    await person.deliver_pending()
    news = text_of(await rina.unread())
    assert "CANDRA SIDABUTAR: keluar dari program" in news
    assert "BERTHA SIALLAGAN: usulan keluar ditolak" in news

    async with services.sessions() as session:
        participants = {p.name: p for p in (await session.exec(select(ActiveParticipant))).all()}
        items = {i.name: i for i in (await session.exec(select(VerificationItem))).all()}
        audits = (
            await session.exec(
                select(ProgramAudit)
                .where(ProgramAudit.subject == f"verification-item:{items['CANDRA SIDABUTAR'].id}")
                .order_by(col(ProgramAudit.id))
            )
        ).all()
    assert participants["CANDRA SIDABUTAR"].ended_on == dt.date(2027, 1, 1)
    assert participants["CANDRA SIDABUTAR"].end_reason == "lainnya"
    assert participants["BERTHA SIALLAGAN"].ended_on is None
    assert len(participants) == 4  # nothing deleted
    assert {n: i.status for n, i in items.items()} == {
        "ANDI GULTOM": "lanjut",
        "BERTHA SIALLAGAN": "tetap",
        "CANDRA SIDABUTAR": "keluar",
        "DORIS MALAU": "menunggu",
    }
    assert [(a.action, a.actor, a.detail["to"]) for a in audits] == [
        ("verification_out", "Rina Sitohang", "usul_keluar"),
        ("verification_out", "Jonson Simbolon", "keluar_camat"),
        ("verification_out", "Maria Naibaho", "keluar"),
    ]
    assert audits[0].detail["reason"] == "lainnya"
    assert NIK_C not in str([a.detail for a in audits])

    # The dinas downloads the removed list from the chat: the ended participant, the reason; recorded
    await maria.say("/ekspor")
    [sent] = [s for s in await maria.press("peserta keluar") if s.file is not None]
    assert sent.file is not None
    assert sent.file[0].startswith("verifikasi-keluar-2027-")
    assert "1 baris" in sent.text
    (row,) = sheet_rows(sent.file[1])
    assert (row[0], row[1]) == (NIK_C, "CANDRA SIDABUTAR")
    async with services.sessions() as session:
        kinds = (await session.exec(select(ExportRecord.kind))).all()
    assert kinds == ["verif_keluar"]

    async with services.sessions() as session:
        continuing, _ = await build_export(session, services, year=2027, removed=False)
        removed, _ = await build_export(session, services, year=2027, removed=True)
    # Each continuing row says why it continues; the removed row its reason, the text
    # typed (its NIK masked), the end day.
    assert [(row[0], row[-1]) for row in sheet_rows(continuing)] == [
        (NIK_A, "masih memenuhi syarat"),
        (NIK_B, "usulan keluar ditolak"),
    ]
    (gone,) = sheet_rows(removed)
    assert gone[0] == NIK_C
    reason, typed, ended = gone[-3:]
    assert (reason, ended) == ("lainnya", dt.datetime(2027, 1, 1))
    assert str(typed).startswith("Sudah pindah ke Medan, NIK ")
    assert NIK_C not in str(typed)  # masked


def sheet_rows(content: bytes) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    page = book.active
    assert page is not None
    return list(page.iter_rows(min_row=2, values_only=True))
