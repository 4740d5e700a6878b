"""Camat and Diskopnaker decide through the real PTB Application; the outbox delivers what they are sent."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from handlers.context import Services
from models.rules.status import Role, Status
from models.tables import AuditEvent, CardCopy, OfficerCreate, OutboundMessage, Proposal
from scheduler.outbox import Outbox
from tests.conftest import (
    CAMAT_PHONE,
    DINAS_PHONE,
    OPERATOR_OTHER_PHONE,
    OPERATOR_PHONE,
    SIMANINDO,
    Chat,
    seed_roster,
    synthetic_nik,
)
from tests.fakebotapi import FakeBotApi, SentMessage

CAMAT2_PHONE = "+6281200000202"  # a second camat account for Simanindo (the camat and a deputy)
CAMAT_OTHER_PHONE = "+6281200000203"  # the camat of Pangururan
DINAS2_PHONE = "+6281200000302"
MORE = [
    OfficerCreate(name="Dewi Sirait", role=Role.CAMAT, region_code=SIMANINDO, phone=CAMAT2_PHONE),
    OfficerCreate(name="Hotman Sagala", role=Role.CAMAT, region_code="12.17.08", phone=CAMAT_OTHER_PHONE),
    OfficerCreate(name="Ester Simarmata", role=Role.DINAS, region_code="12.17", phone=DINAS2_PHONE),
]

RINA, JONSON, DEWI, HOTMAN, MARIA, ESTER, LAMRIA = 1001, 2001, 2002, 2003, 3001, 3002, 1003


@pytest.fixture
async def people(services: Services, chat) -> dict[int, Chat]:
    """Everyone bound: operator Rina (Tomok), camats Jonson and Dewi (Simanindo), Hotman (Pangururan),
    dinas Maria and Ester, operator Lamria (Pangururan)."""
    await seed_roster(services, MORE)
    phones = {
        RINA: OPERATOR_PHONE,
        JONSON: CAMAT_PHONE,
        DEWI: CAMAT2_PHONE,
        HOTMAN: CAMAT_OTHER_PHONE,
        MARIA: DINAS_PHONE,
        ESTER: DINAS2_PHONE,
        LAMRIA: OPERATOR_OTHER_PHONE,
    }
    bound = {}
    for user_id, phone in phones.items():
        person = chat(user_id)
        await person.onboard(phone)
        bound[user_id] = person
    return bound


async def propose(person: Chat, *, serial: int = 1, name: str = "Budi Santoso", district: str = "121701") -> str:
    """The operator proposes one synthetic worker; returns the proposal number."""
    await person.say("/daftar")
    await person.say(synthetic_nik(serial=serial, district=district))
    await person.say(name)
    await person.press("Benar")
    await person.press("Petani")
    await person.say("Dusun II, RT 002/RW 001")
    await person.press("Lewati")
    sent = await person.press("Kirim")
    assert "terkirim" in sent[-1].text, sent[-1].text
    return sent[-1].text.split("Usulan ")[1].split(" ")[0]


def last_card(api: FakeBotApi, user_id: int, number: str) -> SentMessage:
    for message in reversed(api.messages_to(user_id)):
        if f"Usulan {number}" in message.text and message.buttons:
            return message
    raise AssertionError(f"no card of {number} for {user_id}")


def edits_of(api: FakeBotApi, message: SentMessage) -> list[str]:
    return [
        str(e["text"])
        for e in api.edits
        if int(e.get("chat_id", 0)) == message.chat_id and int(e.get("message_id", 0)) == message.message_id
    ]


async def get(services: Services, number: str) -> Proposal:
    async with services.sessions() as session:
        proposal = await session.get(Proposal, int(number.split("-")[1]))
        assert proposal is not None
        return proposal


async def audit(services: Services, number: str) -> list[tuple[str, str | None, str | None]]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(AuditEvent)
            .where(AuditEvent.proposal_id == int(number.split("-")[1]))
            .order_by(col(AuditEvent.id))
        )
        return [(e.action, e.from_status, e.to_status) for e in rows]


async def test_submit_approve_establish_every_card_edited_and_officer_told(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """Officer submits → both camats get the card → one approves → both copies show the outcome → the
    dinas get cards → one establishes → the officer hears of each decision."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()

    jonson_card = last_card(fake_api, JONSON, number)
    dewi_card = last_card(fake_api, DEWI, number)
    assert "BUDI SANTOSO" in jonson_card.text
    assert "1217••••••••0001" in jonson_card.text
    assert synthetic_nik() not in jonson_card.text
    assert "Umur 36 tahun" in jonson_card.text or "Umur: 36 tahun" in jonson_card.text
    assert [b["text"] for b in jonson_card.buttons] == ["✅ Setujui", "❌ Tolak", "↩️ Kembalikan"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in jonson_card.buttons)
    assert not fake_api.messages_to(HOTMAN)[2:]  # the other kecamatan's camat got nothing

    await people[JONSON].press("Setujui", jonson_card)
    assert "Disetujui oleh Camat Jonson Simbolon" in edits_of(fake_api, jonson_card)[-1]
    await outbox.deliver_pending()
    assert "Disetujui oleh Camat Jonson Simbolon" in edits_of(fake_api, dewi_card)[-1]
    told = fake_api.messages_to(RINA)[-1].text
    assert f"Usulan {number} (BUDI SANTOSO) disetujui Camat Jonson Simbolon" in told

    maria_card = last_card(fake_api, MARIA, number)
    ester_card = last_card(fake_api, ESTER, number)
    assert "Disetujui oleh Camat Jonson Simbolon" in maria_card.text
    assert [b["text"] for b in maria_card.buttons] == ["🏁 Tetapkan", "❌ Tolak", "🔎 Lihat NIK"]

    await people[ESTER].press("Tetapkan", ester_card)
    await outbox.deliver_pending()
    assert "Ditetapkan oleh Diskopnaker Ester Simarmata" in edits_of(fake_api, maria_card)[-1]
    assert "ditetapkan oleh Diskopnaker Ester Simarmata" in fake_api.messages_to(RINA)[-1].text

    assert (await get(services, number)).status is Status.DITETAPKAN
    assert await audit(services, number) == [
        ("submit", "draft", "menunggu_camat"),
        ("approve", "menunggu_camat", "menunggu_dinas"),
        ("establish", "menunggu_dinas", "ditetapkan"),
    ]
    async with services.sessions() as session:
        pending = await session.exec(select(OutboundMessage).where(OutboundMessage.status != "sent"))
        assert pending.all() == []
        copies = (await session.exec(select(CardCopy))).all()
        assert copies and all(c.closed and c.message_ref for c in copies)
