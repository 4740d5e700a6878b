"""/verifikasi through the real Telegram application, on SQLite and PostgreSQL: forged and stale presses,
two camats pressing at once, the round's refusal of a second start."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlmodel import col, select

from handlers.context import Services
from handlers.verifikasi import start
from models import store
from models import verification as vstore
from models.db import when_free
from models.rules.status import Role
from models.rules.verification import ItemStatus
from models.tables import (
    ActiveParticipant,
    Dispatch,
    OfficerCreate,
    ProgramAudit,
    ProgramYear,
    VerificationItem,
)
from scheduler.jobs import Schedule
from scheduler.outbox import Outbox
from tests.conftest import (
    CAMAT_PHONE,
    OPERATOR_OTHER_PHONE,
    OPERATOR_PHONE,
    PANGURURAN_DESA,
    SIMANINDO,
    TOMOK,
    seed_roster,
    synthetic_nik,
)

# A: fine; B: 61 on 1 January 2027 (over 60); C: not in the DTSEN; D: another desa (Pangururan)
NIK_A = synthetic_nik(serial=11)
NIK_B = synthetic_nik(day=10, month=3, year=1965, serial=12)
NIK_C = synthetic_nik(year=1985, serial=13)
NIK_D = synthetic_nik(district="121708", serial=14)
PEOPLE = [
    (NIK_A, "ANDI GULTOM", TOMOK, 2),
    (NIK_B, "BERTHA SIALLAGAN", TOMOK, 1),
    (NIK_C, "CANDRA SIDABUTAR", TOMOK, None),
    (NIK_D, "DORIS MALAU", PANGURURAN_DESA, 3),
]
CAMAT2_PHONE = "+6281200000202"


async def seed_participants(services: Services) -> None:
    """The 2027 figures (age limit 60), four active participants and a DTSEN without C."""
    vault = services.vault
    async with services.sessions() as session:
        session.add(
            ProgramYear(
                year=2027, new_quota=320, coverage_start=dt.date(2027, 1, 1), age_max=60, desil_threshold=4
            )
        )
        for nik, name, desa, _ in PEOPLE:
            session.add(
                ActiveParticipant(
                    nik_hash=vault.hash(nik),
                    nik_encrypted=vault.encrypt(nik),
                    name=name,
                    desa_code=desa,
                    category="petani",
                    coverage_start=dt.date(2025, 1, 1),
                )
            )
        batch = await store.start_registry_batch(session, source="dtsen", file_name="dtsen.csv")
        rows = [
            {"batch_id": batch, "source": "dtsen", "nik_hash": vault.hash(nik), "name": name, "desil": desil,
             "desa_code": desa}
            for nik, name, desa, desil in PEOPLE
            if desil is not None
        ]  # fmt: skip
        await store.add_registry_rows(session, rows=rows)
        await store.activate_registry_batch(session, source="dtsen", batch_id=batch, rows=len(rows))
        await session.commit()


async def start_round(services: Services) -> int:
    async with services.sessions() as session:
        round_, _, _ = await start(
            session, services, year=2027, due=dt.date(2027, 1, 31), officer_id=None, actor="test"
        )
        await session.commit()
        assert round_.id is not None
        return round_.id


async def forge(person, data: str):
    """Press ``data`` (forged or stale) on the person's latest message that could carry inline buttons."""
    for message in reversed(person.api.messages_to(person.user_id)):
        if not message.reply_markup or "inline_keyboard" in message.reply_markup:
            return await person.press_data(data, message)
    raise AssertionError("no message to press on")


def shown(answer, api) -> str:
    """What a press showed: its new message, or the pressed message edited in place."""
    return answer[-1].text if answer else str(api.edits[-1]["text"])


async def items(services: Services) -> dict[str, VerificationItem]:
    async with services.sessions() as session:
        rows = (await session.exec(select(VerificationItem).order_by(col(VerificationItem.id)))).all()
        return {item.name: item for item in rows}


async def test_a_round_snapshots_every_active_participant_with_its_premarks(services: Services):
    await seed_participants(services)
    await start_round(services)

    found = await items(services)
    assert set(found) == {name for _, name, _, _ in PEOPLE}
    assert found["ANDI GULTOM"].premarks == []
    assert found["BERTHA SIALLAGAN"].premarks == ["usia:61:60"]
    assert found["CANDRA SIDABUTAR"].premarks == ["dtsen"]
    assert found["BERTHA SIALLAGAN"].birth_date == dt.date(1965, 3, 10)
    assert found["DORIS MALAU"].kecamatan_code == "12.17.08"
    assert {i.status for i in found.values()} == {"menunggu"}
    assert services.vault.decrypt(found["ANDI GULTOM"].nik_encrypted) == NIK_A


async def test_a_second_open_round_of_the_same_year_is_refused(services: Services):
    await seed_participants(services)
    await start_round(services)
    with pytest.raises(vstore.RoundOpen):
        await start_round(services)
    async with services.sessions() as session:
        assert len(await vstore.rounds_open(session)) == 1


async def test_two_starts_at_the_same_moment_open_one_round(services: Services):
    """Two dinas (or the chat and the command line) start the year's round at once: one round, one refusal."""
    await seed_participants(services)

    async def attempt() -> str:
        async def once() -> str:
            async with services.sessions() as session:
                try:
                    await start(
                        session, services, year=2027, due=dt.date(2027, 1, 31), officer_id=None, actor="t"
                    )
                except vstore.RoundOpen:
                    return "refused"
                await session.commit()
                return "started"

        return await when_free(once)

    outcomes = await asyncio.gather(attempt(), attempt())

    assert sorted(outcomes) == ["refused", "started"]
    async with services.sessions() as session:
        assert len(await vstore.rounds_open(session)) == 1
    assert len(await items(services)) == len(PEOPLE)


async def test_a_forged_or_stale_verification_button_changes_nothing(services: Services, chat):
    await seed_participants(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await start_round(services)
    found = await items(services)
    doris, andi = found["DORIS MALAU"], found["ANDI GULTOM"]

    await rina.say("/verifikasi")
    other_desa = await forge(rina, f"v:{doris.id}.0:ok")
    assert "tidak berlaku" in other_desa[-1].text
    assert "DORIS" not in " ".join(m.text for m in other_desa)
    done = await rina.press("Masih memenuhi syarat")
    assert "BERTHA SIALLAGAN" in done[-1].text  # the next one
    stale = await forge(rina, f"v:{andi.id}.0:no")  # the version before her decision
    assert "sudah diputuskan" in stale[-1].text
    garbage = await forge(rina, "v:abc:ok")
    assert "tidak berlaku" in garbage[-1].text
    not_a_reason = await forge(rina, f"w:{found['BERTHA SIALLAGAN'].id}.0:hilang")
    assert "tidak berlaku" in not_a_reason[-1].text

    after = await items(services)
    assert (after["DORIS MALAU"].status, after["DORIS MALAU"].version) == ("menunggu", 0)
    assert (after["ANDI GULTOM"].status, after["ANDI GULTOM"].version) == ("lanjut", 1)
    assert after["BERTHA SIALLAGAN"].status == "menunggu"
    async with services.sessions() as session:
        audits = (
            await session.exec(select(ProgramAudit).where(ProgramAudit.action != "verification_start"))
        ).all()
    assert [(a.subject, a.action, a.actor) for a in audits] == [
        (f"verification-item:{andi.id}", "verification_ok", "Rina Sitohang")
    ]


async def test_two_camats_pressing_at_once_get_one_decision(services: Services, chat, outbox: Outbox):
    await seed_roster(
        services,
        [OfficerCreate(name="Dewi Sirait", role=Role.CAMAT, region_code=SIMANINDO, phone=CAMAT2_PHONE)],
    )
    await seed_participants(services)
    rina, jonson, dewi = chat(1001), chat(2001), chat(2002)
    for person, phone in ((rina, OPERATOR_PHONE), (jonson, CAMAT_PHONE), (dewi, CAMAT2_PHONE)):
        await person.onboard(phone)
    await start_round(services)
    candra = (await items(services))["CANDRA SIDABUTAR"]
    await rina.say("/verifikasi")
    await forge(rina, f"v:{candra.id}.0:no")
    await forge(rina, f"w:{candra.id}.0:pindah")
    await outbox.deliver_pending()  # the cards: the camats have a message with buttons

    answers = await asyncio.gather(
        forge(jonson, f"v:{candra.id}.1:out"), forge(dewi, f"v:{candra.id}.1:keep")
    )

    texts = ["\n".join(m.text for m in a) for a in answers]
    assert sum("sudah diputuskan" in t for t in texts) == 1, texts
    after = (await items(services))["CANDRA SIDABUTAR"]
    assert after.status in {ItemStatus.KELUAR_CAMAT, ItemStatus.TETAP}
    assert after.version == 2
    async with services.sessions() as session:
        audits = (
            await session.exec(
                select(ProgramAudit).where(ProgramAudit.subject == f"verification-item:{candra.id}")
            )
        ).all()
    assert [a.detail["to"] for a in audits] == ["usul_keluar", after.status]
    assert audits[0].detail["reason"] == "pindah"


async def test_another_desa_operator_sees_only_their_own(services: Services, chat):
    await seed_participants(services)
    lamria = chat(1003)
    await lamria.onboard(OPERATOR_OTHER_PHONE)
    await start_round(services)
    shown = await lamria.say("/verifikasi")
    text = "\n".join(m.text for m in shown)
    assert "DORIS MALAU" in text
    assert "1 peserta aktif Desa" in text
    assert "ANDI" not in text
    assert NIK_D not in text
    assert f"{NIK_D[:4]}••••••••{NIK_D[-4:]}" in text


async def test_operators_are_told_and_reminded_once_three_days_before_the_due_date(
    services: Services, chat, outbox: Outbox, fake_api
):
    await seed_participants(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    async with services.sessions() as session:  # due Thursday; today (NOW) is Tuesday
        await start(session, services, year=2027, due=dt.date(2026, 11, 26), officer_id=None, actor="t")
        await session.commit()
    await outbox.deliver_pending()
    told = [m.text for m in fake_api.messages_to(1001)]
    assert (
        "3 peserta aktif Desa Tomok perlu diperiksa sebelum 26 November 2026. Ketik /verifikasi." in told[-1]
    )

    schedule = Schedule(services)
    await schedule.run("pengingat")
    await schedule.run("pengingat")  # a second process, a catch-up: nothing more
    await outbox.deliver_pending()

    reminders = [m.text for m in fake_api.messages_to(1001) if "belum diperiksa" in m.text]
    assert reminders == [
        "⏰ Pengingat: 3 peserta aktif Desa Tomok belum diperiksa; batasnya 26 November 2026. "
        "Ketik /verifikasi."
    ]
    async with services.sessions() as session:
        keys = (await session.exec(select(Dispatch).where(Dispatch.kind == "verifikasi"))).all()
    assert [k.period for k in keys] == ["r1"]


async def test_no_reminder_before_three_days_nor_for_a_finished_desa(
    services: Services, chat, outbox: Outbox, fake_api
):
    await seed_participants(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    async with services.sessions() as session:
        await start(session, services, year=2027, due=dt.date(2026, 12, 31), officer_id=None, actor="t")
        await session.commit()
    await Schedule(services).run("pengingat")
    async with services.sessions() as session:
        assert (await session.exec(select(Dispatch).where(Dispatch.kind == "verifikasi"))).all() == []


async def test_the_weekly_summary_of_the_dinas_and_the_camat_has_the_round(services: Services, chat):
    from scheduler.jobs import summaries_for
    from tests.conftest import DINAS_PHONE, NOW

    await seed_participants(services)
    for user_id, phone in ((3001, DINAS_PHONE), (2001, CAMAT_PHONE), (1001, OPERATOR_PHONE)):
        await chat(user_id).onboard(phone)
    await start_round(services)
    rina = chat(1001)
    await rina.say("/verifikasi")
    await rina.press("Masih memenuhi syarat")

    summaries = {person.officer.role: replies for person, replies in await summaries_for(services, NOW)}

    line = "📋 Verifikasi peserta aktif 2027: 1/4 sudah diperiksa, 0 keluar."
    assert line in summaries[Role.DINAS][0].text
    assert line in summaries[Role.CAMAT][0].text
    assert all(line not in r.text for r in summaries[Role.OPERATOR])


async def test_the_camat_confirms_in_bulk_only_the_removals_without_a_premark(
    services: Services, chat, outbox: Outbox, fake_api
):
    from tests.conftest import DINAS_PHONE

    await seed_participants(services)
    rina, jonson, maria = chat(1001), chat(2001), chat(3001)
    for person, phone in ((rina, OPERATOR_PHONE), (jonson, CAMAT_PHONE), (maria, DINAS_PHONE)):
        await person.onboard(phone)
    await start_round(services)
    await rina.say("/verifikasi")
    for _ in range(3):  # Andi (no mark), Bertha (over age), Candra (not in the DTSEN): all proposed out
        await rina.press("Tidak lagi")
        await rina.press("Meninggal dunia")
    await outbox.deliver_pending()

    progress = await jonson.say("/verifikasi")
    assert "3 usulan keluar menunggu keputusan Anda" in progress[-1].text
    asked = await jonson.press("Setujui 1 tanpa peringatan")
    assert "Setujui keluar 1 peserta tanpa peringatan?" in shown(asked, fake_api)
    done = await jonson.press("Ya")
    assert "1 usulan keluar disetujui dan diteruskan ke Diskopnaker." in shown(done, fake_api)
    again = await forge(jonson, "v:0:bulkgo")  # pressed twice: the list was used
    assert "sudah" in again[-1].text.lower()

    statuses = {name: item.status for name, item in (await items(services)).items()}
    assert statuses["ANDI GULTOM"] == "keluar_camat"
    assert statuses["BERTHA SIALLAGAN"] == "usul_keluar"
    assert statuses["CANDRA SIDABUTAR"] == "usul_keluar"
    await outbox.deliver_pending()
    cards = [m.text for m in fake_api.messages_to(3001) if "menunggu Diskopnaker" in m.text]
    assert len(cards) == 1
    assert "ANDI GULTOM" in cards[0]
    assert "Keluar disetujui Camat Jonson Simbolon" in cards[0]


async def test_a_reason_to_type_never_takes_an_open_intake(services: Services, chat):
    await seed_participants(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await start_round(services)
    await rina.say("/verifikasi")
    await rina.press("Tidak lagi")
    await rina.say("/daftar")  # an intake opened meanwhile
    answer = await forge(rina, f"w:{(await items(services))['ANDI GULTOM'].id}.0:lainnya")
    assert "masih terbuka" in answer[-1].text
    async with services.sessions() as session:
        conversation = await store.conversation_of(session, officer_id=1)
    assert conversation is not None
    assert conversation.flow == "intake"


async def test_without_a_round_and_the_dinas_changing_their_mind(services: Services, chat, fake_api):
    from tests.conftest import DINAS_PHONE

    await seed_participants(services)
    rina, jonson, maria = chat(1001), chat(2001), chat(3001)
    for person, phone in ((rina, OPERATOR_PHONE), (jonson, CAMAT_PHONE), (maria, DINAS_PHONE)):
        await person.onboard(phone)
    assert "Belum ada verifikasi" in (await rina.say("/verifikasi"))[-1].text
    assert "Belum ada verifikasi" in (await jonson.say("/verifikasi"))[-1].text
    assert "tidak terbaca" in (await maria.say("/verifikasi besok"))[-1].text
    asked = await maria.say("/verifikasi")
    assert "4 peserta aktif di 2 desa" in asked[-1].text
    assert "sebelum 24 Desember 2026" in asked[-1].text  # 30 days from today
    cancelled = await maria.press("Batal")
    assert "tidak dimulai" in shown(cancelled, fake_api)
    stale = await forge(maria, "v:0:start")
    assert "tidak berlaku" in stale[-1].text
    async with services.sessions() as session:
        assert await vstore.rounds_open(session) == []
    forged = await forge(rina, "v:0:start")  # an operator cannot start one
    assert "tidak berlaku" in forged[-1].text


async def test_an_operator_of_a_desa_without_participants_is_told_so(services: Services, chat):
    phone = "+6281200000104"
    await seed_roster(
        services,
        [OfficerCreate(name="Sari Nainggolan", role=Role.OPERATOR, region_code="12.17.01.2002", phone=phone)],
    )
    await seed_participants(services)
    sari = chat(1004)
    await sari.onboard(phone)
    await start_round(services)

    answer = await sari.say("/verifikasi")

    assert "Tidak ada peserta aktif Desa" in answer[-1].text
    assert "dalam verifikasi ini" in answer[-1].text


async def test_batal_while_typing_a_reason_leaves_the_participant_waiting(services: Services, chat):
    await seed_participants(services)
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await start_round(services)
    await rina.say("/verifikasi")
    await rina.press("Tidak lagi")
    await rina.press("Lainnya")

    answer = await rina.say("/batal")
    later = await rina.say("Sudah pindah ke Medan")  # no reason is asked any more: not taken as one

    assert "tetap menunggu pemeriksaan" in answer[-1].text
    assert all("Diusulkan keluar" not in r.text for r in later)
    assert (await items(services))["ANDI GULTOM"].status == "menunggu"
    async with services.sessions() as session:
        assert await store.conversation_of(session, officer_id=1) is None
