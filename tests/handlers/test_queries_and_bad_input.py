"""/daftarku, /status and everything people send that the bot did not ask for."""

from __future__ import annotations

from tests.conftest import CAMAT_PHONE, DINAS_PHONE, OPERATOR2_PHONE, OPERATOR_OTHER_PHONE, synthetic_nik
from tests.handlers.test_intake import NIK, fill_until_summary, operator, submit


async def test_daftarku_lists_the_officers_proposals_newest_first_with_masked_nik(chat):
    rina = await operator(chat)
    assert "belum punya usulan" in (await rina.say("/daftarku"))[-1].text
    await submit(rina, NIK, "Budi Santoso")
    await submit(rina, synthetic_nik(serial=2), "Sarma Gultom")
    await rina.say("/daftar")  # an open draft is not listed

    replies = await rina.say("📋 Usulan saya")  # the menu button sends this text
    listing = replies[0].text
    assert listing.index("U-00002 — SARMA GULTOM") < listing.index("U-00001 — BUDI SANTOSO")
    assert "menunggu persetujuan camat" in listing
    assert "Usulan Anda (2)" in listing
    assert "1/6" in replies[-1].text  # and the open draft's question comes back


async def test_status_shows_one_proposal_to_those_entitled_and_nobody_else(chat):
    rina = await operator(chat)
    await submit(rina)

    own = (await rina.say("/status U-00001"))[-1].text
    assert "Usulan U-00001" in own
    assert "NIK: 1217••••••••0001" in own
    assert NIK not in own
    assert "menunggu persetujuan camat" in own
    for spelling in ("u1", "#1", "U-1", "00001"):
        assert "Usulan U-00001" in (await rina.say(f"/status {spelling}"))[-1].text

    same_desa = await operator(chat, 1002, OPERATOR2_PHONE)
    assert "Usulan U-00001" in (await same_desa.say("/status U-00001"))[-1].text
    other_desa = await operator(chat, 1003, OPERATOR_OTHER_PHONE)
    assert "tidak ditemukan" in (await other_desa.say("/status U-00001"))[-1].text
    camat = chat(2001)
    await camat.onboard(CAMAT_PHONE)
    assert "Usulan U-00001" in (await camat.say("/status U-00001"))[-1].text
    dinas = chat(3001)
    await dinas.onboard(DINAS_PHONE)
    assert "Usulan U-00001" in (await dinas.say("/status U-00001"))[-1].text

    assert "misalnya /status U-00042" in (await rina.say("/status"))[-1].text
    for nonsense in ("U-99999", "abc", "🙂", "1" * 40):
        assert "tidak ditemukan" in (await rina.say(f"/status {nonsense}"))[-1].text


async def test_a_draft_is_not_visible_by_status(chat):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    replies = await rina.say("/status U-00001")
    assert "tidak ditemukan" in replies[0].text


async def test_only_operators_propose(chat, services):
    camat = chat(2001)
    await camat.onboard(CAMAT_PHONE)
    assert "diisi oleh operator" in (await camat.say("/daftar"))[-1].text
    assert "hanya untuk operator" in (await camat.say("/daftarku"))[-1].text


async def test_unknown_commands_and_stray_text_get_a_helpful_answer(chat):
    rina = await operator(chat)
    assert "/bantuan" in (await rina.say("/hapus_semua"))[-1].text
    assert "/bantuan" in (await rina.say("halo pak"))[-1].text
    assert "/daftar" in (await rina.say("/bantuan"))[-1].text
    assert "/bantuan" in (await rina.say("x" * 4000))[-1].text
    assert "teks dan tombol" in (await rina.sticker())[-1].text
    assert "sudah tidak berlaku" in (await rina.press_data("i:1:nik:x"))[-1].text


async def test_bad_input_mid_intake_keeps_the_conversation_going(chat, services):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)

    replies = await rina.sticker()
    assert "teks dan tombol" in replies[0].text
    assert "2/6" in replies[-1].text
    replies = await rina.say("x" * 4000)
    assert "terlalu panjang" in replies[0].text
    assert "2/6" in replies[-1].text
    replies = await rina.say("Budi 🙂")
    assert "hanya boleh berisi huruf" in replies[0].text
    replies = await rina.say("/perintah_aneh")
    assert "tidak saya kenal" in replies[0].text
    assert "2/6" in replies[-1].text
    replies = await rina.say("Budi Santoso")
    assert "3/6" in replies[-1].text
    replies = await rina.say("terserah")  # typed where buttons are expected
    assert "pilih salah satu tombol" in replies[0].text.lower()
    replies = await rina.say("ya")  # the obvious word works as the button
    assert "4/6" in replies[-1].text
    replies = await rina.say("7")  # a category by its number
    assert "5/6" in replies[-1].text


async def test_typed_kirim_works_like_the_button(chat, services):
    rina = await operator(chat)
    await fill_until_summary(rina)
    replies = await rina.say("kirim")
    assert "U-00001 terkirim" in replies[-1].text


async def test_start_during_an_intake_shows_where_it_stands(chat):
    rina = await operator(chat)
    await rina.say("/daftar")
    await rina.say(NIK)
    replies = await rina.say("/start")
    assert "Rina Sitohang" in replies[0].text
    assert "2/6" in replies[-1].text
