"""At intake the officer sees what the social registries say; absence and high desil reach the camat."""

from __future__ import annotations

from handlers.context import Services
from models import store
from scheduler.outbox import Outbox
from tests.conftest import CAMAT_PHONE, OPERATOR_PHONE, synthetic_nik
from tests.fakebotapi import FakeBotApi

IN_DTSEN = synthetic_nik(serial=31)  # DTSEN desil 6 (above 4), DTKS desil 3, named BUDI SANTOSO
ONLY_DTKS_OTHER_NAME = synthetic_nik(serial=32)  # DTKS only, under another name
NOWHERE = synthetic_nik(serial=33)


async def seed_registries(services: Services) -> None:
    """DTSEN and DTKS imported (as the import does: a batch written, then activated)."""
    async with services.sessions() as session:
        for source, rows in (
            ("dtsen", [(IN_DTSEN, "Budi Santoso", 6)]),
            ("dtks", [(IN_DTSEN, "BUDI SANTOSA", 3), (ONLY_DTKS_OTHER_NAME, "Rina Sitohang", None)]),
        ):
            batch = await store.start_registry_batch(session, source=source, file_name=f"{source}.csv")
            await store.add_registry_rows(
                session,
                rows=[
                    {"batch_id": batch, "source": source, "nik_hash": services.vault.hash(nik), "name": name,
                     "desil": desil, "desa_code": None}
                    for nik, name, desil in rows
                ],
            )  # fmt: skip
            await store.activate_registry_batch(session, source=source, batch_id=batch, rows=len(rows))
        await session.commit()


async def test_found_in_registries_shows_desil_and_name_match_and_the_lowest_desil_counts(
    chat, services: Services
):
    """DTSEN desil 6, DTKS desil 3: found in both; the lowest desil (3) is within 4, so no desil warning;
    the typed name is the same as DTSEN's and similar to DTKS's."""
    await seed_registries(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    read_back = (await rina.say(IN_DTSEN))[-1].text
    assert "data registrasi sosial — DTKS: ditemukan, desil 3 · DTSEN: ditemukan, desil 6" in read_back
    assert "Santoso" not in read_back
    assert "SANTOSO" not in read_back
    named = await rina.say("Budi Santoso")
    assert "Nama di data registrasi sosial: DTKS mirip (periksa ejaan) · DTSEN sama ✓" in named[0].text
    assert "Desil" not in named[-1].text


async def test_absent_everywhere_or_named_otherwise_is_flagged_to_the_camat(
    chat, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """Not found in DTSEN or DTKS → a warning at once; a NIK whose only registry names someone else →
    a warning after the name; both reach the camat's card."""
    await seed_registries(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    jonson = chat(2001)
    await jonson.onboard(CAMAT_PHONE)
    await rina.say("/daftar")
    read_back = (await rina.say(NOWHERE))[-1].text
    assert "DTKS: tidak ditemukan · DTSEN: tidak ditemukan" in read_back
    assert "NIK tidak ditemukan di data registrasi sosial (DTKS, DTSEN)." in read_back
    await rina.say("/batal")

    await rina.say("/daftar")
    await rina.say(ONLY_DTKS_OTHER_NAME)
    named = await rina.say("Budi Santoso")
    assert "DTKS berbeda ⚠️" in named[0].text
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say("Dusun II")
    summary = await rina.press("Lewati")
    assert "Nama di DTKS berbeda dengan nama yang diisi." in summary[-1].text
    await rina.press("Kirim")
    await outbox.deliver_pending()
    card = next(m for m in reversed(fake_api.messages_to(2001)) if m.text.startswith("📋 Usulan"))
    assert "⚠️ Nama di DTKS berbeda dengan nama yang diisi." in card.text
