"""Onboarding through the real PTB Application: only the sender's own number on the roster binds."""

from __future__ import annotations

from sqlmodel import select

from models.tables import ChatAccount
from tests.conftest import CAMAT_PHONE, DINAS_PHONE, OPERATOR_PHONE


async def test_start_from_unknown_user_asks_for_their_phone_number(chat):
    replies = await chat(1001).say("/start")

    assert len(replies) == 1
    keyboard = replies[0].reply_markup["keyboard"]
    assert keyboard[0][0]["request_contact"] is True
    assert "Bagikan nomor HP" in replies[0].text


async def test_own_contact_on_roster_binds_and_shows_role_commands(chat, services):
    rina = chat(1001)
    await rina.say("/start")
    replies = await rina.share_contact("0812-0000-0101")  # roster has +6281200000101

    text = replies[-1].text
    assert "Rina Sitohang" in text
    assert "operator desa/kelurahan — Desa Tomok, Kec. Simanindo" in text
    assert "/daftar" in text
    assert replies[-1].reply_markup["keyboard"][0][0]["text"] == "📝 Daftarkan pekerja"
    async with services.sessions() as session:
        account = (await session.exec(select(ChatAccount))).one()
    assert (account.channel, account.external_id, account.officer_id is not None) == (
        "telegram",
        "1001",
        True,
    )


async def test_someone_elses_contact_is_refused(chat, services):
    mallory = chat(1002)
    await mallory.say("/start")
    replies = await mallory.share_contact(OPERATOR_PHONE, contact_user_id=1001)

    assert "nomor Anda sendiri" in replies[-1].text
    async with services.sessions() as session:
        assert (await session.exec(select(ChatAccount))).all() == []
    # and they still cannot do anything else
    replies = await mallory.say("/daftar")
    assert "belum terdaftar" in replies[-1].text


async def test_number_not_on_roster_gets_polite_refusal_naming_whom_to_ask(chat):
    stranger = chat(1003)
    await stranger.say("/start")
    replies = await stranger.share_contact("+62 813 9999 0000")

    assert "belum terdaftar" in replies[-1].text
    assert "admin Diskopnaker Kabupaten Samosir" in replies[-1].text
    assert "0813-9999-0000" in replies[-1].text


async def test_unbound_user_can_do_nothing_but_share_contact(chat):
    # One stranger each: a second message within LANJUTKAN_UNBOUND_REPLY_INTERVAL gets no answer.
    for i, text in enumerate(("/daftar", "/daftarku", "/status U-00001", "halo", "3201011508950001")):
        replies = await chat(1004 + 100 * i).say(text)
        assert replies[-1].reply_markup["keyboard"][0][0]["request_contact"] is True, text


async def test_camat_and_dinas_see_their_own_commands(chat):
    camat = await chat(2001).onboard(CAMAT_PHONE)
    assert "camat — Kec. Simanindo" in camat[-1].text
    assert "/daftar " not in camat[-1].text
    dinas = await chat(3001).onboard(DINAS_PHONE)
    assert "Diskopnaker — Kabupaten Samosir" in dinas[-1].text


async def test_officer_on_a_new_phone_account_moves_the_binding(chat, services):
    await chat(1001).onboard(OPERATOR_PHONE)
    await chat(1010).onboard(OPERATOR_PHONE)  # same officer, new Telegram account

    async with services.sessions() as session:
        accounts = {a.external_id: a.officer_id for a in (await session.exec(select(ChatAccount))).all()}
    assert accounts["1001"] is None
    assert accounts["1010"] is not None
    replies = await chat(1001).say("/daftar")
    assert "belum terdaftar" in replies[-1].text
