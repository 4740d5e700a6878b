"""Access is revocable: the roster is authoritative, a removed or changed officer is unknown at once on
every channel, audit rows keep who acted as they were, and nobody decides their own proposal.

Through the real PTB Application (``process_update``) and the real roster import (``bot.cli._save_roster``),
on SQLite and PostgreSQL. Names and 0812-0000-xxxx numbers are synthetic.
"""

from __future__ import annotations

import dataclasses

from sqlmodel import col, select

from bot.cli import _save_roster
from handlers import ekspor, texts
from handlers.context import Services
from handlers.engine import Engine
from handlers.messages import Inbound, Kind
from models.roster import RosterRow
from models.rules.status import Role, Status
from models.tables import ChatAccount, Conversation, Officer, OfficerCreate, OutboundMessage
from scheduler.jobs import REMINDER, SUMMARY, Schedule
from scheduler.outbox import Outbox
from tests.conftest import (
    CAMAT_PHONE,
    DINAS_PHONE,
    OPERATOR2_PHONE,
    OPERATOR_PHONE,
    ROSTER,
    SIMANINDO,
    TOMOK,
    Chat,
)
from tests.fakebotapi import FakeBotApi
from tests.handlers.test_approval import _edited_message, get, last_card, propose, return_for
from tests.handlers.test_ringkasan import seed_week, wib

RINA, TIGOR, JONSON, DEWI, MARIA = 1001, 1002, 2001, 2002, 3001
DEWI_PHONE = "+6281200000202"
DEWI_ROW = OfficerCreate(name="Dewi Sirait", role=Role.CAMAT, region_code=SIMANINDO, phone=DEWI_PHONE)
WITHOUT_JONSON = [o for o in ROSTER if o.phone != CAMAT_PHONE]


async def import_roster(
    services: Services, officers: list[OfficerCreate], *, partial: bool = False, dry_run: bool = False
) -> list[tuple[str, str]]:
    """`lanjutkan officers import` of a clean file holding ``officers``: (change, line) per officer."""
    rows = [RosterRow(i, o.name, o.role, o.region_code, o.phone) for i, o in enumerate(officers, 2)]
    return await _save_roster(
        services.database_url, rows, services.kabupaten, authoritative=not partial, dry_run=dry_run
    )


def replaced(phone: str, **changes: object) -> list[OfficerCreate]:
    """The test roster with the row of ``phone`` changed."""
    return [o.model_copy(update=changes) if o.phone == phone else o for o in ROSTER]


async def officer(services: Services, phone: str) -> Officer:
    async with services.sessions() as session:
        found = (await session.exec(select(Officer).where(Officer.phone == phone))).one()
        return found


def asks_for_contact(message) -> bool:  # type: ignore[no-untyped-def]
    """The unknown user's answer: the share-your-number keyboard."""
    keyboard = (message.reply_markup or {}).get("keyboard") or [[{}]]
    return bool(keyboard[0][0].get("request_contact"))


async def onboarded(chat, user_id: int, phone: str) -> Chat:  # type: ignore[no-untyped-def]
    person = chat(user_id)
    replies = await person.onboard(phone)
    assert "Terima kasih" in replies[0].text, replies[0].text
    return person


# --------------------------------------------------------------------------------------- re-import


async def test_a_camat_removed_from_the_roster_is_unknown_at_once_and_the_queue_stays_with_the_kecamatan(
    services: Services, chat, outbox: Outbox, fake_api: FakeBotApi
):
    rina = await onboarded(chat, RINA, OPERATOR_PHONE)
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)
    queued_before = await propose(rina, serial=1)  # its card for Jonson is still in the outbox

    changes = await import_roster(services, WITHOUT_JONSON)

    assert ("deactivated", "Jonson Simbolon, camat, Kec. Simanindo (12.17.01), 0812••••0201; "
            "1 chat account(s) unbound: they share their number with the bot again") in changes  # fmt: skip
    assert sorted(kind for kind, _ in changes) == ["deactivated", *["unchanged"] * 4]
    stored = await officer(services, CAMAT_PHONE)
    assert stored.active is False
    assert stored.deactivated_at is not None
    # His very next update, without a restart: the unknown user's answer.
    (answer,) = await jonson.say("/antrian")
    assert answer.text == texts.UNBOUND_ONLY_CONTACT
    assert asks_for_contact(answer)
    (refused,) = await jonson.share_contact(CAMAT_PHONE)
    assert "belum terdaftar sebagai petugas" in refused.text
    async with services.sessions() as session:
        account = (
            await session.exec(select(ChatAccount).where(ChatAccount.external_id == str(JONSON)))
        ).one()
        assert account.officer_id is None

    # A new proposal finds no camat to send a card to, and the one queued before never goes out.
    number = await propose(rina, serial=2)
    assert texts.no_camat_bound("Simanindo") in fake_api.messages_to(RINA)[-1].text
    await outbox.deliver_pending()
    assert not [m for m in fake_api.messages_to(JONSON) if m.text.startswith("📋 Usulan")]

    # Both wait for the kecamatan: the next camat on the roster finds them in /antrian.
    await import_roster(services, [*WITHOUT_JONSON, DEWI_ROW])
    dewi = chat(DEWI)
    await dewi.say("/start")
    welcome = await dewi.share_contact(DEWI_PHONE)
    assert "2 usulan" in welcome[-1].text
    (queue,) = await dewi.say("/antrian")
    assert queued_before in queue.text
    assert number in queue.text


async def test_a_decision_on_a_removed_operators_proposal_goes_to_the_desas_other_operators(
    services: Services, chat, outbox: Outbox, fake_api: FakeBotApi
):
    rina = await onboarded(chat, RINA, OPERATOR_PHONE)
    tigor = await onboarded(chat, TIGOR, OPERATOR2_PHONE)
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)
    number = await propose(rina)
    await outbox.deliver_pending()
    await import_roster(services, [o for o in ROSTER if o.phone != OPERATOR_PHONE])
    told_rina = len(fake_api.messages_to(RINA))

    await return_for(fake_api, jonson, last_card(fake_api, JONSON, number), "Alamat")
    await outbox.deliver_pending()

    assert len(fake_api.messages_to(RINA)) == told_rina
    told = fake_api.messages_to(TIGOR)[-1]
    assert f"Usulan {number} (BUDI SANTOSO) dikembalikan oleh Camat Jonson Simbolon" in told.text
    fixing = await tigor.press(f"Perbaiki {number}", told)
    assert "Alamat" in fixing[0].text or "alamat" in fixing[0].text


async def test_deactivation_reaches_every_channel_the_officer_is_bound_on(services: Services, chat):
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)
    engine = Engine(services)
    terminal = {"channel": "terminal", "user_id": "camat", "chat_id": "camat"}
    contact = Inbound(**terminal, kind=Kind.CONTACT, contact_phone=CAMAT_PHONE, contact_user_id="camat")
    assert "Terima kasih, Jonson Simbolon" in (await engine.handle(contact))[0].text

    await import_roster(services, WITHOUT_JONSON)

    (answer,) = await engine.handle(Inbound.from_text(**terminal, text="/antrian"))
    assert (answer.text, answer.ask_contact) == (texts.UNBOUND_ONLY_CONTACT, True)
    (answer_telegram,) = await jonson.say("/antrian")
    assert asks_for_contact(answer_telegram)


async def test_a_dry_run_shows_who_would_be_deactivated_and_saves_nothing(
    services: Services, chat, fake_api: FakeBotApi
):
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)
    renamed = replaced(OPERATOR_PHONE, name="Rina Sitohang Br. Manik")

    changes = await import_roster(services, [o for o in renamed if o.phone != CAMAT_PHONE], dry_run=True)

    assert [kind for kind, _ in changes if kind != "unchanged"] == ["updated", "deactivated"]
    assert "name changed" in changes[0][1]
    assert (await officer(services, CAMAT_PHONE)).active is True
    assert (await officer(services, OPERATOR_PHONE)).name == "Rina Sitohang"
    (still,) = await jonson.say("/start")
    assert "Jonson Simbolon" in still.text


async def test_a_partial_import_keeps_the_officers_absent_from_it(services: Services, chat):
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)

    changes = await import_roster(services, [ROSTER[0]], partial=True)

    assert changes[0][0] == "unchanged"
    assert len(changes) == 1
    assert (await officer(services, CAMAT_PHONE)).active is True
    (still,) = await jonson.say("/start")
    assert "Jonson Simbolon" in still.text


async def test_an_officer_back_on_the_roster_is_reactivated_and_onboards_again(services: Services, chat):
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)
    await import_roster(services, WITHOUT_JONSON)

    changes = await import_roster(services, ROSTER)

    assert [kind for kind, _ in changes if kind != "unchanged"] == ["reactivated"]
    back = await officer(services, CAMAT_PHONE)
    assert (back.active, back.deactivated_at) == (True, None)
    (answer,) = await jonson.say("/antrian")
    assert asks_for_contact(answer)  # still unbound: whoever holds the number shares it again
    welcome = await jonson.share_contact(CAMAT_PHONE)
    assert "Terima kasih, Jonson Simbolon" in welcome[0].text


# ------------------------------------------------------------------------------- a number changes hands


async def test_a_number_given_to_another_person_unbinds_and_history_keeps_who_acted_then(
    services: Services, chat, outbox: Outbox, fake_api: FakeBotApi
):
    rina = await onboarded(chat, RINA, OPERATOR_PHONE)
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)
    maria = await onboarded(chat, MARIA, DINAS_PHONE)
    number = await propose(rina)
    await outbox.deliver_pending()
    await jonson.press("Setujui", last_card(fake_api, JONSON, number))

    # Rina's number now belongs to a camat of Simanindo; Jonson's row is renamed (a new holder).
    moved = replaced(OPERATOR_PHONE, name="Bonar Sitompul", role=Role.CAMAT, region_code=SIMANINDO)
    moved = [
        o.model_copy(update={"name": "Parulian Simbolon"}) if o.phone == CAMAT_PHONE else o for o in moved
    ]
    changes = dict((line.split(",")[0], (kind, line)) for kind, line in await import_roster(services, moved))

    assert changes["Bonar Sitompul"][0] == "updated"
    assert "name, role, region changed; 1 chat account(s) unbound" in changes["Bonar Sitompul"][1]
    assert "name changed; 1 chat account(s) unbound" in changes["Parulian Simbolon"][1]
    for person in (rina, jonson):
        (answer,) = await person.say("/daftarku")
        assert asks_for_contact(answer)
    welcome = await rina.share_contact(OPERATOR_PHONE)
    assert "Terima kasih, Bonar Sitompul. Anda terdaftar sebagai camat" in welcome[0].text

    await maria.say("/antrian")
    (card,) = await maria.press(number)
    assert "• Diusulkan: Rina Sitohang," in card.text
    assert "Disetujui oleh Camat Jonson Simbolon" in card.text
    (trail,) = await maria.say(f"/riwayat {number}")
    assert "Operator Rina Sitohang: mengusulkan" in trail.text
    assert "Camat Jonson Simbolon: menyetujui" in trail.text
    assert "Bonar" not in trail.text
    assert "Parulian" not in trail.text
    async with services.sessions() as session:
        made = await ekspor.build(session, services, "usulan")
    csv_text = made.content.decode("utf-8-sig")
    assert "Camat Jonson Simbolon: menyetujui" in csv_text
    assert "Operator Rina Sitohang: mengusulkan" in csv_text
    assert "Bonar" not in csv_text
    assert "Parulian" not in csv_text


async def test_a_role_change_drops_an_open_decision(
    services: Services, chat, outbox: Outbox, fake_api: FakeBotApi
):
    rina = await onboarded(chat, RINA, OPERATOR_PHONE)
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)
    number = await propose(rina)
    await outbox.deliver_pending()
    card = last_card(fake_api, JONSON, number)
    await jonson.press("Tolak", card)
    await jonson.press("Lainnya", _edited_message(fake_api, card))  # the bot waits for a typed reason

    await import_roster(services, replaced(CAMAT_PHONE, role=Role.OPERATOR, region_code=TOMOK))

    async with services.sessions() as session:
        assert (await session.exec(select(Conversation))).all() == []
    await jonson.share_contact(CAMAT_PHONE)  # back, now an operator
    await jonson.say("bukan pekerja rentan di desa ini")
    assert (await get(services, number)).status is Status.MENUNGGU_CAMAT


# ------------------------------------------------------------------------------------- own proposals


async def test_an_operator_made_camat_cannot_decide_their_own_proposal_nor_approve_it_in_bulk(
    services: Services, chat, outbox: Outbox, fake_api: FakeBotApi
):
    rina = await onboarded(chat, RINA, OPERATOR_PHONE)
    tigor = await onboarded(chat, TIGOR, OPERATOR2_PHONE)
    own = await propose(rina, serial=1)
    other = await propose(tigor, serial=2, name="Sahat Manik")
    await import_roster(services, replaced(OPERATOR_PHONE, role=Role.CAMAT, region_code=SIMANINDO))
    await rina.share_contact(OPERATOR_PHONE)  # the same person, now a camat of Simanindo

    (queue,) = await rina.say("/antrian")
    assert own in queue.text
    assert "✅ Setujui semua tanpa peringatan (1)" in [b["text"] for b in queue.buttons]
    (card,) = await rina.press(own, queue)
    for button in ("Setujui", "Tolak", "Kembalikan"):
        (refused,) = await rina.press(button, card)
        assert refused.text == texts.own_proposal(own)
    assert (await get(services, own)).status is Status.MENUNGGU_CAMAT

    await rina.say("/antrian")
    await rina.press("Setujui semua")
    (confirm,) = fake_api.messages_to(RINA)[-1:]
    assert "Setujui 1 usulan" in confirm.text
    await rina.press("Ya, setujui 1 usulan")
    assert (await get(services, other)).status is Status.MENUNGGU_DINAS
    assert (await get(services, own)).status is Status.MENUNGGU_CAMAT


async def test_the_dinas_cannot_establish_a_proposal_it_sent_as_an_operator(
    services: Services, chat, outbox: Outbox, fake_api: FakeBotApi
):
    rina = await onboarded(chat, RINA, OPERATOR_PHONE)
    jonson = await onboarded(chat, JONSON, CAMAT_PHONE)
    number = await propose(rina)
    await outbox.deliver_pending()
    await jonson.press("Setujui", last_card(fake_api, JONSON, number))
    await import_roster(services, replaced(OPERATOR_PHONE, role=Role.DINAS, region_code="12.17"))
    await rina.share_contact(OPERATOR_PHONE)

    await rina.say("/antrian")
    (card,) = await rina.press(number)
    (refused,) = await rina.press("Tetapkan", card)

    assert refused.text == texts.own_proposal(number)
    assert (await get(services, number)).status is Status.MENUNGGU_DINAS


# ------------------------------------------------------------------------------ summaries, reminders


async def test_a_removed_camat_gets_no_summary_nor_reminder_and_is_not_named_to_the_dinas(
    services: Services,
):
    await seed_week(services)  # Jonson bound, a proposal waiting 14 days at Simanindo
    await import_roster(services, WITHOUT_JONSON)
    camat = await officer(services, CAMAT_PHONE)

    await Schedule(dataclasses.replace(services, clock=lambda: wib(11, 24, 9))).run(REMINDER)
    await Schedule(dataclasses.replace(services, clock=lambda: wib(11, 30, 8, 1))).run(SUMMARY)

    async with services.sessions() as session:
        rows = (await session.exec(select(OutboundMessage).order_by(col(OutboundMessage.id)))).all()
        dinas = await session.exec(select(Officer.id).where(Officer.phone == DINAS_PHONE))
        dinas_id = dinas.one()
    assert not [m for m in rows if m.officer_id == camat.id and m.text != "lama"]
    to_dinas = "\n".join(m.text for m in rows if m.officer_id == dinas_id)
    assert "Kec. Simanindo: 1 (terlama 14 hari) — belum ada camat di daftar petugas" in to_dinas
    assert "Petugas yang tidak dapat dihubungi bot" in to_dinas
    assert "Jonson Simbolon" not in to_dinas
    assert "Tigor Manik" in to_dinas  # active and never onboarded: still chased
