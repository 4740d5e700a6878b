"""At intake the officer sees what the social registries say; absence and high desil reach the camat."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text
from sqlmodel import select

from handlers.context import Services
from models import store
from models.tables import Officer, Proposal, RegistryLookup
from scheduler.outbox import Outbox
from tests.conftest import CAMAT_PHONE, NOW, OPERATOR_PHONE, synthetic_nik
from tests.fakebotapi import FakeBotApi

IN_DTSEN = synthetic_nik(serial=31)  # DTSEN desil 6 (above 4), DTKS desil 3, named BUDI SANTOSO
ONLY_DTKS_OTHER_NAME = synthetic_nik(serial=32)  # DTKS only, under another name
NOWHERE = synthetic_nik(serial=33)
PANGURURAN_IN_DTSEN = synthetic_nik(district="121708", serial=34)  # another kecamatan: DTSEN desil 7


async def seed_registries(services: Services) -> None:
    """DTSEN and DTKS imported (as the import does: a batch written, then activated)."""
    async with services.sessions() as session:
        for source, rows in (
            ("dtsen", [(IN_DTSEN, "Budi Santoso", 6), (PANGURURAN_IN_DTSEN, "Budi Santoso", 7)]),
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


# ----------------------------------------------------------------------- not a lookup tool: trail, limits


async def lookups(services: Services) -> list[RegistryLookup]:
    async with services.sessions() as session:
        return list((await session.exec(select(RegistryLookup).order_by(RegistryLookup.id))).all())


async def seed_lookups(services: Services, kind: str, count: int, at: dt.datetime) -> None:
    """``count`` results of ``kind`` shown to the Tomok operator at ``at`` (earlier proposals)."""
    async with services.sessions() as session:
        officer = (await session.exec(select(Officer).where(Officer.phone == OPERATOR_PHONE))).one()
        assert officer.id is not None
        for i in range(count):
            nik_hash = services.vault.hash(synthetic_nik(serial=100 + i))
            await store.record_registry_lookup(
                session, officer_id=officer.id, kind=kind, nik_hash=nik_hash, shown=True, at=at
            )
        await session.commit()


async def test_every_registry_lookup_is_on_the_trail_by_keyed_hash_never_the_nik(chat, services: Services):
    await seed_registries(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    await rina.say(IN_DTSEN)
    await rina.say("Budi Santoso")
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say("Dusun II")
    await rina.press("Lewati")
    await rina.press("Ubah")
    await rina.press("Nama")
    await rina.say("Budi Santosa")  # a second try at the name: a second name lookup

    rows = await lookups(services)
    assert [(r.kind, r.shown) for r in rows] == [("nik", True), ("name", True), ("name", True)]
    assert {r.nik_hash for r in rows} == {services.vault.hash(IN_DTSEN)}
    assert all(r.at == NOW for r in rows)
    async with services.sessions() as session:
        raw = (await session.exec(text("SELECT * FROM registrylookup"))).all()  # type: ignore[call-overload]
    assert IN_DTSEN not in repr(raw)


async def test_past_the_daily_limit_the_registry_result_is_withheld_and_the_proposal_goes_on(
    chat, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """49 shown today and more yesterday evening: one more is shown (the 50th), the next is not."""
    await seed_registries(services)
    yesterday_evening = NOW.replace(hour=23, minute=30) - dt.timedelta(days=1)
    await seed_lookups(services, "nik", 30, yesterday_evening)
    await seed_lookups(services, "nik", 49, NOW.replace(hour=0, minute=5))
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    jonson = chat(2001)
    await jonson.onboard(CAMAT_PHONE)
    await rina.say("/daftar")
    fiftieth = (await rina.say(IN_DTSEN))[-1].text
    assert "DTSEN: ditemukan, desil 6" in fiftieth
    await rina.say("/batal")

    await rina.say("/daftar")
    read_back = (await rina.say(NOWHERE))[-1].text
    assert "batas 50 pemeriksaan NIK hari ini sudah tercapai" in read_back
    assert "ditemukan" not in read_back
    assert "desil" not in read_back.lower()
    named = await rina.say("Budi Santoso")
    assert "registrasi" not in named[0].text
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say("Dusun II")
    summary = (await rina.press("Lewati"))[-1].text
    assert "registrasi" not in summary
    await rina.press("Kirim")
    await outbox.deliver_pending()
    card = next(m for m in reversed(fake_api.messages_to(2001)) if m.text.startswith("📋 Usulan"))
    assert "⚠️ NIK tidak ditemukan di data registrasi sosial (DTKS, DTSEN)." in card.text
    assert [(r.kind, r.shown) for r in (await lookups(services))[-2:]] == [("nik", True), ("nik", False)]


async def test_past_the_daily_limit_of_name_checks_the_match_is_not_shown(chat, services: Services):
    await seed_registries(services)
    await seed_lookups(services, "name", 50, NOW - dt.timedelta(hours=1))
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    read_back = (await rina.say(ONLY_DTKS_OTHER_NAME))[-1].text
    assert "DTKS: ditemukan" in read_back  # the NIK checks have their own limit
    named = await rina.say("Budi Santoso")
    assert "batas 50 pemeriksaan nama hari ini sudah tercapai" in named[0].text
    assert "berbeda" not in named[0].text
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say("Dusun II")
    summary = (await rina.press("Lewati"))[-1].text
    assert "Nama di DTKS berbeda" not in summary
    async with services.sessions() as session:
        [draft] = (await session.exec(select(Proposal))).all()
    assert "registry_name_differs" in [f["code"] for f in draft.findings]  # for the camat's card
    assert (await lookups(services))[-1].shown is False


async def test_a_nik_of_another_kecamatan_shows_no_registry_result(chat, services: Services):
    await seed_registries(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    read_back = (await rina.say(PANGURURAN_IN_DTSEN))[-1].text
    assert "NIK dari kecamatan lain, hasilnya hanya ditampilkan kepada camat dan Diskopnaker" in read_back
    assert "ditemukan" not in read_back
    assert "desil" not in read_back.lower()
    named = await rina.say("Budi Santoso")
    assert "registrasi" not in named[0].text
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say("Dusun II")
    summary = (await rina.press("Lewati"))[-1].text
    assert "Desil" not in summary
    assert "⚠️ NIK diterbitkan di Kec. Pangururan" in summary  # not a registry's: still shown
    async with services.sessions() as session:
        [draft] = (await session.exec(select(Proposal))).all()
    assert "desil_above_threshold" in [f["code"] for f in draft.findings]
    assert [(r.kind, r.shown) for r in await lookups(services)] == [("nik", False), ("name", False)]
