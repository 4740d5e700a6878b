"""/siaran through the real Telegram application, on SQLite and PostgreSQL: what the sender and the
recipients see, the rows it writes (announcement, outbox, audit), and every refusal changing nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlmodel import select

from handlers.context import Services
from handlers.engine import Engine
from handlers.messages import Inbound, Kind, Reply
from models import store
from models.tables import Announcement, Conversation, Delivery, OutboundMessage, ProgramAudit
from scheduler.outbox import Outbox
from tests.conftest import (
    CAMAT_PHONE,
    DINAS_PHONE,
    OPERATOR2_PHONE,
    OPERATOR_OTHER_PHONE,
    OPERATOR_PHONE,
    Chat,
    synthetic_nik,
)
from tests.fakebotapi import FakeBotApi

RINA, TIGOR, LAMRIA, JONSON, MARIA = 1101, 1102, 1103, 1201, 1301
TEXT = "Rapat koordinasi operator desa hari Senin pukul 09.00 di kantor camat. 🙏"


async def people(chat: Any) -> dict[str, Chat]:
    """Everyone on the roster, bound on Telegram."""
    found = {}
    for name, user_id, phone in (
        ("rina", RINA, OPERATOR_PHONE),
        ("tigor", TIGOR, OPERATOR2_PHONE),
        ("lamria", LAMRIA, OPERATOR_OTHER_PHONE),
        ("jonson", JONSON, CAMAT_PHONE),
        ("maria", MARIA, DINAS_PHONE),
    ):
        found[name] = chat(user_id)
        await found[name].onboard(phone)
        found[name].seen = len(found[name].api.messages_to(user_id))
    return found


def texts_of(messages: list[Any]) -> str:
    return "\n\n".join(m.text for m in messages)


async def prepare(maria: Chat, *, audience: str = "Operator desa", region: str = "Kec. Simanindo") -> str:
    """The dinas up to the preview; the preview's text."""
    await maria.say("/siaran")
    await maria.press(audience)
    await maria.press(region)
    return texts_of(await maria.say(TEXT))


async def rows(services: Services, table: Any) -> list[Any]:
    async with services.sessions() as session:
        key = next(iter(table.__table__.primary_key.columns))
        return list((await session.exec(select(table).order_by(key))).all())


async def test_the_dinas_announces_to_the_operators_of_one_kecamatan(
    chat: Any, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    who = await people(chat)
    maria = who["maria"]

    start = texts_of(await maria.say("/siaran"))
    assert "Untuk siapa?" in start
    assert [b["text"] for b in maria.last_with_buttons().buttons] == ["Operator desa", "Camat", "Semua"]
    region = await maria.press("Operator desa")
    labels = [b["text"] for b in region[-1].buttons]
    assert labels[0] == "Seluruh kabupaten"
    assert "Kec. Simanindo" in labels
    assert "Berikutnya ›" in labels
    assert len(labels) <= 10
    await maria.press("Kec. Simanindo")
    preview = texts_of(await maria.say(TEXT))

    assert "Pratinjau siaran untuk operator desa — Kec. Simanindo" in preview
    assert "📢 Siaran dari Diskopnaker Maria Naibaho:" in preview
    assert TEXT in preview
    assert "Akan dikirim ke 2 petugas: 2 lewat Telegram." in preview  # Rina and Tigor, not Lamria
    sent = texts_of(await maria.press("Kirim"))
    assert "Siaran dikirim ke 2 petugas (2 pesan)" in sent

    [announcement] = await rows(services, Announcement)
    assert (announcement.audience_role, announcement.region_code, announcement.recipients) == (
        "operator",
        "12.17.01",
        2,
    )
    assert announcement.text == TEXT
    [audit] = await rows(services, ProgramAudit)
    assert (audit.action, audit.subject, audit.actor) == (
        "announce",
        f"announcement:{announcement.id}",
        "Maria Naibaho",
    )
    assert audit.detail == {"audience": "operator", "region": "12.17.01", "recipients": 2}
    queued = [m for m in await rows(services, OutboundMessage) if m.announcement_id == announcement.id]
    assert sorted(m.chat_id for m in queued) == [str(RINA), str(TIGOR)]
    assert {m.purpose for m in queued} == {"announcement"}

    fake_api.block(TIGOR)
    await outbox.deliver_pending()
    assert TEXT in texts_of(fake_api.messages_to(RINA)[who["rina"].seen :])
    assert not [m for m in fake_api.messages_to(LAMRIA) if TEXT in m.text]
    assert not [m for m in fake_api.messages_to(JONSON) if TEXT in m.text]

    counts = texts_of(await maria.say("/siaran"))
    assert "Siaran Anda terakhir:" in counts
    assert "operator desa, Kec. Simanindo, 2 petugas: 1 terkirim, 0 menunggu, 1 gagal" in counts
    assert "Untuk siapa?" in counts  # and a new one can start: nothing is still being sent


async def test_an_operator_is_told_siaran_is_not_for_them(chat: Any, services: Services):
    rina = chat(RINA)
    await rina.onboard(OPERATOR_PHONE)

    assert "hanya untuk camat dan Diskopnaker" in texts_of(await rina.say("/siaran"))
    assert await rows(services, Conversation) == []


async def test_a_camat_chooses_only_their_kecamatan_or_its_desa_and_a_forged_region_changes_nothing(
    chat: Any, services: Services
):
    jonson = chat(JONSON)
    await jonson.onboard(CAMAT_PHONE)
    await jonson.say("/siaran")
    first = await jonson.press("Semua")
    labels = [b["text"] for b in first[-1].buttons]
    assert labels[0] == "Seluruh Kec. Simanindo"
    assert "Desa Tomok" in labels
    assert "Halaman 1/3" in first[-1].text  # Simanindo's 21 desa, 8 a page
    assert not [label for label in labels if "Pangururan" in label]
    second = await jonson.press("Berikutnya")
    assert "Halaman 2/3" in second[-1].text
    assert "‹ Sebelumnya" in [b["text"] for b in second[-1].buttons]

    pressed = second[-1].button("Desa")["callback_data"]
    token = pressed.split(":")[1]
    for forged in (
        f"s:{token}:region:12_17_08",
        f"s:{token}:region:12_17",
        f"s:{token}:region:12_17_08_2001",
    ):
        refused = texts_of(await jonson.press_data(forged, second[-1]))
        assert "di luar wilayah Anda" in refused
    [conversation] = await rows(services, Conversation)
    assert (conversation.flow, conversation.step, conversation.data.get("region")) == (
        "siaran",
        "region",
        None,
    )

    # Another conversation's token, a step not open, a malformed press: a stale button, nothing changed.
    for stale in (
        "s:abcdef:region:12_17_01",
        f"s:{token}:preview:send",
        f"s:{token}:region",
        "s:" + "1" * 70,
        "i:abcdef:nik:ok",  # an old intake question's button
    ):
        assert "sudah tidak berlaku" in texts_of(await jonson.press_data(stale, second[-1]))
    assert [(c.step, c.data) for c in await rows(services, Conversation)] == [("region", conversation.data)]

    await jonson.press("Sebelumnya")
    await jonson.press("Seluruh Kec. Simanindo")
    preview = texts_of(await jonson.say(TEXT))
    assert "Pratinjau siaran untuk semua petugas — Kec. Simanindo" in preview
    assert "📢 Siaran dari Camat Jonson Simbolon:" in preview
    # No one bound yet, and no channel reaches the unbound here
    assert "Akan dikirim ke 0 dari 2 petugas; 2 belum pernah menghubungi bot (tidak menerima" in preview
    assert "tidak ada lagi penerima" in texts_of(await jonson.press("Kirim")).lower()
    assert await rows(services, Announcement) == []


async def test_the_dinas_announcing_twice_waits_for_the_first_and_kirim_counts_once(
    chat: Any, services: Services, outbox: Outbox
):
    who = await people(chat)
    maria = who["maria"]
    await prepare(maria)
    kirim = maria.last_with_buttons()
    await maria.press("Kirim", kirim)
    again = texts_of(await maria.press("Kirim", kirim))  # the same button again: that step is gone
    assert "sudah tidak berlaku" in again
    assert len(await rows(services, Announcement)) == 1

    busy = texts_of(await maria.say("/siaran"))
    assert "masih dikirim (0 terkirim, 2 menunggu, 0 gagal)" in busy
    assert "Untuk siapa?" not in busy
    assert await rows(services, Conversation) == []

    await outbox.deliver_pending()
    free = texts_of(await maria.say("/siaran"))
    assert "2 terkirim, 0 menunggu, 0 gagal" in free
    assert "Untuk siapa?" in free


async def test_messages_waiting_for_whatsapps_window_do_not_hold_up_the_next_announcement(
    chat: Any, services: Services
):
    """A recipient who never opens WhatsApp's window must not stop the sender from announcing again."""
    who = await people(chat)
    maria = who["maria"]
    await prepare(maria)
    await maria.press("Kirim")
    async with services.sessions() as session:
        for message in (await session.exec(select(OutboundMessage))).all():
            if message.announcement_id is not None:
                message.status = Delivery.WAITING
                session.add(message)
        await session.commit()

    again = texts_of(await maria.say("/siaran"))

    assert "0 terkirim, 2 menunggu, 0 gagal" in again  # its history line: waiting counts as "menunggu"
    assert "masih dikirim" not in again
    assert "Untuk siapa?" in again


async def test_a_deactivated_recipient_gets_nothing_of_a_pending_announcement(
    chat: Any, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    who = await people(chat)
    maria = who["maria"]
    await prepare(maria)
    await maria.press("Kirim")
    async with services.sessions() as session:
        tigor = await store.officer_by_phone(session, phone=OPERATOR2_PHONE)
        assert tigor is not None
        await store.deactivate_officer(session, officer=tigor)
        await session.commit()

    await outbox.deliver_pending()

    assert TEXT in texts_of(fake_api.messages_to(RINA))
    assert TEXT not in texts_of(fake_api.messages_to(TIGOR))
    [announcement] = await rows(services, Announcement)
    messages = [m for m in await rows(services, OutboundMessage) if m.announcement_id == announcement.id]
    assert [(m.chat_id, m.status) for m in messages] == [(str(RINA), Delivery.SENT)]
    # A new announcement leaves him out from the preview on.
    preview = await prepare(maria)
    assert "Akan dikirim ke 1 petugas: 1 lewat Telegram." in preview


async def test_the_text_is_cleaned_a_nik_masked_and_ubah_teks_and_batal_send_nothing(
    chat: Any, services: Services
):
    who = await people(chat)
    maria = who["maria"]
    await maria.say("/siaran")
    await maria.press("Camat")
    await maria.press("Seluruh kabupaten")
    nik = synthetic_nik(serial=7)

    assert "terlalu panjang" in texts_of(await maria.say("a" * 1001))
    assert "kosong" in texts_of(await maria.say("\u200b \u200b"))
    preview = texts_of(await maria.say(f"  Data {nik} salah, mohon dicek  "))
    assert nik not in preview
    assert "1217••••••••0007" in preview
    assert "Akan dikirim ke 1 petugas: 1 lewat Telegram." in preview  # Jonson, the one camat

    assert "(3/3)" in texts_of(await maria.press("Ubah teks"))
    preview = texts_of(await maria.say("Teks yang benar"))
    assert "Teks yang benar" in preview
    assert "dibatalkan" in texts_of(await maria.press("Batal"))
    assert await rows(services, Conversation) == []
    assert await rows(services, Announcement) == []
    assert await rows(services, ProgramAudit) == []

    await maria.say("/siaran")
    await maria.press("Operator desa")
    assert "dibatalkan" in texts_of(await maria.say("/batal"))
    assert await rows(services, Announcement) == []
    assert "Tidak ada pengisian" in texts_of(await maria.say("/batal"))
    await maria.say("/siaran")
    await maria.press("Operator desa")
    assert "dibatalkan" in texts_of(await maria.say("  Batal "))  # the word typed, as in an intake
    assert await rows(services, Conversation) == []


async def test_a_region_without_recipients_is_asked_again(chat: Any, services: Services):
    jonson = chat(JONSON)
    await jonson.onboard(CAMAT_PHONE)
    await jonson.say("/siaran")
    await jonson.press("Operator desa")

    nobody = texts_of(await jonson.press("Desa Ambarita"))  # no operator on the roster there
    assert "Tidak ada operator desa aktif di Desa Ambarita, Kec. Simanindo" in nobody
    [conversation] = await rows(services, Conversation)
    assert conversation.step == "region"


async def test_a_camat_moved_off_their_kecamatan_loses_the_announcement_in_preparation(
    chat: Any, services: Services
):
    jonson = chat(JONSON)
    await jonson.onboard(CAMAT_PHONE)
    await jonson.say("/siaran")
    await jonson.press("Operator desa")
    await jonson.press("Seluruh Kec. Simanindo")
    async with services.sessions() as session:
        officer = await store.officer_by_phone(session, phone=CAMAT_PHONE)
        assert officer is not None
        officer.region_code = "12.17.08"  # moved by hand, still bound (a re-import would unbind him)
        session.add(officer)
        await session.commit()

    assert "tidak lagi dapat mengirim siaran" in texts_of(await jonson.say(TEXT))
    assert await rows(services, Conversation) == []
    assert await rows(services, Announcement) == []


async def test_an_officer_bound_on_both_apps_gets_it_on_both_and_the_unbound_by_whatsapps_template(
    services: Services,
):
    """The deployment reaches an officer bound nowhere by their roster phone on WhatsApp (a template)."""
    deployed = dataclasses.replace(services, reach_unbound="whatsapp")
    async with services.sessions() as session:
        for phone, channel, user in (
            (DINAS_PHONE, "telegram", MARIA),
            (OPERATOR_PHONE, "telegram", RINA),
            (OPERATOR_PHONE, "whatsapp", 6281200000101),
        ):
            officer = await store.officer_by_phone(session, phone=phone)
            assert officer is not None
            await store.bind_account(
                session, channel=channel, external_id=str(user), chat_id=str(user), officer=officer
            )
        await session.commit()
    engine = Engine(deployed)

    async def say(text: str) -> list[Reply]:
        inbound = Inbound.from_text(channel="telegram", user_id=str(MARIA), chat_id=str(MARIA), text=text)
        return await engine.handle(inbound)

    async def press(replies: list[Reply], label: str) -> list[Reply]:
        data = next(b.data for r in replies for row in r.buttons for b in row if label in b.label)
        inbound = Inbound("telegram", str(MARIA), str(MARIA), Kind.BUTTON, data=data)
        return await engine.handle(inbound)

    await press(await press(await say("/siaran"), "Operator desa"), "Kec. Simanindo")
    preview = await say(TEXT)

    assert (
        "Akan dikirim ke 2 petugas: 1 lewat Telegram, 2 lewat WhatsApp; "
        "1 belum pernah menghubungi bot (lewat template WhatsApp)."
    ) in preview[-1].text
    sent = await press(preview, "Kirim")
    assert "Siaran dikirim ke 2 petugas (3 pesan)" in sent[-1].text
    messages = [m for m in await rows(services, OutboundMessage) if m.announcement_id is not None]
    assert sorted((m.channel, m.chat_id) for m in messages) == [
        ("telegram", str(RINA)),
        ("whatsapp", "6281200000101"),
        ("whatsapp", "6281200000102"),  # Tigor, bound nowhere: his roster phone
    ]


async def test_a_press_carrying_another_senders_announcement_or_an_unknown_choice_changes_nothing(
    chat: Any, services: Services
):
    who = await people(chat)
    maria, jonson = who["maria"], who["jonson"]
    await prepare(maria)
    [theirs] = await rows(services, Conversation)
    assert theirs.step == "preview"
    await jonson.say("/siaran")

    for forged in (f"s:{theirs.token}:preview:send", f"s:{theirs.token}:audience:all"):
        assert "sudah tidak berlaku" in texts_of(await jonson.press_data(forged))
    mine = next(c for c in await rows(services, Conversation) if c.officer_id != theirs.officer_id)
    for unknown in (f"s:{mine.token}:audience:dinas", f"s:{mine.token}:audience:pg2"):
        assert "sudah tidak berlaku" in texts_of(await jonson.press_data(unknown))
    assert await rows(services, Announcement) == []
    after = {c.officer_id: (c.step, c.data) for c in await rows(services, Conversation)}
    assert after == {theirs.officer_id: ("preview", theirs.data), mine.officer_id: ("audience", {})}
