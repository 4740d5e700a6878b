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
    sent_proposal,
    synthetic_nik,
)
from tests.fakebotapi import FakeBotApi, SentMessage
from tests.handlers.test_intake import fill_until_summary

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


async def propose(person: Chat, *, serial: int = 1, name: str = "Budi Santoso") -> str:
    """The operator proposes one synthetic worker (the intake tests' answers); returns the number."""
    await fill_until_summary(person, synthetic_nik(serial=serial), name)
    sent = await person.press("Kirim")
    assert "terkirim" in sent[-1].text, sent[-1].text
    return sent[-1].text.split("Usulan ")[1].split(" ")[0]


def last_card(api: FakeBotApi, user_id: int, number: str) -> SentMessage:
    """The newest card of ``number`` in the user's chat, as it stands now (edits included)."""
    for message in reversed(api.messages_to(user_id)):
        if message.text.startswith(f"📋 Usulan {number}"):
            return message
    raise AssertionError(f"no card of {number} for {user_id}")


async def reason_asked(people: dict[int, Chat], outbox: Outbox, api: FakeBotApi) -> tuple[str, SentMessage]:
    """Rina proposes; Jonson presses Tolak, then "Lainnya": the bot waits for his typed reason."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    card = last_card(api, JONSON, number)
    await people[JONSON].press("Tolak", card)
    await people[JONSON].press("Lainnya", next(m for m in api.sent if m.message_id == card.message_id))
    return number, card


async def return_for(api: FakeBotApi, camat: Chat, card: SentMessage, field: str) -> None:
    """The camat returns the card's proposal to fix one field, without a note."""
    await camat.press("Kembalikan", card)
    for label in (field, "Lanjut", "Tanpa catatan"):
        await camat.press(label, next(m for m in api.sent if m.message_id == card.message_id))


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
    assert edits_of(fake_api, jonson_card)[-1].count("Disetujui oleh Camat Jonson Simbolon") == 1
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
        pending = await session.exec(
            select(OutboundMessage).where(col(OutboundMessage.status).not_in(["sent", "superseded"]))
        )
        assert pending.all() == []
        copies = (await session.exec(select(CardCopy))).all()
        assert copies
        assert all(c.closed and c.message_ref for c in copies)


# ------------------------------------------------------------------------------------- helpers for queues


async def waiting(
    services: Services, count: int, *, warned: set[int] = frozenset(), first_serial: int = 100
) -> list[int]:  # type: ignore[assignment]
    """``count`` proposals of Desa Tomok waiting for the camat, oldest first; ``warned`` (indexes) carry a
    warning. Written straight to the database: the queue is what is tested here, not the intake."""
    import datetime as dt

    from models import store as db

    ids = []
    async with services.sessions() as session:
        rina = await db.officer_by_phone(session, phone=OPERATOR_PHONE)
        assert rina is not None
        assert rina.id is not None
        for i in range(count):
            nik = synthetic_nik(serial=first_serial + i)
            finding = {"severity": "warning", "code": "nik_other_kecamatan",
                       "params": {"district": "Pangururan", "kecamatan": "Simanindo"}}  # fmt: skip
            proposal = sent_proposal(
                services,
                officer_id=rina.id,
                nik=nik,
                name=f"PEKERJA {i + 1:03d}",
                findings=[finding] if i in warned else [],
                submitted_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i),
            )
            session.add(proposal)
            await session.flush()
            assert proposal.id is not None
            ids.append(proposal.id)
        await session.commit()
    return ids


async def statuses(services: Services, ids: list[int]) -> list[Status]:
    async with services.sessions() as session:
        rows = await session.exec(
            select(Proposal).where(col(Proposal.id).in_(ids)).order_by(col(Proposal.id))
        )
        return [p.status for p in rows]


# ------------------------------------------------------------------------------------------ rejection


async def test_reject_with_a_common_reason_edits_every_copy_and_tells_the_officer(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """Tolak → reason buttons on the card → "data tidak sesuai" → rejected with that reason everywhere."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    card = last_card(fake_api, JONSON, number)
    await people[JONSON].press("Tolak", card)
    asked = edits_of(fake_api, card)[-1]
    assert "Pilih alasan penolakan" in asked
    await people[JONSON].press("Data tidak sesuai", _edited_message(fake_api, card))
    assert "Ditolak oleh Camat Jonson Simbolon" in edits_of(fake_api, card)[-1]
    assert "Alasan/catatan: data tidak sesuai" in edits_of(fake_api, card)[-1]
    await outbox.deliver_pending()
    assert "Ditolak oleh Camat Jonson Simbolon" in edits_of(fake_api, last_card(fake_api, DEWI, number))[-1]
    told = fake_api.messages_to(RINA)[-1].text
    assert f"Usulan {number} (BUDI SANTOSO) ditolak oleh Camat Jonson Simbolon" in told
    assert "data tidak sesuai" in told
    assert (await get(services, number)).status is Status.DITOLAK
    assert (await audit(services, number))[-1] == ("reject", "menunggu_camat", "ditolak")
    assert not fake_api.messages_to(MARIA)[2:]  # a rejection at the camat never reaches the dinas


def _edited_message(api: FakeBotApi, message: SentMessage) -> SentMessage:
    """The message as its last edit left it (text and buttons), to press its new buttons."""
    return next(m for m in api.sent if m.message_id == message.message_id)


async def test_reject_with_a_typed_reason_after_a_too_short_one_and_back_out_first(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """« Kembali restores the card; "lainnya" asks for a sentence; "x" is refused; a sentence decides."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    card = last_card(fake_api, JONSON, number)
    jonson = people[JONSON]
    await jonson.press("Tolak", card)
    await jonson.press("Kembali", _edited_message(fake_api, card))
    restored = _edited_message(fake_api, card)
    assert [b["text"] for b in restored.buttons] == ["✅ Setujui", "❌ Tolak", "↩️ Kembalikan"]

    await jonson.press("Tolak", restored)
    await jonson.press("Lainnya", _edited_message(fake_api, card))
    assert "Tulis alasan penolakan" in edits_of(fake_api, card)[-1]
    short = await jonson.say("x")
    assert "terlalu pendek" in short[-1].text
    assert (await get(services, number)).status is Status.MENUNGGU_CAMAT
    done = await jonson.say("Yang bersangkutan pegawai kontrak di kantor desa")
    assert "Ditolak oleh Camat Jonson Simbolon" in done[-1].text
    assert "pegawai kontrak" in done[-1].text
    await outbox.deliver_pending()
    # The copy in Jonson's own chat is written too: the decision came as text, not from that card.
    assert "Ditolak oleh" in edits_of(fake_api, card)[-1]
    assert "pegawai kontrak" in fake_api.messages_to(RINA)[-1].text


async def test_batal_while_typing_a_reason_decides_nothing(people, services: Services, outbox, fake_api):
    """/batal after "lainnya": nothing recorded, the proposal still waits, later text is not a reason."""
    number, _card = await reason_asked(people, outbox, fake_api)
    cancelled = await people[JONSON].say("/batal")
    assert "Keputusan dibatalkan" in cancelled[-1].text
    later = await people[JONSON].say("bukan alasan")
    assert "tidak mengerti" in later[-1].text
    assert (await get(services, number)).status is Status.MENUNGGU_CAMAT
    assert [a for a, _, _ in await audit(services, number)] == ["submit"]


# ------------------------------------------------------------------------------ return and correction


async def test_return_fix_two_fields_and_resubmit_shows_the_camat_what_changed(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """Kembalikan (Nama, Alamat, a note) → officer presses Perbaiki → asked only those two → Kirim →
    back at the camat, marked as a resubmission with the changes."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    card = last_card(fake_api, JONSON, number)
    jonson = people[JONSON]
    await jonson.press("Kembalikan", card)
    nothing = await jonson.press("Lanjut", _edited_message(fake_api, card))
    assert "Pilih minimal satu" in nothing[-1].text
    await jonson.press("Nama", _edited_message(fake_api, card))
    await jonson.press("Alamat", _edited_message(fake_api, card))
    assert "Dipilih: Nama, Alamat" in edits_of(fake_api, card)[-1]
    await jonson.press("Lanjut", _edited_message(fake_api, card))
    assert "memperbaiki: Nama, Alamat" in edits_of(fake_api, card)[-1]
    returned = await jonson.say("Nama sesuai KTP, RT salah")
    assert "Dikembalikan oleh Camat Jonson Simbolon" in returned[-1].text
    assert (await get(services, number)).status is Status.DIKEMBALIKAN

    await outbox.deliver_pending()
    rina = people[RINA]
    told = fake_api.messages_to(RINA)[-1]
    assert "dikembalikan oleh Camat Jonson Simbolon" in told.text
    assert "Yang harus diperbaiki: Nama, Alamat" in told.text
    assert "RT salah" in told.text
    first = await rina.press("Perbaiki", told)
    assert "isi ulang Nama, Alamat" in first[-1].text
    assert "Catatan camat: Nama sesuai KTP, RT salah" in first[-1].text
    assert "nama lengkap" in first[-1].text
    then = await rina.say("Budi Santoso Sitanggang")
    assert "alamat" in then[-1].text.lower()
    summary = await rina.say("Dusun III, RT 004/RW 002")
    assert "Ringkasan usulan" in summary[-1].text
    assert "NIK: 1217••••••••0001" in summary[-1].text  # a correction never shows the full NIK again
    assert synthetic_nik() not in summary[-1].text
    sent = await rina.press("Kirim")
    assert f"Perbaikan usulan {number} terkirim" in sent[-1].text

    proposal = await get(services, number)
    assert proposal.status is Status.MENUNGGU_CAMAT
    assert proposal.resubmissions == 1
    assert [c["field"] for c in proposal.changes] == ["name", "address"]
    await outbox.deliver_pending()
    again = last_card(fake_api, JONSON, number)
    assert again.message_id != card.message_id
    assert "Diajukan ulang setelah dikembalikan (ke-1)" in again.text
    assert "Nama: BUDI SANTOSO → BUDI SANTOSO SITANGGANG" in again.text
    assert "Alamat: Dusun II, RT 002/RW 001 → Dusun III, RT 004/RW 002" in again.text
    assert [a for a, _, _ in await audit(services, number)] == ["submit", "return", "resubmit"]


async def test_pausing_a_correction_keeps_the_returned_proposal(people, services: Services, outbox, fake_api):
    """/batal in a correction pauses it: the proposal stays returned (never deleted) and /daftarku offers
    Perbaiki to resume it."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    card = last_card(fake_api, JONSON, number)
    await return_for(fake_api, people[JONSON], card, "Alamat")
    await outbox.deliver_pending()
    told = fake_api.messages_to(RINA)[-1]
    await people[RINA].press("Perbaiki", told)
    paused = await people[RINA].say("/batal")
    assert "Perbaikan ditunda" in paused[-1].text
    assert (await get(services, number)).status is Status.DIKEMBALIKAN
    listed = await people[RINA].say("/daftarku")
    assert f"{number} — BUDI SANTOSO — dikembalikan untuk diperbaiki" in listed[-1].text
    resumed = await people[RINA].press(f"Perbaiki {number}", listed[-1])
    assert "alamat" in resumed[-1].text.lower()
    status = await people[RINA].say(f"/status {number}")
    assert "dikembalikan untuk diperbaiki" in status[0].text


# ------------------------------------------------------------------------------------------------ queue


async def test_queue_pages_oldest_first_and_opens_a_card(people, services: Services, fake_api: FakeBotApi):
    """/antrian with 20 waiting: 8 per page, oldest first, ◀ ▶ edit the list in place, a number opens."""
    ids = await waiting(services, 20, warned={3})
    listed = await people[JONSON].say("/antrian")
    page = listed[-1]
    assert "20 usulan menunggu, 1 dengan peringatan" in page.text
    assert "Halaman 1/3" in page.text
    assert "1. U-" in page.text
    assert "PEKERJA 001" in page.text
    assert "PEKERJA 009" not in page.text
    [warned_line] = [line for line in page.text.splitlines() if "PEKERJA 004" in line]
    assert warned_line.endswith("⚠️")
    assert page.button("Setujui semua tanpa peringatan (19)")
    await people[JONSON].press("Berikutnya", page)
    second = _edited_message(fake_api, page)
    assert "Halaman 2/3" in second.text
    assert "PEKERJA 009" in second.text
    opened = await people[JONSON].press(f"U-{ids[8]:05d}", second)
    assert f"Usulan U-{ids[8]:05d}" in opened[-1].text
    assert [b["text"] for b in opened[-1].buttons] == ["✅ Setujui", "❌ Tolak", "↩️ Kembalikan"]
    decided = await people[JONSON].press("Setujui", opened[-1])
    assert decided == []  # the card itself was edited
    after = _edited_message(fake_api, opened[-1])
    assert "Disetujui oleh Camat Jonson Simbolon" in after.text
    assert after.button("Usulan berikutnya (19)")
    nxt = await people[JONSON].press("Usulan berikutnya", after)
    assert f"Usulan U-{ids[0]:05d}" in nxt[-1].text  # the oldest still waiting


async def test_queue_is_for_approvers_and_shows_the_dinas_failed_deliveries(people, services: Services):
    """Operators have no queue; the dinas queue names undelivered messages and /gagal lists them."""
    assert "hanya untuk camat dan Diskopnaker" in (await people[RINA].say("/antrian"))[-1].text
    empty = await people[MARIA].say("/antrian")
    assert "tidak ada usulan yang menunggu" in empty[-1].text
    async with services.sessions() as session:
        from models import store as db

        camat = await db.officer_by_phone(session, phone=CAMAT_PHONE)
        assert camat is not None
        session.add(
            OutboundMessage(
                channel="telegram",
                chat_id="2001",
                officer_id=camat.id,
                text="📋 Usulan U-00042 — x",
                status="failed",
                error="blocked",
            )
        )
        await session.commit()
    noted = await people[MARIA].say("/antrian")
    assert "1 pesan ke petugas tidak terkirim: lihat /gagal" in noted[-1].text
    failed = await people[MARIA].say("/gagal")
    assert "Camat Jonson Simbolon (0812-0000-0201)" in failed[-1].text
    assert "bot diblokir" in failed[-1].text
    assert "Hanya untuk petugas Diskopnaker" in (await people[JONSON].say("/gagal"))[-1].text


async def test_bulk_approval_confirms_the_count_and_skips_warnings_and_newcomers(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """ "Setujui semua tanpa peringatan": the confirmation states 5; a proposal arriving after it is shown
    is not included; warned proposals stay for one-by-one review."""
    ids = await waiting(services, 7, warned={1, 4})
    listed = (await people[JONSON].say("/antrian"))[-1]
    await people[JONSON].press("Setujui semua", listed)
    confirm = _edited_message(fake_api, listed)
    assert "Setujui 5 usulan tanpa peringatan di Kec. Simanindo" in confirm.text
    late = await waiting(services, 1, first_serial=900)  # arrives while the camat reads
    await people[JONSON].press("Ya, setujui 5 usulan", confirm)
    done = _edited_message(fake_api, listed)
    assert "5 usulan disetujui" in done.text
    assert await statuses(services, ids) == [
        Status.MENUNGGU_DINAS, Status.MENUNGGU_CAMAT, Status.MENUNGGU_DINAS, Status.MENUNGGU_DINAS,
        Status.MENUNGGU_CAMAT, Status.MENUNGGU_DINAS, Status.MENUNGGU_DINAS,
    ]  # fmt: skip
    assert await statuses(services, late) == [Status.MENUNGGU_CAMAT]
    await outbox.deliver_pending()
    assert len([m for m in fake_api.messages_to(MARIA) if "menunggu verifikasi" in m.text]) == 5
    assert len([m for m in fake_api.messages_to(RINA) if "disetujui Camat" in m.text]) == 5


async def test_bulk_cancel_changes_nothing(people, services: Services, fake_api: FakeBotApi):
    """Batal on the confirmation approves nothing."""
    ids = await waiting(services, 3)
    listed = (await people[JONSON].say("/antrian"))[-1]
    await people[JONSON].press("Setujui semua", listed)
    await people[JONSON].press("Batal", _edited_message(fake_api, listed))
    assert "tidak ada yang disetujui" in _edited_message(fake_api, listed).text
    assert await statuses(services, ids) == [Status.MENUNGGU_CAMAT] * 3


# ------------------------------------------------------------------------------- reveal, quota, history


async def test_dinas_reveals_the_nik_on_request_and_it_is_audited(
    people, services: Services, outbox, fake_api
):
    """Lihat NIK shows the full NIK to the dinas only, and /riwayat records who saw it."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    await people[JONSON].press("Setujui", last_card(fake_api, JONSON, number))
    await outbox.deliver_pending()
    shown = await people[MARIA].press("Lihat NIK", last_card(fake_api, MARIA, number))
    assert synthetic_nik() in shown[-1].text
    assert "tercatat di riwayat" in shown[-1].text
    history = await people[RINA].say(f"/riwayat {number}")
    assert "Diskopnaker Maria Naibaho: membuka NIK lengkap" in history[-1].text
    assert "Camat Jonson Simbolon: menyetujui → menunggu verifikasi Diskopnaker" in history[-1].text
    elsewhere = await people[LAMRIA].say(f"/riwayat {number}")
    assert "tidak ditemukan" in elsewhere[-1].text
    async with services.sessions() as session:
        queued = (await session.exec(select(OutboundMessage))).all()
        assert queued
        assert not any(synthetic_nik() in m.text for m in queued)


async def test_tetapkan_is_refused_when_the_years_quota_is_full(
    people, services: Services, outbox, fake_api, app
):
    """With the quota used up, Tetapkan explains and nothing changes."""
    from models.tables import ProgramYear

    number = await propose(people[RINA])
    await outbox.deliver_pending()
    await people[JONSON].press("Setujui", last_card(fake_api, JONSON, number))
    await outbox.deliver_pending()
    async with services.sessions() as session:
        session.add(ProgramYear(year=2026, new_quota=2, new_established=2))
        await session.commit()
    refused = await people[MARIA].press("Tetapkan", last_card(fake_api, MARIA, number))
    assert "Kuota peserta baru tahun 2026 sudah penuh (2 orang)" in refused[-1].text
    assert (await get(services, number)).status is Status.MENUNGGU_DINAS
    async with services.sessions() as session:  # as `lanjutkan program set --year 2026 --quota 3` does
        from models import store as db

        await db.set_program(session, year=2026, default_quota=320, figures={"new_quota": 3})
        await session.commit()
    await people[MARIA].press("Tetapkan", last_card(fake_api, MARIA, number))
    assert (await get(services, number)).status is Status.DITETAPKAN
    async with services.sessions() as session:
        year = await session.get(ProgramYear, 2026)
        assert year is not None
        assert (year.new_quota, year.new_established) == (3, 3)


async def test_officer_is_told_when_no_camat_is_connected_yet(chat, services: Services, outbox, fake_api):
    """Without a bound camat the proposal waits in the queue and the officer knows it."""
    rina = chat(RINA)
    await rina.onboard(OPERATOR_PHONE)
    await fill_until_summary(rina)
    sent = await rina.press("Kirim")
    assert "belum ada camat Kec. Simanindo yang terhubung" in sent[-1].text


async def test_a_reason_typed_after_another_camat_decided_is_refused_and_forgotten(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """Jonson starts typing a reason; Dewi approves meanwhile; Jonson's reason changes nothing, is answered
    with Dewi's decision, and his next message is not taken as a reason again."""
    number, _jonson_card = await reason_asked(people, outbox, fake_api)
    await people[DEWI].press("Setujui", last_card(fake_api, DEWI, number))
    late = await people[JONSON].say("Sudah pindah ke kabupaten lain")
    assert "sudah tidak menunggu keputusan Anda" in late[-1].text
    assert "Disetujui oleh Camat Dewi Sirait" in late[-1].text
    assert (await get(services, number)).status is Status.MENUNGGU_DINAS
    after = await people[JONSON].say("halo")
    assert "tidak mengerti" in after[-1].text
    assert [a for a, _, _ in await audit(services, number)] == ["submit", "approve"]


async def test_a_nik_typed_into_a_reason_is_masked_for_the_officer_and_the_record(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """The reason reaches the officer and /riwayat with the NIK masked."""
    _number, _card = await reason_asked(people, outbox, fake_api)
    other = synthetic_nik(serial=4242)
    await people[JONSON].say(f"Sudah terdaftar dengan NIK {other} di desa lain")
    await outbox.deliver_pending()
    told = fake_api.messages_to(RINA)[-1].text
    assert "1217••••••••4242" in told
    assert other not in told
    async with services.sessions() as session:
        reasons = (await session.exec(select(AuditEvent.reason))).all()
    assert not any(other in (r or "") for r in reasons)


async def test_a_camat_joining_late_is_told_what_waits(chat, services: Services):
    """Cards sent before the camat joined never reached them: binding (and /start) names the queue."""
    await waiting(services, 3)
    jonson = chat(JONSON)
    joined = await jonson.onboard(CAMAT_PHONE)
    assert "3 usulan menunggu keputusan Anda" in joined[-1].text
    again = await jonson.say("/start")
    assert "3 usulan menunggu keputusan Anda" in again[-1].text
    rina = chat(RINA)
    assert "menunggu keputusan" not in (await rina.onboard(OPERATOR_PHONE))[-1].text


# ------------------------------------------------------------------------- stale decisions and versions


async def test_a_command_forgets_a_half_typed_reason_so_later_chat_rejects_nothing(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """Tolak → Lainnya → /riwayat (moved on): told the reason is dropped; later text is just text."""
    number, _card = await reason_asked(people, outbox, fake_api)
    moved_on = await people[JONSON].say(f"/riwayat {number}")
    assert f"Alasan untuk usulan {number} tidak jadi dicatat" in moved_on[0].text
    later = await people[JONSON].say("oke saya cek dulu")
    assert "tidak mengerti" in later[-1].text
    assert (await get(services, number)).status is Status.MENUNGGU_CAMAT


async def test_a_reason_typed_long_after_it_was_asked_is_not_taken(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """A reason asked more than 15 minutes ago no longer decides anything."""
    import datetime as dt

    from models.tables import Conversation

    number, _card = await reason_asked(people, outbox, fake_api)
    async with services.sessions() as session:
        open_ = (await session.exec(select(Conversation).where(Conversation.flow == "decide"))).one()
        open_.updated_at = open_.updated_at - dt.timedelta(minutes=16)
        session.add(open_)
        await session.commit()
    late = await people[JONSON].say("Tidak memenuhi syarat")
    assert f"Alasan untuk usulan {number} tidak jadi dicatat" in late[0].text
    assert (await get(services, number)).status is Status.MENUNGGU_CAMAT


async def test_buttons_and_reasons_of_an_earlier_version_decide_nothing(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """Jonson holds the first card opened from /antrian and a reason half typed for it; Dewi returns it;
    Rina corrects and resends. Jonson's old reason and old Setujui are refused; the new card decides."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    old_card = last_card(fake_api, JONSON, number)
    opened = await people[JONSON].say("/antrian")
    old_opened = await people[JONSON].press(number, opened[-1])  # not a card copy: never edited
    await people[JONSON].press("Tolak", old_card)
    await people[JONSON].press("Lainnya", _edited_message(fake_api, old_card))
    dewi = people[DEWI]
    dewi_card = last_card(fake_api, DEWI, number)
    await return_for(fake_api, dewi, dewi_card, "Nama")
    await outbox.deliver_pending()
    await people[RINA].press("Perbaiki", fake_api.messages_to(RINA)[-1])
    await people[RINA].say("Budi Santoso Sitanggang")
    await people[RINA].press("Kirim")
    await outbox.deliver_pending()
    assert (await get(services, number)).status is Status.MENUNGGU_CAMAT

    old_reason = await people[JONSON].say("Data tidak lengkap")
    assert "sudah diperbaiki dan diajukan ulang" in old_reason[-1].text
    stale = await people[JONSON].press("Setujui", old_opened[-1])
    assert "sudah diperbaiki dan diajukan ulang" in stale[-1].text
    assert old_card.message_id != last_card(fake_api, JONSON, number).message_id
    assert (await get(services, number)).status is Status.MENUNGGU_CAMAT
    await people[JONSON].press("Setujui", last_card(fake_api, JONSON, number))
    assert (await get(services, number)).status is Status.MENUNGGU_DINAS
    assert [a for a, _, _ in await audit(services, number)] == ["submit", "return", "resubmit", "approve"]


async def test_a_nik_written_with_separators_is_masked_in_a_reason(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """121701.150890.4242 and 1217 0115 0890 4242 are NIKs too."""
    _number, _card = await reason_asked(people, outbox, fake_api)
    await people[JONSON].say("Dobel dengan 121701.150890.4242 dan 1217 0115 0890 4243")
    await outbox.deliver_pending()
    told = fake_api.messages_to(RINA)[-1].text
    assert "1217••••••••4242" in told
    assert "1217••••••••4243" in told
    assert "150890" not in told


def _shows_nik_middle(text: str) -> bool:
    """Whether the hidden middle of synthetic_nik(serial=4242/4243) (0115 0890) can be read in ``text``,
    whatever was written between its digits."""
    return "01150890" in "".join(ch for ch in text if ch.isdigit())


@pytest.mark.parametrize("decision", ["reject", "return"])
async def test_a_nik_written_any_way_in_a_reason_reaches_no_record_notice_card_history_or_export(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi, decision: str
):
    """Slashes, a zero-width space, spaced dashes, a 17th digit: masked in the audit row, the outbox, the
    officer's notice, every card copy, /riwayat, the correction's note and the CSV export."""
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    card = last_card(fake_api, JONSON, number)
    jonson = people[JONSON]
    if decision == "reject":
        await jonson.press("Tolak", card)
        await jonson.press("Lainnya", _edited_message(fake_api, card))
    else:
        await jonson.press("Kembalikan", card)
        for label in ("Nama", "Lanjut"):
            await jonson.press(label, _edited_message(fake_api, card))
    one, two = synthetic_nik(serial=4242), synthetic_nik(serial=4243)
    written = f"{one[:4]}/{one[4:8]}/\u200b{one[8:12]}/{one[12:]}"
    spaced = f"{two[:4]} - {two[4:8]} - {two[8:12]} - {two[12:]}7"
    await jonson.say(f"Dobel dengan {written} dan {spaced} di desa lain")
    await outbox.deliver_pending()

    async with services.sessions() as session:
        reasons = [r or "" for r in (await session.exec(select(AuditEvent.reason))).all()]
        queued = list((await session.exec(select(OutboundMessage.text))).all())
    assert "Dobel dengan 1217••••••••4242 dan 1217••••••••2437 di desa lain" in reasons
    told = fake_api.messages_to(RINA)[-1].text
    assert "1217••••••••4242" in told
    copies = [*edits_of(fake_api, card), *edits_of(fake_api, last_card(fake_api, DEWI, number))]
    assert copies
    assert all("1217••••••••4242" in copy for copy in copies[-1:])
    history = (await jonson.say(f"/riwayat {number}"))[-1].text
    assert "1217••••••••4242" in history
    shown = [*reasons, *queued, told, *copies, history]
    if decision == "return":
        fix = await people[RINA].press("Perbaiki")
        shown += [m.text for m in fix]
        assert any("Catatan camat: Dobel dengan 1217••••••••4242" in m.text for m in fix)
    await people[MARIA].say("/ekspor usulan")
    shown.append(fake_api.documents[-1].content.decode("utf-8-sig"))
    assert "1217••••••••4242" in shown[-1]
    assert not [text for text in shown if _shows_nik_middle(text)]


async def test_a_reason_with_nul_and_a_bidi_override_is_stored_and_shown_without_them(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    """PostgreSQL refuses NUL (on every retry); U+202E would reorder every card copy the reason reaches."""
    number, card = await reason_asked(people, outbox, fake_api)
    done = await people[JONSON].say("Data\x00 tidak \u202esesuai\u200b dengan KTP")
    assert "Ditolak oleh Camat Jonson Simbolon" in done[-1].text
    await outbox.deliver_pending()
    async with services.sessions() as session:
        event = (await session.exec(select(AuditEvent).where(AuditEvent.action == "reject"))).one()
    assert event.reason == "Data tidak sesuai dengan KTP"
    assert (await get(services, number)).status is Status.DITOLAK
    shown = [
        fake_api.messages_to(RINA)[-1].text,
        *edits_of(fake_api, card),
        *edits_of(fake_api, last_card(fake_api, DEWI, number)),
        (await people[JONSON].say(f"/riwayat {number}"))[-1].text,
    ]
    assert all("Data tidak sesuai dengan KTP" in text for text in shown[:1] + shown[-1:])
    assert not [text for text in shown if {"\x00", "\u202e", "\u200b"} & set(text)]


async def test_free_text_stored_before_masking_is_masked_wherever_it_is_shown(
    people, services: Services, fake_api: FakeBotApi
):
    """A description and a reason written before this release, with a NIK in them: the card, /antrian,
    /status, /riwayat and /daftarku mask it all the same."""
    other = synthetic_nik(serial=4242)
    async with services.sessions() as session:
        from models import store as db

        rina = await db.officer_by_phone(session, phone=OPERATOR_PHONE)
        assert rina is not None
        assert rina.id is not None
        proposal = sent_proposal(
            services,
            officer_id=rina.id,
            nik=synthetic_nik(serial=7),
            category="lainnya",
            category_description=f"penenun {other[:6]}/{other[6:12]}/{other[12:]}",
            address=f"Dusun I {other}",
        )
        session.add(proposal)
        await session.flush()
        assert proposal.id is not None
        session.add(
            AuditEvent(
                proposal_id=proposal.id, officer_id=rina.id, action="submit", from_status="draft",
                to_status="menunggu_camat", reason=f"catatan lama {other[:8]}\u200b{other[8:]}",
            )
        )  # fmt: skip
        await session.commit()
        number = proposal.number
    shown = [
        (await people[JONSON].say("/antrian"))[-1].text,
        (await people[JONSON].press(number))[-1].text,
        (await people[JONSON].say(f"/status {number}"))[-1].text,
        (await people[JONSON].say(f"/riwayat {number}"))[-1].text,
        (await people[RINA].say("/daftarku"))[-1].text,
    ]
    assert "penenun 1217••••••••4242" in shown[0]
    assert "penenun 1217••••••••4242" in shown[1]
    assert "catatan lama 1217••••••••4242" in shown[3]
    assert not [text for text in shown if _shows_nik_middle(text)]


async def test_a_return_reaches_the_desas_current_operator_when_the_proposer_moved(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi, chat
):
    """Rina was moved to another desa by a roster import: Tigor, operator of Tomok now, gets the return
    and can fix it."""
    from tests.conftest import OPERATOR2_PHONE, PANGURURAN_DESA

    number = await propose(people[RINA])
    await outbox.deliver_pending()
    tigor = chat(1002)
    await tigor.onboard(OPERATOR2_PHONE)
    await seed_roster(
        services,
        [
            OfficerCreate(
                name="Rina Sitohang", role=Role.OPERATOR, region_code=PANGURURAN_DESA, phone=OPERATOR_PHONE
            )
        ],
    )
    card = last_card(fake_api, JONSON, number)
    await return_for(fake_api, people[JONSON], card, "Alamat")
    await outbox.deliver_pending()
    assert not any(number in m.text and "dikembalikan" in m.text for m in fake_api.messages_to(RINA))
    told = fake_api.messages_to(1002)[-1]
    assert f"Usulan {number} (BUDI SANTOSO) dikembalikan" in told.text
    fixing = await tigor.press("Perbaiki", told)
    assert "alamat" in fixing[-1].text.lower()


async def test_pressing_the_bulk_confirmation_twice_approves_once_and_says_so(
    people, services: Services, fake_api: FakeBotApi
):
    """The second "Ya" does not turn the result into "0 usulan disetujui"."""
    ids = await waiting(services, 2)
    listed = (await people[JONSON].say("/antrian"))[-1]
    await people[JONSON].press("Setujui semua", listed)
    confirm = _edited_message(fake_api, listed)
    await people[JONSON].press("Ya, setujui 2 usulan", confirm)
    assert "2 usulan disetujui" in _edited_message(fake_api, listed).text
    again = await people[JONSON].press("Ya, setujui 2 usulan", confirm)
    assert "sudah dijalankan" in again[-1].text
    assert "2 usulan disetujui" in _edited_message(fake_api, listed).text
    assert await statuses(services, ids) == [Status.MENUNGGU_DINAS] * 2
    async with services.sessions() as session:
        approvals = (await session.exec(select(AuditEvent).where(AuditEvent.action == "approve"))).all()
    assert len(approvals) == 2


async def test_bulk_approves_only_the_versions_it_counted(people, services: Services, fake_api: FakeBotApi):
    """A proposal corrected after the confirmation was shown is left for the camat to look at again."""
    ids = await waiting(services, 2)
    listed = (await people[JONSON].say("/antrian"))[-1]
    await people[JONSON].press("Setujui semua", listed)
    async with services.sessions() as session:
        changed = await session.get(Proposal, ids[1])
        assert changed is not None
        changed.resubmissions = 1  # returned and corrected while the camat read the confirmation
        session.add(changed)
        await session.commit()
    await people[JONSON].press("Ya, setujui 2 usulan", _edited_message(fake_api, listed))
    assert "1 usulan disetujui" in _edited_message(fake_api, listed).text
    assert await statuses(services, ids) == [Status.MENUNGGU_DINAS, Status.MENUNGGU_CAMAT]


async def test_two_operators_sending_one_correction_at_once_resubmit_it_once(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi, chat
):
    """Rina and Tigor both correct the returned proposal and press Kirim together: one resubmission,
    one set of new cards; the other is told it is no longer returned (PostgreSQL decides the race)."""
    import asyncio

    from telegram import Update

    from tests.conftest import OPERATOR2_PHONE

    number = await propose(people[RINA])
    await outbox.deliver_pending()
    card = last_card(fake_api, JONSON, number)
    await return_for(fake_api, people[JONSON], card, "Alamat")
    await outbox.deliver_pending()
    tigor = chat(1002)
    await tigor.onboard(OPERATOR2_PHONE)
    pid = int(number.split("-")[1])
    summaries = []
    fix = {"inline_keyboard": [[{"text": "Perbaiki", "callback_data": f"p:{pid}"}]]}
    for person, address in ((people[RINA], "Dusun III"), (tigor, "Dusun IV")):
        # Tigor has no message with the button (Rina was told): he presses one as if forwarded to him.
        await person.press_data(f"p:{pid}", SentMessage(person.user_id, 1, "Perbaiki", fix))
        summaries.append((await person.say(address))[-1])
    updates = [
        Update.de_json(
            fake_api.press_update(person.user_id, summary, summary.button("Kirim")["callback_data"]),
            people[RINA].app.bot,
        )
        for person, summary in ((people[RINA], summaries[0]), (tigor, summaries[1]))
    ]
    await asyncio.gather(*(people[RINA].app.process_update(u) for u in updates))

    assert (await get(services, number)).status is Status.MENUNGGU_CAMAT
    assert [a for a, _, _ in await audit(services, number)] == ["submit", "return", "resubmit"]
    async with services.sessions() as session:
        cards_ = (await session.exec(select(CardCopy).where(CardCopy.stage == "menunggu_camat"))).all()
    assert len(cards_) == 4  # Jonson and Dewi, first version and the resubmission: not twice
    answers = [fake_api.messages_to(user)[-1].text for user in (RINA, 1002)]
    assert sum("Perbaikan usulan" in a and "terkirim" in a for a in answers) == 1, answers


async def test_a_nik_retyped_in_a_correction_is_deleted_and_its_read_back_masked_at_the_resend(
    people, services: Services, outbox: Outbox, fake_api: FakeBotApi
):
    number = await propose(people[RINA])
    await outbox.deliver_pending()
    await return_for(fake_api, people[JONSON], last_card(fake_api, JONSON, number), "NIK")
    await outbox.deliver_pending()
    rina = people[RINA]
    await rina.press("Perbaiki", fake_api.messages_to(RINA)[-1])
    retyped = synthetic_nik(serial=9)
    read_back = (await rina.say(retyped))[-1]
    typed = rina.typed[-1]
    assert retyped in read_back.text
    summary = (await rina.press("Benar"))[-1]
    assert retyped not in summary.text  # a correction's summary is masked already

    sent = await rina.press("Kirim")

    assert f"Perbaikan usulan {number} terkirim" in sent[0].text
    assert (RINA, typed) in fake_api.deleted
    [masked] = [
        str(e["text"]) for e in fake_api.edits if e.get("message_id") == read_back.message_id and "text" in e
    ]
    assert "1217••••••••0009" in masked
    assert retyped not in masked
    assert not [m for m in fake_api.messages_to(RINA) if retyped in m.text]
