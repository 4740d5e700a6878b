"""Intake keeps the year's figures and the imported registries a while, and the engine looks up an
officer's conversation once per update: neither changes what the officer sees."""

from __future__ import annotations

from sqlmodel import select

from handlers.context import Services
from models import store
from models.rules.status import Status
from models.tables import Conversation, Officer
from tests.conftest import OPERATOR_PHONE, sent_proposal, synthetic_nik
from tests.fakebotapi import SentMessage
from tests.handlers.test_intake_registry import IN_DTSEN, seed_registries


async def test_figures_set_after_intake_read_them_apply_to_the_next_nik(chat, services: Services):
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    assert "terbaca" in (await rina.say(synthetic_nik()))[-1].text  # 36 on the coverage start: 15-65
    await rina.say("/batal")
    async with services.sessions() as session:
        await store.set_program(session, year=2026, default_quota=320, figures={"age_min": 15, "age_max": 30})
        await session.commit()
    await rina.say("/daftar")
    refused = await rina.say(synthetic_nik(serial=2))
    assert "program hanya untuk umur 15–30 tahun" in refused[0].text


async def test_registries_imported_after_intake_read_them_show_at_the_next_nik(chat, services: Services):
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    await rina.say("/daftar")
    assert "data registrasi sosial" not in (await rina.say(synthetic_nik(serial=7)))[-1].text
    await rina.say("/batal")
    await seed_registries(services)
    await rina.say("/daftar")
    read_back = (await rina.say(IN_DTSEN))[-1].text
    assert "data registrasi sosial — DTKS: ditemukan, desil 3 · DTSEN: ditemukan, desil 6" in read_back


async def test_commands_and_a_contact_card_see_the_open_draft_or_none(chat):
    """/start, a contact card and /batal around a draft: reminded while it is open, not after."""
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    assert "masih terbuka" not in "\n".join(m.text for m in await rina.say("/start"))
    await rina.say("/daftar")
    await rina.say(synthetic_nik())
    for answers in (await rina.say("/start"), await rina.share_contact(OPERATOR_PHONE)):
        assert answers[0].text.startswith("Terima kasih, Rina Sitohang.")
        assert answers[-1].text.startswith("Usulan Anda masih terbuka. Lanjutkan langkah berikut")
    assert (await rina.say("/batal"))[-1].text.startswith("Pengisian usulan dibatalkan.")
    assert (await rina.say("/batal"))[-1].text == "Tidak ada pengisian yang sedang berjalan."
    after = await rina.share_contact(OPERATOR_PHONE)
    assert after[0].text.startswith("Terima kasih, Rina Sitohang.")
    assert all("masih terbuka" not in m.text for m in after)


async def test_a_contact_card_during_a_correction_sent_meanwhile_is_a_welcome(chat, services: Services):
    """Rina opened the correction of a returned proposal; it was sent again meanwhile (by another operator
    of the desa). Her contact card then closes the correction and answers as /start does."""
    rina = chat(1001)
    await rina.onboard(OPERATOR_PHONE)
    async with services.sessions() as session:
        officer = (await session.exec(select(Officer).where(Officer.phone == OPERATOR_PHONE))).one()
        assert officer.id is not None
        proposal = sent_proposal(
            services,
            officer_id=officer.id,
            nik=synthetic_nik(),
            status=Status.DIKEMBALIKAN,
            fix_fields=["address"],
        )
        session.add(proposal)
        await session.commit()
        pid = proposal.id
    fix = {"inline_keyboard": [[{"text": "Perbaiki", "callback_data": f"p:{pid}"}]]}
    opened = await rina.press_data(f"p:{pid}", SentMessage(rina.user_id, 1, "Perbaiki", fix))
    assert "lamat" in opened[-1].text, opened[-1].text  # the one field to fix: the address
    async with services.sessions() as session:
        sent = await session.get(type(proposal), pid)
        assert sent is not None
        sent.status = Status.MENUNGGU_CAMAT  # resubmitted by someone else
        session.add(sent)
        await session.commit()

    answers = await rina.share_contact(OPERATOR_PHONE)

    assert [m.text for m in answers] == [m.text for m in await rina.say("/start")]
    assert answers[0].text.startswith("Terima kasih, Rina Sitohang.")
    assert all("masih terbuka" not in m.text for m in answers)
    async with services.sessions() as session:
        assert await session.get(Conversation, officer.id) is None
