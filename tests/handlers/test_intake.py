"""The intake conversation through the real PTB Application: what officers see, what the database holds."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import text
from sqlmodel import select

from handlers.context import Services
from models.rules.status import Status
from models.tables import AuditEvent, Conversation, Proposal
from tests.conftest import OPERATOR2_PHONE, OPERATOR_OTHER_PHONE, OPERATOR_PHONE, Chat, synthetic_nik

NIK = synthetic_nik()  # 1217011508900001: Simanindo, 15 August 1990, male


async def operator(chat, user_id: int = 1001, phone: str = OPERATOR_PHONE) -> Chat:
    person = chat(user_id)
    await person.onboard(phone)
    return person


async def fill_until_summary(person: Chat, nik: str = NIK, name: str = "Budi Santoso") -> list:
    await person.say("/daftar")
    await person.say(nik)
    await person.say(name)
    await person.press("Benar")
    await person.press("Petani")
    await person.say("Dusun II, RT 002/RW 001")
    return await person.say("0812 0000 5555")


async def proposals(services: Services) -> list[Proposal]:
    async with services.sessions() as session:
        return list((await session.exec(select(Proposal).order_by(Proposal.id))).all())


async def test_full_intake_stores_the_proposal_and_masks_the_nik_after_kirim(chat, services):
    rina = await operator(chat)

    start = await rina.say("/daftar")
    assert "Desa Tomok, Kec. Simanindo" in start[-1].text
    assert "1/6" in start[-1].text

    read_back = await rina.say("1217 0115 0890 0001")  # spaces are fine
    assert f"NIK {NIK} terbaca" in read_back[-1].text
    assert "lahir 15 Agustus 1990" in read_back[-1].text
    assert "laki-laki" in read_back[-1].text
    assert "Kec. Simanindo" in read_back[-1].text
    assert "2/6" in read_back[-1].text

    birth = await rina.say("budi  santoso")
    assert "15 Agustus 1990, laki-laki" in birth[-1].text
    category = await rina.press("Benar")
    assert len(category[-1].buttons) == 11
    address = await rina.press("Petani")
    assert "5/6" in address[-1].text
    phone = await rina.say("Dusun II, RT 002/RW 001")
    assert phone[-1].button("Lewati")
    summary = await rina.say("+62 812-0000-5555")
    text_ = summary[-1].text
    assert f"NIK: {NIK}" in text_  # in full, right before Kirim, to compare with the KTP
    assert "Nama: BUDI SANTOSO" in text_
    assert "Pekerjaan: petani" in text_
    assert "Dusun II, RT 002/RW 001, Desa Tomok, Kec. Simanindo" in text_
    assert "0812" in text_

    sent = await rina.press("Kirim")
    assert "Usulan U-00001 terkirim" in sent[-1].text
    assert "1217••••••••0001" in sent[-1].text
    assert NIK not in sent[-1].text
    assert "camat Kec. Simanindo" in sent[-1].text

    [proposal] = await proposals(services)
    assert proposal.status is Status.MENUNGGU_CAMAT
    assert proposal.name == "BUDI SANTOSO"
    assert proposal.phone == "+6281200005555"
    assert proposal.category == "petani"
    assert proposal.desa_code == "12.17.01.2001"
    assert NIK not in (proposal.nik_encrypted or "")
    assert services.vault.decrypt(proposal.nik_encrypted or "") == NIK
    assert proposal.nik_hash == services.vault.hash(NIK)
    async with services.sessions() as session:
        assert (await session.exec(select(Conversation))).all() == []
        [event] = (await session.exec(select(AuditEvent))).all()
        raw = (await session.exec(text("SELECT status FROM proposal"))).one()  # type: ignore[call-overload]
    assert (event.action, event.from_status, event.to_status) == ("submit", "draft", "menunggu_camat")
    assert raw[0] == "menunggu_camat"


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("12170115089", "16 angka"),
        ("1217O11508900001", "16 angka"),  # a letter O
        ("1217011508900000", "0000"),
        ("1217013102900001", "tidak mungkin"),  # 31 February
        ("9917011508900001", "kode provinsi"),
        ("🙂🙂🙂", "16 angka"),
    ],
)
async def test_a_wrong_nik_is_refused_with_a_hint_and_asked_again(chat, services, typed, hint):
    rina = await operator(chat)
    await rina.say("/daftar")

    refused = await rina.say(typed)
    assert hint in refused[-1].text
    assert "1/6" in refused[-1].text
    accepted = await rina.say(NIK)
    assert "2/6" in accepted[-1].text


async def test_a_womans_nik_reads_as_perempuan_with_the_real_day(chat):
    rina = await operator(chat)
    await rina.say("/daftar")
    replies = await rina.say(synthetic_nik(day=29, month=2, year=1988, female=True))  # 69 02 88
    assert "lahir 29 Februari 1988" in replies[-1].text
    assert "perempuan" in replies[-1].text


@pytest.mark.parametrize(("year", "age"), [(1950, "76"), (2015, "11")])
async def test_age_outside_the_range_blocks_the_candidate(chat, services, year, age):
    rina = await operator(chat)
    await rina.say("/daftar")
    replies = await rina.say(synthetic_nik(year=year))

    assert "tidak dapat diusulkan" in replies[-1].text
    assert f"Umurnya {age} tahun" in replies[-1].text
    assert "15–65" in replies[-1].text
    [draft] = await proposals(services)
    assert draft.nik_hash is None  # nothing of the blocked NIK was kept


async def test_nik_from_another_kabupaten_and_kecamatan_are_warnings_carried_to_the_proposal(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    bogor = await rina.say("3201011508900001")
    assert "Kabupaten Bogor, bukan di Kabupaten Samosir" in bogor[-1].text
    assert "2/6" in bogor[-1].text  # allowed to continue

    await rina.say("/batal")
    await rina.say("/daftar")
    pangururan = await rina.say(synthetic_nik(district="121708"))
    assert "Kec. Pangururan, sedangkan desa ini di Kec. Simanindo" in pangururan[-1].text
    await rina.say("Budi")
    await rina.press("Benar")
    await rina.press("Nelayan")
    await rina.say("Lingkungan I")
    summary = await rina.press("Lewati")
    assert "⚠️ NIK diterbitkan di Kec. Pangururan" in summary[-1].text
    await rina.press("Kirim")

    [proposal] = [p for p in await proposals(services) if p.status is Status.MENUNGGU_CAMAT]
    assert [f["code"] for f in proposal.findings] == ["nik_other_kecamatan"]


async def test_corrected_birth_date_and_gender_are_kept_as_warnings(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi Santoso")
    ask_date = await rina.press("tanggal lahir")
    assert "15-08-1995" in ask_date[-1].text
    bad = await rina.say("31-02-1990")
    assert "tidak mungkin" in bad[0].text
    confirm = await rina.say("16 Agustus 1990")
    assert "16 Agustus 1990, laki-laki" in confirm[-1].text
    await rina.press("jenis kelamin")
    confirm = await rina.press("Perempuan")
    assert "16 Agustus 1990, perempuan" in confirm[-1].text
    category = await rina.press("Benar")
    assert "berbeda dengan NIK (15 Agustus 1990)" in category[0].text
    assert "Jenis kelamin yang diisi (perempuan) berbeda dengan NIK (laki-laki)" in category[0].text

    [draft] = await proposals(services)
    assert draft.nik_birth_date.isoformat() == "1990-08-15"
    assert draft.birth_date.isoformat() == "1990-08-16"
    assert {f["code"] for f in draft.findings} == {"birth_date_differs", "gender_differs"}


async def test_lainnya_needs_a_description(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi")
    await rina.press("Benar")
    ask = await rina.press("Lainnya")
    assert "penenun ulos" in ask[-1].text
    refused = await rina.say("🧶🧶")
    assert "Hanya huruf" in refused[0].text
    next_step = await rina.say("Penenun ulos")
    assert "5/6" in next_step[-1].text
    [draft] = await proposals(services)
    assert (draft.category, draft.category_description) == ("lainnya", "penenun ulos")


async def test_a_nik_in_the_address_or_the_description_is_refused_with_a_hint(chat, services):
    """The operator's own free text never carries a NIK to the cards: refused, the step asked again."""
    other = synthetic_nik(serial=4242)
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi")
    await rina.press("Benar")
    await rina.press("Lainnya")
    refused = await rina.say(f"penenun ulos {other[:4]}/{other[4:8]}/{other[8:12]}/{other[12:]}")
    assert "Jangan tulis NIK" in refused[0].text
    assert "5/6" not in refused[-1].text
    await rina.say("Penenun ulos")
    refused = await rina.say(f"Dusun II, NIK {other[:4]} - {other[4:8]}\u200b{other[8:]}")
    assert "Jangan tulis NIK" in refused[0].text
    assert "6/6" not in refused[-1].text
    asked = await rina.say("Dusun II, RT 002/RW 001")
    assert "6/6" in asked[-1].text
    [draft] = await proposals(services)
    assert (draft.category_description, draft.address) == ("penenun ulos", "Dusun II, RT 002/RW 001")


async def test_the_workers_phone_is_validated_or_skipped(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi")
    await rina.press("Benar")
    await rina.press("Sopir")
    await rina.say("Dusun I")
    landline = await rina.say("(061) 4567890")
    assert "telepon rumah" in landline[0].text
    garbage = await rina.say("nomor saya")
    assert "tidak dikenali" in garbage[0].text
    summary = await rina.press("Lewati")
    assert "No HP: -" in summary[-1].text


async def test_ubah_changes_one_field_and_returns_to_the_summary(chat, services):
    rina = await operator(chat)
    await fill_until_summary(rina)

    fields = await rina.press("Ubah")
    assert {b["text"] for b in fields[-1].buttons} >= {"NIK", "Nama", "Alamat", "Nomor HP"}
    await rina.press("Nama")
    summary = await rina.say("Budiman Santoso")
    assert "Nama: BUDIMAN SANTOSO" in summary[-1].text
    assert summary[-1].button("Kirim")

    # A new NIK passes through the birth-date check again before the summary.
    await rina.press("Ubah")
    await rina.press("NIK")
    other = synthetic_nik(day=1, month=1, year=1980, serial=7)
    confirm = await rina.say(other)
    assert "1 Januari 1980" in confirm[-1].text
    summary = await rina.press("Benar")
    assert f"NIK: {other}" in summary[-1].text
    await rina.press("Kirim")
    [proposal] = await proposals(services)
    assert services.vault.decrypt(proposal.nik_encrypted or "") == other


async def test_batal_drops_the_draft_at_any_step(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    replies = await rina.say("/batal")
    assert "dibatalkan" in replies[-1].text
    assert await proposals(services) == []

    await fill_until_summary(rina)
    replies = await rina.press("Batal")
    assert "dibatalkan" in replies[-1].text
    assert await proposals(services) == []
    assert "Tidak ada pengisian" in (await rina.say("/batal"))[-1].text


async def submit(person: Chat, nik: str = NIK, name: str = "Budi Santoso") -> None:
    await fill_until_summary(person, nik, name)
    await person.press("Kirim")


async def test_a_nik_already_proposed_is_blocked_saying_where_but_not_whom(chat, services):
    await submit(await operator(chat, 1001, OPERATOR_PHONE), name="Orang Pertama")
    lamria = await operator(chat, 1003, OPERATOR_OTHER_PHONE)
    await lamria.say("/daftar")
    replies = await lamria.say(NIK)

    message = replies[-1].text
    assert "sudah diusulkan dari Tomok, Kec. Simanindo" in message
    assert "U-00001" in message
    assert "menunggu persetujuan camat" in message
    assert "ORANG PERTAMA" not in message.upper()
    assert "Ketik NIK lain" in message


async def test_a_rejected_nik_can_be_proposed_again(chat, services):
    await submit(await operator(chat))
    async with services.sessions() as session:
        [first] = (await session.exec(select(Proposal))).all()
        first.status = Status.DITOLAK
        session.add(first)
        await session.commit()
    tigor = await operator(chat, 1002, OPERATOR2_PHONE)
    await submit(tigor)
    statuses = sorted(p.status.value for p in await proposals(services))
    assert statuses == ["ditolak", "menunggu_camat"]


async def test_two_officers_sending_the_same_nik_at_once_make_one_proposal(chat, services):
    rina = await operator(chat, 1001, OPERATOR_PHONE)
    tigor = await operator(chat, 1002, OPERATOR2_PHONE)
    await fill_until_summary(rina)
    await fill_until_summary(tigor)

    results = await asyncio.gather(rina.press("Kirim"), tigor.press("Kirim"))

    texts = [r[0].text for r in results]
    assert sum(t.startswith("✅ Usulan") for t in texts) == 1
    # Whether the loser's check ran after the winner's commit (a lookup finds it) or at the same moment
    # (the unique key refuses it), the loser gets one clear refusal.
    assert sum("sudah diusulkan dari Tomok" in t for t in texts) == 1
    live = [p for p in await proposals(services) if p.status is Status.MENUNGGU_CAMAT]
    assert len(live) == 1
    # The loser keeps their draft and can change the NIK or cancel.
    loser = tigor if texts[0].startswith("✅ Usulan") else rina
    assert loser.last_with_buttons().button("Batal")


async def test_the_database_key_refuses_a_duplicate_the_lookup_missed(chat, services, monkeypatch):
    """The race window itself: both lookups ran before either commit; only the unique key stands."""
    from models import store

    rina = await operator(chat, 1001, OPERATOR_PHONE)
    tigor = await operator(chat, 1002, OPERATOR2_PHONE)
    await fill_until_summary(rina)
    await fill_until_summary(tigor)
    await rina.press("Kirim")

    real_lookup = store.live_proposal_with_nik
    calls = []

    async def lookup_missed_once(*args, **kwargs):
        calls.append(1)
        return None if len(calls) == 1 else await real_lookup(*args, **kwargs)

    monkeypatch.setattr(store, "live_proposal_with_nik", lookup_missed_once)
    replies = await tigor.press("Kirim")

    # The key refused the Kirim; the officer is told where the NIK was proposed and may change or cancel.
    assert "sudah diusulkan dari Tomok, Kec. Simanindo (usulan U-00001" in replies[0].text
    assert replies[-1].button("NIK")
    assert replies[-1].button("Batal")
    statuses = sorted(p.status.value for p in await proposals(services))
    assert statuses == ["draft", "menunggu_camat"]


async def test_pressing_an_old_or_forged_button_changes_nothing(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi")
    birth_question = rina.last_with_buttons()
    await rina.press("Benar")
    category_question = rina.last_with_buttons()
    await rina.press("Petani")

    stale = await rina.press("Nelayan", category_question)  # an old message's button
    assert "sudah tidak berlaku" in stale[-1].text
    assert "5/6" in stale[-1].text
    stale = await rina.press("Benar", birth_question)
    assert "sudah tidak berlaku" in stale[-1].text
    for forged in ("i:999:summary:send", "x", "i:1:category:99", "", "i:1:address:🙂" * 3):
        replies = await rina.press_data(forged)
        assert "sudah tidak berlaku" in replies[-1].text, forged
    [draft] = await proposals(services)
    assert (draft.status, draft.category) == (Status.DRAFT, "petani")


async def test_no_callback_data_ever_carries_the_nik(chat, fake_api):
    rina = await operator(chat)
    await submit(rina)
    for message in fake_api.sent:
        for button in message.buttons:
            assert NIK not in button["callback_data"]
            assert len(button["callback_data"].encode()) <= 64


async def test_the_conversation_survives_a_restart_of_the_bot(chat, services, fake_api):
    """State lives in the database: a new Application on new services continues the conversation."""
    from bot.channels.telegram import build_application
    from handlers.engine import Engine
    from tests.conftest import make_services
    from tests.fakebotapi import TOKEN
    from tests.offline import OfflineRequest

    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi")

    url = services.database_url
    fresh_services = make_services(url)
    fresh = build_application(
        Engine(fresh_services), token=TOKEN, base_url="http://offline/bot", request=OfflineRequest(fake_api)
    )
    await fresh.initialize()
    try:
        again = Chat(fresh, fake_api, 1001, seen=rina.seen)
        replies = await again.press("Benar")
        assert "4/6" in replies[-1].text
    finally:
        await fresh.shutdown()
        await fresh_services.close()


async def test_daftar_again_resumes_the_open_draft(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    replies = await rina.say("/daftar")
    assert "belum selesai" in replies[0].text
    assert "2/6" in replies[-1].text
    assert len(await proposals(services)) == 1


async def test_nik_never_reaches_the_logs_even_at_debug_level(chat, services):
    import io

    from bot.cli import setup_logging

    buffer = io.StringIO()
    setup_logging("DEBUG", stream=buffer)
    try:
        rina = await operator(chat)
        await submit(rina)
        await rina.say("/status U-00001")
        await rina.press_data("i:1:summary:send")  # a forged press, handled and logged
    finally:
        logging.basicConfig(handlers=[logging.NullHandler()], force=True)
        logging.getLogger().setLevel(logging.WARNING)
    logged = buffer.getvalue()
    assert "proposal U-00001 submitted" in logged  # the bot did log while handling the NIK
    assert NIK not in logged


async def test_an_update_delivered_twice_is_handled_once(app, chat, services, fake_api):
    """Telegram resends what was not confirmed, and a replay may meet it: the inbox claim keeps one."""
    from telegram import Update

    from bot.channels.telegram import Inbox
    from handlers.engine import Engine
    from models.tables import InboundUpdate

    await operator(chat)
    update = fake_api.text_update(1001, "/daftar")
    await Inbox(Engine(services)).record([Update.de_json(update, app.bot)])
    async with services.sessions() as session:
        [recorded] = (await session.exec(select(InboundUpdate))).all()
    assert "/daftar" not in recorded.payload  # encrypted at rest: a typed NIK would be in there
    assert "/daftar" in services.vault.decrypt(recorded.payload)
    before = len(fake_api.messages_to(1001))

    await app.process_update(Update.de_json(update, app.bot))
    await app.process_update(Update.de_json(update, app.bot))

    new = fake_api.messages_to(1001)[before:]
    assert len(new) == 1
    assert "Usulan baru" in new[0].text
    assert len(await proposals(services)) == 1
    async with services.sessions() as session:
        [row] = (await session.exec(select(InboundUpdate))).all()
    assert row.handled_at is not None
    assert row.payload == ""  # once handled, the message is not kept


# ----------------------------------------------------------------------------- the full NIK in the chat

MASKED = "1217••••••••0001"
WHY = "🔒 NIK disamarkan demi perlindungan data pribadi."


def edits_of(fake_api, message_id: int) -> list[str]:
    """The texts a message was rewritten to (editMessageText), in order."""
    return [
        str(e["text"]) for e in fake_api.edits if "text" in e and int(e.get("message_id", 0)) == message_id
    ]


async def test_after_kirim_the_nik_message_is_deleted_and_the_read_back_and_summary_are_masked(
    chat, services, fake_api
):
    rina = await operator(chat)
    await rina.say("/daftar")
    read_back = (await rina.say(NIK))[-1]
    typed_nik = rina.typed[-1]
    assert NIK in read_back.text
    await rina.say("Budi Santoso")
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say("Dusun II, RT 002/RW 001")
    summary = (await rina.press("Lewati"))[-1]
    assert NIK in summary.text

    sent = await rina.press("Kirim")

    assert "Usulan U-00001 terkirim" in sent[0].text
    assert "dihapus atau disamarkan demi perlindungan data pribadi" in sent[0].text
    assert (1001, typed_nik) in fake_api.deleted
    [masked_read_back] = edits_of(fake_api, read_back.message_id)
    assert MASKED in masked_read_back
    assert "lahir 15 Agustus 1990" in masked_read_back
    assert masked_read_back.endswith(WHY)
    [masked_summary] = edits_of(fake_api, summary.message_id)
    assert f"NIK: {MASKED}" in masked_summary
    assert "Nama: BUDI SANTOSO" in masked_summary
    assert masked_summary.endswith(WHY)
    # What the chat shows now: the full NIK nowhere
    assert not [m for m in fake_api.messages_to(1001) if NIK in m.text]
    assert not fake_api.messages_to(1001)[-1].buttons


async def test_after_batal_every_message_that_carried_the_nik_is_deleted_or_masked(chat, services, fake_api):
    """A NIK refused, one read back, then another through Ubah, and /batal typed at the summary."""
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK[:-1])  # one digit short: refused, but the message carries most of a NIK
    first_typed = rina.typed[-1]
    first_read_back = (await rina.say(NIK))[-1]
    second_typed = rina.typed[-1]
    summary = (await fill_until_summary_from_name(rina))[-1]
    await rina.press("Ubah")
    await rina.press("NIK")
    other = synthetic_nik(serial=2)
    second_read_back = (await rina.say(other))[-1]
    third_typed = rina.typed[-1]
    second_summary = (await rina.press("Benar"))[-1]
    assert other in second_summary.text

    cancelled = await rina.say("/batal")

    assert "dibatalkan" in cancelled[0].text
    assert "dihapus atau disamarkan" in cancelled[0].text
    assert {(1001, first_typed), (1001, second_typed), (1001, third_typed)} <= set(fake_api.deleted)
    assert MASKED in edits_of(fake_api, first_read_back.message_id)[0]
    assert "1217••••••••0002" in edits_of(fake_api, second_read_back.message_id)[0]
    for message in (summary, second_summary):
        [masked] = edits_of(fake_api, message.message_id)
        assert masked.endswith(WHY)
        assert NIK not in masked
        assert other not in masked
    assert not [m for m in fake_api.messages_to(1001) if NIK in m.text or other in m.text]
    assert await proposals(services) == []


async def fill_until_summary_from_name(person: Chat) -> list:
    await person.say("Budi Santoso")
    await person.press("Benar")
    await person.press("Petani")
    await person.say("Dusun II, RT 002/RW 001")
    return await person.press("Lewati")


async def test_a_message_too_old_to_delete_or_edit_changes_nothing_for_the_officer(chat, services, fake_api):
    """Telegram refuses to delete a message after 48 hours: the proposal is sent all the same."""
    from tests.fakebotapi import ApiError

    refused = []

    async def refuse(params):
        refused.append(int(params["message_id"]))
        raise ApiError(400, "Bad Request: message can't be deleted for everyone")

    fake_api._api_deleteMessage = refuse  # type: ignore[method-assign]
    rina = await operator(chat)
    summary = (await fill_until_summary(rina))[-1]
    sent = await rina.press("Kirim")
    assert "Usulan U-00001 terkirim" in sent[0].text
    assert refused == [rina.typed[2]]  # /start, /daftar, then the NIK
    assert edits_of(fake_api, summary.message_id)  # the rest is done all the same
    [proposal] = await proposals(services)
    assert proposal.status is Status.MENUNGGU_CAMAT
