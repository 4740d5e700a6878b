"""BPJS's registration results as people see them, on Telegram and on WhatsApp: the proposer's notice,
/antrian of the dinas listing the failures with BPJS's reason, /status with the KPJ masked."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import select

from handlers.bpjs import registered_notice
from handlers.context import Services
from models.bpjs import import_bpjs
from models.tables import ChatAccount, OutboundMessage, Purpose
from tests.channels import People, text_of
from tests.conftest import DINAS_PHONE
from tests.handlers.test_both_channels import operator, person  # noqa: F401  (person: the fixture)
from tests.models.test_bpjs_import import ANDO, BUDI, HEADER, KPJ_BUDI, RIA, seed

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def results_file(tmp_path: Path) -> Path:
    path = tmp_path / "hasil-bpjs.csv"
    with path.open("w", encoding="utf-8", newline="") as sink:
        csv.writer(sink).writerows(
            [
                HEADER,
                [BUDI, KPJ_BUDI, "1 Februari 2026", "berhasil", ""],
                [RIA, "", "", "gagal", f"NIK {RIA} tidak sesuai data Dukcapil"],
            ]
        )
    return path


async def record(services: Services, path: Path) -> int:
    report = await import_bpjs(services.sessions, services.vault, path, notify=registered_notice(services))
    return report.notices


async def test_the_proposer_hears_of_the_registration_and_the_dinas_sees_the_failure(
    person: People,  # noqa: F811
    services: Services,
    tmp_path: Path,
):
    ids = await seed(services)
    rina = await operator(person)
    maria = person(DINAS_PHONE)
    await maria.onboard()
    await rina.unread()
    budi, ria = f"U-{ids[BUDI]:05d}", f"U-{ids[RIA]:05d}"

    assert await record(services, results_file(tmp_path)) == 1
    await person.deliver_pending()

    notice = text_of(await rina.unread())
    assert f"{budi} (BUDI SANTOSO) sudah terdaftar di BPJS Ketenagakerjaan sejak 1 Februari 2026." in notice
    assert ria not in notice  # a failure goes to the dinas, not to the operator
    assert text_of(await maria.unread()) == ""
    queue = text_of(await maria.say("/antrian"))
    assert "Gagal didaftarkan di BPJS (1)" in queue
    assert f"{ria} · RIA SIHOTANG · NIK 1217••••••••0023 tidak sesuai data Dukcapil" in queue
    assert RIA not in queue
    # The operator sees the number's last four digits; the dinas, who deals with BPJS, all of it
    seen_by_rina = text_of(await rina.say(f"/status {budi}"))
    assert (
        "BPJS Ketenagakerjaan: terdaftar sejak 1 Februari 2026, nomor kepesertaan •••••••0421" in seen_by_rina
    )
    assert KPJ_BUDI not in seen_by_rina
    assert f"nomor kepesertaan {KPJ_BUDI}" in text_of(await maria.say(f"/status {budi}"))
    failed = text_of(await rina.say(f"/status {ria}"))
    assert (
        "BPJS Ketenagakerjaan: gagal didaftarkan: NIK 1217••••••••0023 tidak sesuai data Dukcapil" in failed
    )

    # The BPJS export sends again who BPJS could not register, not who it registered
    await maria.say("/ekspor")
    [export] = [s for s in await maria.press("BPJS") if s.file is not None]
    assert export.file is not None
    sheet = openpyxl.load_workbook(io.BytesIO(export.file[1])).active
    assert sheet is not None
    assert {row[0].value for row in sheet.iter_rows(min_row=2)} == {RIA, ANDO}
    assert BUDI.encode() not in export.file[1]

    # The same file again: no second notice
    assert await record(services, results_file(tmp_path)) == 0
    await person.deliver_pending()
    assert "terdaftar di BPJS" not in text_of(await rina.unread())


async def test_an_officer_bound_on_both_channels_is_told_on_both(
    person: People,  # noqa: F811
    services: Services,
    tmp_path: Path,
):
    ids = await seed(services)
    rina = await operator(person)
    other = "whatsapp" if person.channel == "telegram" else "telegram"
    async with services.sessions() as session:
        [account] = await session.exec(select(ChatAccount).where(ChatAccount.channel == person.channel))
        session.add(
            ChatAccount(channel=other, external_id="77001", chat_id="77001", officer_id=account.officer_id)
        )
        await session.commit()
    await rina.unread()

    assert await record(services, results_file(tmp_path)) == 2
    await person.deliver_pending()

    assert f"U-{ids[BUDI]:05d} (BUDI SANTOSO) sudah terdaftar" in text_of(await rina.unread())
    async with services.sessions() as session:
        notices = list(
            await session.exec(select(OutboundMessage).where(OutboundMessage.purpose == Purpose.NOTICE))
        )
    assert sorted(m.channel for m in notices) == sorted([person.channel, other])
    assert {m.officer_id for m in notices} == {account.officer_id}
