"""Edges of the intake: forged and stale presses, typed shortcuts, roster changes mid-way, failures."""

from __future__ import annotations

from sqlmodel import select

from models.rules.status import Role
from models.tables import Officer, Proposal
from tests.conftest import OPERATOR_PHONE, synthetic_nik
from tests.handlers.test_intake import NIK, fill_until_summary, operator, proposals


async def test_forged_button_values_get_a_clear_answer_never_the_failure_message(chat):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi")
    await rina.press("Benar")
    token = rina.last_with_buttons().buttons[0]["callback_data"].split(":")[1]
    for value in ("²", "١", "-1", "11", "9" * 30, "🙂"):
        replies = await rina.press_data(f"i:{token}:category:{value}")
        assert "sudah tidak berlaku" in replies[0].text, value
        assert "gangguan" not in " ".join(r.text for r in replies)
    assert "5/6" in (await rina.press("Buruh harian"))[-1].text


async def test_a_button_of_a_cancelled_draft_does_not_act_on_the_next_one(chat, services):
    rina = await operator(chat)
    old_summary = (await fill_until_summary(rina))[-1]
    await rina.say("/batal")
    await rina.say("/daftar")  # SQLite gives the new draft the id of the deleted one
    await rina.say(synthetic_nik(serial=9))

    replies = await rina.press("Kirim", old_summary)

    assert "sudah tidak berlaku" in replies[0].text
    assert [p.status.value for p in await proposals(services)] == ["draft"]


async def test_typed_words_do_what_the_buttons_do(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi")
    # at the birth-date question: a typed date or gender is the correction
    assert "16 Agustus 1990, laki-laki" in (await rina.say("16-08-1990"))[-1].text
    assert "16 Agustus 1990, perempuan" in (await rina.say("wanita"))[-1].text
    assert "Ketik tanggal lahir yang benar" in (await rina.say("salah"))[0].text
    await rina.say("benar")
    await rina.say("petani")
    await rina.say("Dusun III")
    await rina.say("lewati")
    await rina.say("ubah")
    await rina.say("alamat")
    summary = await rina.say("kembali")  # nothing changed: back to the summary
    assert "Alamat: Dusun III" in summary[-1].text
    assert summary[-1].button("Kirim")
    cancelled = await rina.say("batal")
    assert "dibatalkan" in cancelled[-1].text
    assert await proposals(services) == []


async def test_a_field_opened_from_the_summary_has_a_way_back(chat):
    rina = await operator(chat)
    await fill_until_summary(rina)
    await rina.press("Ubah")
    nik_question = await rina.press("NIK")
    assert nik_question[-1].button("Kembali ke ringkasan")
    summary = await rina.press("Kembali")
    assert f"NIK: {NIK}" in summary[-1].text


async def test_the_workers_contact_card_answers_the_phone_question(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    await rina.say("Budi")
    await rina.press("Benar")
    await rina.press("Petani")
    await rina.say("Dusun I")
    summary = await rina.share_contact("+62 812 0000 7777", contact_user_id=555)
    assert "No HP: 0812-0000-7777" in summary[-1].text


async def test_a_corrected_birth_date_counts_for_the_age(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)  # born 1990 by the NIK
    await rina.say("Budi")
    await rina.press("tanggal lahir")
    await rina.say("15-08-1950")  # Dukcapil corrected it; the NIK kept the old date
    replies = await rina.press("Benar")
    assert "Umurnya 76 tahun" in replies[0].text
    assert "3/6" in replies[-1].text  # still at the birth-date question


async def test_an_officer_moved_off_the_desa_loses_the_open_draft(chat, services):
    rina = await operator(chat)
    await fill_until_summary(rina)
    async with services.sessions() as session:
        officer = (await session.exec(select(Officer).where(Officer.phone == OPERATOR_PHONE))).one()
        officer.role, officer.region_code = Role.CAMAT, "12.17.01"
        session.add(officer)
        await session.commit()

    replies = await rina.press("Kirim")

    assert "tidak lagi operator desa itu" in replies[0].text
    async with services.sessions() as session:
        assert (await session.exec(select(Proposal))).all() == []


async def test_a_failure_says_so_and_puts_the_question_back(chat, monkeypatch):
    import handlers.intake

    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)

    def broken(text: str) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(handlers.intake, "clean_name", broken)
    replies = await rina.say("Budi")
    assert "terjadi gangguan" in replies[0].text
    assert "2/6" in replies[-1].text  # the question again, so there is something to answer
    monkeypatch.undo()
    assert "3/6" in (await rina.say("Budi"))[-1].text
