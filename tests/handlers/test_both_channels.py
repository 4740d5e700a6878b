"""What is the same on Telegram and WhatsApp, written once and run on both: each conversation through the
real channel (the PTB Application over the fake Bot API; the WhatsApp service on the real HTTP server over
the fake Cloud API), read back as texts, choices and files whatever the widget (``tests.channels``).

On WhatsApp every step also checks that the fake Cloud API refused nothing (Meta's limits on bodies,
buttons, lists, ids, media) and no message failed; and after each test, that no reply button's or list
row's id is longer than Meta takes or carries a NIK.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlmodel import select

from bot.channels.telegram import TelegramCourier
from handlers.context import Services
from models.rules.status import Status
from models.tables import ExportRecord, OutboundMessage, Proposal
from scheduler.outbox import Outbox
from tests.channels import People, Person, TelegramPeople, choices_of, text_of
from tests.conftest import CAMAT_PHONE, DINAS_PHONE, FAST, OPERATOR_PHONE, synthetic_nik
from tests.fakebotapi import FakeBotApi
from tests.handlers.test_approval import waiting
from tests.handlers.test_ekspor import NIK_PANGURURAN, NIK_TOMOK, NIK_WAITING
from tests.handlers.test_ekspor import seed as seed_exports
from tests.handlers.test_rekap import seed as seed_rekap
from tests.handlers.test_ringkasan import seed_week
from tests.whatsapp_driver import NIK_RE, WhatsAppDriver, WhatsAppPeople

# The conversations do not differ between databases: SQLite only, to stay fast.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

NIK = synthetic_nik()  # 1217011508900001: Kec. Simanindo, 15 August 1990, male
ADDRESS = "Dusun II, RT 002/RW 001"


@pytest.fixture(params=["telegram", "whatsapp"])
def person(request: pytest.FixtureRequest, services: Services, fake_api: FakeBotApi) -> Iterator[People]:
    """The people of one channel: ``person(phone)`` is the roster's officer with that number."""
    if request.param == "telegram":
        app = request.getfixturevalue("app")
        yield TelegramPeople(
            app, fake_api, Outbox(services, "telegram", TelegramCourier(app.bot), limits=FAST)
        )
        return
    driver: WhatsAppDriver = request.getfixturevalue("whatsapp")
    yield WhatsAppPeople(driver)
    ids_within_limits(driver)


def ids_within_limits(driver: WhatsAppDriver) -> None:
    """No reply button's or list row's id longer than Meta takes, none carrying a NIK."""
    ids = driver.ids_sent()
    assert not [i for i in ids if len(i) > 256], ids
    assert not [i for i in ids if NIK_RE.search(i)], ids


async def operator(person: People) -> Person:
    rina = person(OPERATOR_PHONE)
    await rina.onboard()
    return rina


async def submit(rina: Person, nik: str = NIK, name: str = "Budi Santoso") -> str:
    """A whole intake through buttons (lists on WhatsApp); the confirmation."""
    await rina.say("/daftar")
    await rina.say(nik)
    await rina.say(name)
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say(ADDRESS)
    await rina.press("Lewati")
    return text_of(await rina.press("Kirim"))


# ------------------------------------------------------------------------------------------ onboarding


async def test_onboarding_ends_with_the_welcome_naming_the_officer(person: People, services: Services):
    """Telegram asks for the contact, WhatsApp knows the number: both welcome Rina by name and role."""
    welcome = text_of(await person(OPERATOR_PHONE).onboard())

    assert "Rina Sitohang" in welcome
    assert "Desa Tomok, Kec. Simanindo" in welcome
    assert "daftar" in welcome


# ---------------------------------------------------------------------------------------------- intake


async def test_a_whole_intake_sends_the_proposal(person: People, services: Services):
    rina = await operator(person)

    start = text_of(await rina.say("/daftar"))
    assert "Desa Tomok, Kec. Simanindo" in start
    assert "1/6" in start
    read_back = text_of(await rina.say(NIK))
    assert f"NIK {NIK} terbaca" in read_back
    assert "2/6" in read_back
    birth = await rina.say("budi  santoso")
    assert "15 Agustus 1990, laki-laki" in text_of(birth)
    categories = await rina.press("Benar")
    labels = choices_of(categories)
    assert len(labels) == 11, labels  # the eleven categories (two lists on WhatsApp)
    assert any("Petani" in label for label in labels)
    assert "5/6" in text_of(await rina.press("Petani"))
    phone = await rina.say(ADDRESS)
    assert "6/6" in text_of(phone)
    assert any("Lewati" in label for label in choices_of(phone))
    summary = text_of(await rina.press("Lewati"))
    assert f"NIK: {NIK}" in summary  # in full, right before Kirim
    assert "Nama: BUDI SANTOSO" in summary
    assert f"{ADDRESS}, Desa Tomok, Kec. Simanindo" in summary
    sent = text_of(await rina.press("Kirim"))

    assert "Usulan U-00001 terkirim" in sent
    assert "1217••••••••0001" in sent
    assert NIK not in sent
    async with services.sessions() as session:
        [proposal] = (await session.exec(select(Proposal))).all()
    assert (proposal.status, proposal.name, proposal.category) == (
        Status.MENUNGGU_CAMAT,
        "BUDI SANTOSO",
        "petani",
    )
    # Nowhere in the database in clear (WhatsApp's inbox keeps the deliveries encrypted): not in the
    # file, nor in its write-ahead log.
    await services.close()
    database = Path(services.database_url.split("///", 1)[1])
    for file in (database, database.with_name(database.name + "-wal")):
        if file.exists():
            assert NIK.encode() not in file.read_bytes(), file.name


async def test_batal_mid_intake_drops_the_draft(person: People, services: Services):
    rina = await operator(person)
    await rina.say("/daftar")
    await rina.say(NIK)

    assert "dibatalkan" in text_of(await rina.say("/batal"))
    assert "Tidak ada pengisian" in text_of(await rina.say("/batal"))
    assert "belum punya usulan" in text_of(await rina.say("/daftarku"))
    async with services.sessions() as session:
        assert (await session.exec(select(Proposal).where(Proposal.status != Status.DRAFT))).all() == []


async def test_a_wrong_nik_is_explained_in_indonesian_and_the_intake_goes_on(person: People):
    rina = await operator(person)
    await rina.say("/daftar")

    wrong = text_of(await rina.say("1217 0115 089"))
    assert "NIK belum bisa diterima" in wrong
    assert "NIK harus 16 angka" in wrong
    impossible = text_of(await rina.say("1217019908900001"))  # born on the 99th
    assert "Tanggal lahir di NIK" in impossible
    assert f"NIK {NIK} terbaca" in text_of(await rina.say(NIK))
    assert "15 Agustus 1990, laki-laki" in text_of(await rina.say("Budi Santoso"))


async def test_four_thousand_characters_and_emoji_are_answered(person: People):
    rina = await operator(person)
    assert "/bantuan" in text_of(await rina.say("x" * 4000))  # no intake open: how to start one
    await rina.say("/daftar")
    await rina.say(NIK)

    long = text_of(await rina.say("x" * 4000))
    assert "terlalu panjang" in long
    assert "2/6" in long
    emoji = text_of(await rina.say("Budi 🙂"))
    assert "hanya boleh berisi huruf" in emoji
    assert "🙂🙂🙂" not in emoji
    emojis = text_of(await rina.say("🙂" * 2000))
    assert "hanya boleh berisi huruf" in emojis or "terlalu panjang" in emojis
    assert "2/6" in emojis
    assert "3/6" in text_of(await rina.say("Budi Santoso"))


# --------------------------------------------------------------------------------------------- queries


async def test_daftarku_and_status_show_the_proposal_with_its_nik_masked(person: People):
    rina = await operator(person)
    await submit(rina)

    listing = text_of(await rina.say("/daftarku"))
    assert "U-00001 — BUDI SANTOSO" in listing
    assert "menunggu persetujuan camat" in listing
    status = text_of(await rina.say("/status U-00001"))
    assert "Usulan U-00001" in status
    assert "NIK: 1217••••••••0001" in status
    assert NIK not in listing + status
    assert "tidak ditemukan" in text_of(await rina.say("/status U-99999"))


# -------------------------------------------------------------------------------------------- approval


async def test_the_camat_gets_the_card_through_the_outbox_and_decides(person: People, services: Services):
    """On WhatsApp the camat has written first (their window is open); the template path is the e2e's."""
    jonson = person(CAMAT_PHONE)
    assert "Jonson Simbolon" in text_of(await jonson.onboard())
    rina = await operator(person)
    assert "Usulan U-00001 terkirim" in await submit(rina)

    await person.deliver_pending()
    card = await jonson.unread()
    assert "U-00001" in text_of(card)
    assert "BUDI SANTOSO" in text_of(card)
    assert "1217••••••••0001" in text_of(card)
    assert NIK not in text_of(card)
    assert {"✅ Setujui", "❌ Tolak", "↩️ Kembalikan"} <= set(choices_of(card))

    decided = text_of(await jonson.press("Setujui"))
    assert "Disetujui oleh Camat Jonson Simbolon" in decided
    async with services.sessions() as session:
        [proposal] = (await session.exec(select(Proposal))).all()
    assert proposal.status is Status.MENUNGGU_DINAS
    await person.deliver_pending()
    told = text_of(await rina.unread())
    assert "Usulan U-00001 (BUDI SANTOSO) disetujui Camat Jonson Simbolon" in told


async def test_the_queue_pages_opens_a_card_decides_and_goes_on(person: People, services: Services):
    """/antrian with 20 waiting: pages (lists on WhatsApp), a number opens the card, Setujui decides, and
    the next waiting one follows."""
    ids = await waiting(services, 20, warned={3})
    jonson = person(CAMAT_PHONE)
    await jonson.onboard()

    page = await jonson.say("/antrian")
    assert "20 usulan menunggu, 1 dengan peringatan" in text_of(page)
    assert "Halaman 1/3" in text_of(page)
    assert any("Setujui semua tanpa peringatan (19)" in label for label in choices_of(page))
    second = await jonson.press("Berikutnya")
    assert "Halaman 2/3" in text_of(second)
    assert "PEKERJA 009" in text_of(second)
    opened = await jonson.press(f"U-{ids[8]:05d}")
    assert f"Usulan U-{ids[8]:05d}" in text_of(opened)
    assert {"✅ Setujui", "❌ Tolak", "↩️ Kembalikan"} <= set(choices_of(opened))
    decided = await jonson.press("Setujui")
    assert "Disetujui oleh Camat Jonson Simbolon" in text_of(decided)
    assert any("Usulan berikutnya (19)" in label for label in choices_of(decided))
    following = await jonson.press("Usulan berikutnya")
    assert f"Usulan U-{ids[0]:05d}" in text_of(following)  # the oldest still waiting


async def test_return_fix_and_resubmit(person: People, services: Services):
    """Kembalikan (Nama, Alamat, a note) → the operator is told, presses Perbaiki, answers only those two,
    Kirim → back at the camat as a resubmission showing what changed."""
    jonson = person(CAMAT_PHONE)
    await jonson.onboard()
    rina = await operator(person)
    await submit(rina)
    await person.deliver_pending()
    await jonson.unread()

    await jonson.press("Kembalikan")
    assert "Pilih minimal satu" in text_of(await jonson.press("Lanjut"))
    await jonson.press("Nama")
    assert "Dipilih: Nama, Alamat" in text_of(await jonson.press("Alamat"))
    assert "memperbaiki: Nama, Alamat" in text_of(await jonson.press("Lanjut"))
    returned = text_of(await jonson.say("Nama sesuai KTP, RT salah"))
    assert "Dikembalikan oleh Camat Jonson Simbolon" in returned

    await person.deliver_pending()
    told = await rina.unread()
    assert "dikembalikan oleh Camat Jonson Simbolon" in text_of(told)
    assert "Yang harus diperbaiki: Nama, Alamat" in text_of(told)
    first = text_of(await rina.press("Perbaiki"))
    assert "isi ulang Nama, Alamat" in first
    assert "Catatan camat: Nama sesuai KTP, RT salah" in first
    assert "alamat" in text_of(await rina.say("Budi Santoso Sitanggang")).lower()
    summary = text_of(await rina.say("Dusun III, RT 004/RW 002"))
    assert "NIK: 1217••••••••0001" in summary  # a correction never shows the full NIK again
    assert NIK not in summary
    assert "Perbaikan usulan U-00001 terkirim" in text_of(await rina.press("Kirim"))

    await person.deliver_pending()
    again = text_of(await jonson.unread())
    assert "Diajukan ulang setelah dikembalikan (ke-1)" in again
    assert "Nama: BUDI SANTOSO → BUDI SANTOSO SITANGGANG" in again
    assert "Alamat: Dusun II, RT 002/RW 001 → Dusun III, RT 004/RW 002" in again


async def test_bulk_approval_confirms_the_count_and_skips_the_warned(person: People, services: Services):
    """ "Setujui semua tanpa peringatan": the confirmation states 5, Ya approves those 5, the warned wait."""
    ids = await waiting(services, 7, warned={1, 4})
    jonson = person(CAMAT_PHONE)
    await jonson.onboard()
    await jonson.say("/antrian")

    confirm = text_of(await jonson.press("Setujui semua"))
    assert "Setujui 5 usulan tanpa peringatan di Kec. Simanindo" in confirm
    assert "5 usulan disetujui" in text_of(await jonson.press("Ya, setujui 5 usulan"))

    async with services.sessions() as session:
        rows = (await session.exec(select(Proposal).order_by(Proposal.id))).all()
    approved, waiting_ = Status.MENUNGGU_DINAS, Status.MENUNGGU_CAMAT
    assert [p.id for p in rows] == ids
    assert [p.status for p in rows] == [approved, waiting_, approved, approved, waiting_, approved, approved]


async def test_the_dinas_reveals_the_nik_and_it_is_in_the_history(person: People, services: Services):
    """Lihat NIK shows the full NIK to the dinas (nowhere stored in clear), /riwayat records who saw it."""
    jonson, maria = person(CAMAT_PHONE), person(DINAS_PHONE)
    await jonson.onboard()
    await maria.onboard()
    rina = await operator(person)
    await submit(rina)
    await person.deliver_pending()
    await jonson.unread()
    await jonson.press("Setujui")
    await person.deliver_pending()
    card = await maria.unread()
    assert "Disetujui oleh Camat Jonson Simbolon" in text_of(card)
    assert NIK not in text_of(card)

    shown = text_of(await maria.press("Lihat NIK"))
    assert NIK in shown
    assert "tercatat di riwayat" in shown
    history = text_of(await rina.say("/riwayat U-00001"))
    assert "Diskopnaker Maria Naibaho: membuka NIK lengkap" in history
    assert "Camat Jonson Simbolon: menyetujui → menunggu verifikasi Diskopnaker" in history
    assert NIK not in history
    async with services.sessions() as session:
        stored = (await session.exec(select(OutboundMessage))).all()
    assert stored
    assert not any(NIK in m.text for m in stored)


# -------------------------------------------------------------------------------------- rekap, ekspor


async def test_rekap_for_the_dinas(person: People, services: Services):
    await seed_rekap(services)
    maria = person(DINAS_PHONE)
    await maria.onboard()

    text = text_of(await maria.say("/rekap"))

    assert "📊 Rekap LANJUTKAN 2026 — Kabupaten Samosir (per 24 November 2026)" in text
    assert "Usulan terkirim: 9" in text
    assert "• Simanindo: 3 / 1 / 2 / 1 / 0" in text
    assert "Kuota peserta baru 2026: 2 dari 320 terpakai, sisa 318." in text


async def test_ringkasan_with_the_chart_for_the_dinas(person: People, services: Services):
    """/ringkasan: the last seven days in words; the dinas also gets the chart, a PNG with its caption."""
    await seed_week(services)
    jonson = person(CAMAT_PHONE)
    await jonson.onboard()
    camat = await jonson.say("/ringkasan")
    assert "Ringkasan mingguan LANJUTKAN — Kec. Simanindo\n18–24 November 2026" in text_of(camat)
    week = "Dalam 7 hari itu: 1 usulan baru · 1 disetujui camat · 1 ditetapkan · 1 dikembalikan · 1 ditolak."
    assert week in text_of(camat)
    assert [s for s in camat if s.file is not None] == []

    maria = person(DINAS_PHONE)
    await maria.onboard()
    [chart] = [s for s in await maria.say("/ringkasan") if s.file is not None]
    assert chart.file is not None
    assert chart.file[1].startswith(b"\x89PNG")
    assert chart.text == "Usulan per kecamatan dan status, 24 November 2026."


async def test_ekspor_sends_the_file(person: People, services: Services):
    """BPJS: an XLSX that opens, the established only (the waiting one's NIK is not in it); the list of
    every proposal: a CSV without a full NIK. Each export is recorded with its channel."""
    await seed_exports(services)
    maria = person(DINAS_PHONE)
    await maria.onboard()

    asked = await maria.say("/ekspor")
    assert "File mana yang ingin diunduh?" in text_of(asked)
    [bpjs] = [s for s in await maria.press("BPJS") if s.file is not None]
    assert bpjs.file is not None
    name, content = bpjs.file
    assert name.startswith("bpjs-peserta-baru-2026-")
    assert name.endswith(".xlsx")
    assert "2 baris" in bpjs.text
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet is not None
    niks = {row[0].value for row in sheet.iter_rows(min_row=2)}
    assert niks == {NIK_TOMOK, NIK_PANGURURAN}  # established only
    assert NIK_WAITING.encode() not in content

    await maria.say("/ekspor")
    [usulan] = [s for s in await maria.press("Semua usulan") if s.file is not None]
    assert usulan.file is not None
    text = usulan.file[1].decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text), delimiter=";"))) == 4
    assert all(nik not in text for nik in (NIK_TOMOK, NIK_PANGURURAN, NIK_WAITING))
    assert not NIK_RE.search(text)

    async with services.sessions() as session:
        records = (await session.exec(select(ExportRecord).order_by(ExportRecord.id))).all()
    assert [(r.kind, r.rows, r.channel) for r in records] == [
        ("bpjs", 2, person.channel),
        ("usulan", 3, person.channel),
    ]


async def test_a_typed_reason_is_taken_as_typed(person: People, services: Services):
    """Tolak → Lainnya → a sentence: the proposal is rejected with that sentence as the reason."""
    jonson = person(CAMAT_PHONE)
    await jonson.onboard()
    rina = await operator(person)
    await submit(rina)
    await person.deliver_pending()
    await jonson.unread()

    await jonson.press("Tolak")
    assert "Tulis alasan penolakan" in text_of(await jonson.press("Lainnya"))
    done = text_of(await jonson.say("Yang bersangkutan pegawai kontrak di kantor desa"))

    assert "Ditolak oleh Camat Jonson Simbolon" in done
    assert "pegawai kontrak" in done


@pytest.mark.parametrize(
    "reason",
    [
        "Status pekerjaannya tidak jelas, bukan pekerja rentan",
        "Daftar ulang dengan data KK yang benar",
        "Bantuan lain sudah diterima dari desa",
    ],
)
async def test_a_typed_reason_starting_with_a_command_word_is_still_the_reason(
    person: People, services: Services, reason: str
):
    """Asked for a reason, the camat writes a sentence whose first word happens to name a command: it is
    the reason (on Telegram a command needs its slash; on WhatsApp commands are words)."""
    jonson = person(CAMAT_PHONE)
    await jonson.onboard()
    rina = await operator(person)
    await submit(rina)
    await person.deliver_pending()
    await jonson.unread()
    await jonson.press("Tolak")
    await jonson.press("Lainnya")

    done = text_of(await jonson.say(reason))

    assert "Ditolak oleh Camat Jonson Simbolon" in done
    assert reason.split()[1] in done
    async with services.sessions() as session:
        [proposal] = (await session.exec(select(Proposal))).all()
    assert proposal.status is Status.DITOLAK


# ------------------------------------------------------------------------ WhatsApp only: commands as words


async def test_on_whatsapp_a_command_is_a_word_without_its_slash(whatsapp: WhatsAppDriver):
    """WhatsApp has no command menu: "daftarku", "Status U-00001", "ekspor bpjs" and "BANTUAN" are the
    commands; a sentence beginning with such a word is text (see the typed reasons above)."""
    rina = whatsapp.person(OPERATOR_PHONE)
    await rina.onboard()
    await submit(rina)

    assert "U-00001 — BUDI SANTOSO" in text_of(await rina.say("daftarku"))
    assert "Usulan U-00001" in text_of(await rina.say("Status U-00001"))
    assert "/daftar" in text_of(await rina.say("BANTUAN"))
    assert "1/6" in text_of(await rina.say("Daftar"))
    assert "dibatalkan" in text_of(await rina.say("batal"))
    await rina.say("daftar")
    assert "dibatalkan" in text_of(await rina.say("Batal aja"))  # the way out, however it goes on
    assert "Usulan U-00001" not in text_of(await rina.say("status usulan saya bagaimana"))


# --------------------------------------------------------------------------------------- across channels


async def test_a_camat_on_both_channels_decides_on_whatsapp_and_the_telegram_card_shows_it(
    whatsapp: WhatsAppDriver, app: Any, fake_api: FakeBotApi, services: Services
):
    """Jonson uses both apps: the card reaches both, his Setujui on WhatsApp is written on the Telegram
    card too, and Rina (proposing on Telegram, also on WhatsApp) is told on both."""
    telegram = TelegramPeople(
        app, fake_api, Outbox(services, "telegram", TelegramCourier(app.bot), limits=FAST)
    )
    wa = WhatsAppPeople(whatsapp)
    await telegram(CAMAT_PHONE).onboard()
    await wa(CAMAT_PHONE).onboard()
    await telegram(OPERATOR_PHONE).onboard()
    await wa(OPERATOR_PHONE).onboard()
    await submit(telegram(OPERATOR_PHONE))
    await telegram.deliver_pending()
    await wa.deliver_pending()
    assert "Usulan U-00001" in text_of(await telegram(CAMAT_PHONE).unread())
    assert "Usulan U-00001" in text_of(await wa(CAMAT_PHONE).unread())

    assert "Disetujui oleh Camat Jonson Simbolon" in text_of(await wa(CAMAT_PHONE).press("Setujui"))
    await telegram.deliver_pending()
    await wa.deliver_pending()

    assert "Disetujui oleh Camat Jonson Simbolon" in text_of(await telegram(CAMAT_PHONE).unread())
    told = "Usulan U-00001 (BUDI SANTOSO) disetujui Camat Jonson Simbolon"
    assert told in text_of(await telegram(OPERATOR_PHONE).unread())
    assert told in text_of(await wa(OPERATOR_PHONE).unread())
