"""/siaran written once and run on Telegram and on WhatsApp (``tests.channels``): the dinas announces to
the operators of one kecamatan, one of whom blocked the bot; the camat cannot reach another kecamatan."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from handlers.context import Services
from models.tables import Announcement, Conversation, Delivery, OutboundMessage, ProgramAudit
from tests.channels import People, Person, TelegramPeople, TelegramPerson, text_of
from tests.conftest import CAMAT_PHONE, DINAS_PHONE, OPERATOR2_PHONE, OPERATOR_OTHER_PHONE, OPERATOR_PHONE
from tests.fakebotapi import FakeBotApi
from tests.handlers.test_both_channels import person  # noqa: F401  (the fixture: People of each channel)
from tests.whatsapp_driver import WhatsAppPeople, WhatsAppPerson, wa_id_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TEXT = "Mohon semua operator desa memperbarui data pekerja sebelum Jumat. Terima kasih 🙏"


def block(people: People, who: Person, fake_api: FakeBotApi) -> None:
    """``who`` blocked the bot: Telegram answers 403, WhatsApp 131026 (message undeliverable)."""
    if isinstance(who, TelegramPerson):
        fake_api.block(who.chat.user_id)
    else:
        assert isinstance(who, WhatsAppPerson)
        who.fake.block(who.wa_id)


async def deliver(people: People, *, blocked: Person) -> None:
    """The outbox sends what is due; on WhatsApp the calls refused are only those to ``blocked``."""
    if isinstance(people, TelegramPeople):
        await people.deliver_pending()
        return
    assert isinstance(people, WhatsAppPeople)
    driver = people.driver
    checked = driver.check_refusals

    def only_the_blocked_refused() -> None:
        new = driver.fake.arrivals[driver.checked :]
        driver.checked = len(driver.fake.arrivals)
        refused = {driver.fake.person(a.wa_id or "") for a in new if a.status != 200}
        assert refused <= {driver.fake.person(wa_id_of(blocked.phone))}, refused

    driver.check_refusals = only_the_blocked_refused  # type: ignore[method-assign]
    try:
        await people.deliver_pending()
    finally:
        driver.check_refusals = checked  # type: ignore[method-assign]


async def press_data(who: Person, data: str) -> str:
    """Press a button with any (forged) data, on the last message shown."""
    if isinstance(who, TelegramPerson):
        return "\n\n".join(m.text for m in await who.chat.press_data(data))
    assert isinstance(who, WhatsAppPerson)
    return "\n\n".join(m.text for m in await who.press_data(data))


async def rows(services: Services, table: Any) -> list[Any]:
    async with services.sessions() as session:
        return list((await session.exec(select(table))).all())


async def test_the_dinas_announces_to_a_kecamatans_operators_and_sees_the_blocked_one_failed(
    person: People,  # noqa: F811
    services: Services,
    fake_api: FakeBotApi,
):
    people = person
    maria, rina, tigor, lamria = (
        people(p) for p in (DINAS_PHONE, OPERATOR_PHONE, OPERATOR2_PHONE, OPERATOR_OTHER_PHONE)
    )
    for officer in (maria, rina, tigor, lamria):
        await officer.onboard()
        await officer.unread()
    block(people, tigor, fake_api)

    assert "Untuk siapa?" in text_of(await maria.say("/siaran"))
    await maria.press("Operator desa")
    await maria.press("Kec. Simanindo")
    preview = text_of(await maria.say(TEXT))
    channel = "Telegram" if people.channel == "telegram" else "WhatsApp"
    assert f"Akan dikirim ke 2 petugas: 2 lewat {channel}." in preview
    assert "Siaran dikirim ke 2 petugas" in text_of(await maria.press("Kirim"))

    await deliver(people, blocked=tigor)

    got = text_of(await rina.unread())
    assert "📢 Siaran dari Diskopnaker Maria Naibaho:" in got
    assert TEXT in got
    assert TEXT not in text_of(await lamria.unread())  # Pangururan: not addressed
    [announcement] = await rows(services, Announcement)
    messages = [m for m in await rows(services, OutboundMessage) if m.announcement_id == announcement.id]
    assert sorted(m.status for m in messages) == sorted([Delivery.SENT, Delivery.FAILED])
    counts = text_of(await maria.say("/siaran"))
    assert "operator desa, Kec. Simanindo, 2 petugas: 1 terkirim, 0 menunggu, 1 gagal" in counts
    [audit] = await rows(services, ProgramAudit)
    assert (audit.action, audit.subject) == ("announce", f"announcement:{announcement.id}")
    assert audit.detail == {"audience": "operator", "region": "12.17.01", "recipients": 2}


async def test_a_camat_cannot_address_another_kecamatan_even_with_a_forged_button(
    person: People,  # noqa: F811
    services: Services,
):
    jonson = person(CAMAT_PHONE)
    await jonson.onboard()
    await jonson.say("/siaran")
    shown = await jonson.press("Operator desa")
    assert "Kec. Pangururan" not in text_of(shown)
    [conversation] = await rows(services, Conversation)

    for region in ("12_17_08", "12_17_08_2001", "12_17"):
        refused = await press_data(jonson, f"s:{conversation.token}:region:{region}")
        assert "di luar wilayah Anda" in refused
    assert [(c.step, c.data) for c in await rows(services, Conversation)] == [("region", conversation.data)]
    assert "sudah tidak berlaku" in await press_data(jonson, "s:000000:region:12_17_01")
    assert await rows(services, Announcement) == []
