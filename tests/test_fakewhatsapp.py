"""The fake WhatsApp Cloud API, driven through pywa_async's real client over loopback HTTP (no mocks).

Each test starts its own fake and client; none waits on the fake's limits (small bursts and intervals
instead), so the file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pywa_async import WhatsApp, errors, handlers, types
from pywa_async.types.templates import (
    BodyText,
    Buttons,
    QuickReplyButton,
    Template,
    TemplateCategory,
    TemplateLanguage,
)

from tests.fakewhatsapp import DAY, FakeWhatsApp, Webhook

WARGA = "6281200000101"  # synthetic numbers, like the conftest's roster
WARGA2 = "6281200000102"
STRANGER = "6281200000999"  # never wrote to the bot
PDF = b"%PDF-1.4\n% laporan mingguan\n" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Clock:
    """The wall clock the fake reads for timestamps and the 24-hour window, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp(clock=clock, hang_for=2.0) as server:
        yield server


def client(fake: FakeWhatsApp, *, token: str | None = None, timeout: float = 5.0) -> WhatsApp:
    return WhatsApp(
        phone_id=fake.phone_id,
        token=token or fake.token,
        session=fake.session(timeout=timeout),
        api_version=fake.api_version,
        waba_id=fake.waba_id,
        app_secret=fake.app_secret,
        verify_token=fake.verify_token,
    )


@pytest.fixture
async def wa(fake: FakeWhatsApp) -> AsyncIterator[WhatsApp]:
    whatsapp = client(fake)
    yield whatsapp
    await whatsapp.api._session.aclose()


def wrote(fake: FakeWhatsApp, *wa_ids: str) -> None:
    """The people write first: their 24-hour window is open."""
    for wa_id in wa_ids:
        fake.text_update(wa_id, "halo")


# ------------------------------------------------------------------------------------- what is sent


async def test_text_reaches_the_fake_under_the_versioned_path(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    wrote(fake, WARGA)
    sent = await wa.send_message(WARGA, "Usulan Anda sudah kami terima.")
    assert sent.id.startswith("wamid.")
    assert len(sent.id) > 50
    assert sent.chat.id == WARGA
    [message] = fake.messages_to(WARGA)
    assert (message.type, message.text, message.wamid) == ("text", "Usulan Anda sudah kami terima.", sent.id)
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/v23.0"
    assert [(a.method, a.wa_id, a.status, a.code) for a in fake.arrivals] == [("messages", WARGA, 200, None)]


async def test_reply_buttons_and_list_are_recorded(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    wrote(fake, WARGA)
    buttons = [types.Button("Setujui", "ok:17"), types.Button("Tolak", "no:17")]
    await wa.send_message(WARGA, "Setujui usulan 17?", header="Usulan", footer="LANJUTKAN", buttons=buttons)
    rows = [types.SectionRow("Tomok", "desa:1", "Kec. Simanindo"), types.SectionRow("Ambarita", "desa:2")]
    more = [types.SectionRow("Pangururan", "desa:3", "Kec. Pangururan")]
    sections = types.SectionList(
        "Pilih desa", [types.Section("Simanindo", rows), types.Section("Lain", more)]
    )
    await wa.send_message(WARGA, "Desa mana?", buttons=sections)
    with_buttons, with_list = fake.messages_to(WARGA)
    assert (with_buttons.interactive_type, with_buttons.text) == ("button", "Setujui usulan 17?")
    assert (with_buttons.header, with_buttons.footer) == ("Usulan", "LANJUTKAN")
    assert with_buttons.buttons == [("ok:17", "Setujui"), ("no:17", "Tolak")]
    assert with_buttons.button("tolak").id == "no:17"
    assert (with_list.interactive_type, with_list.list_button) == ("list", "Pilih desa")
    assert with_list.rows == [
        ("desa:1", "Tomok", "Kec. Simanindo"),
        ("desa:2", "Ambarita", None),
        ("desa:3", "Pangururan", "Kec. Pangururan"),
    ]


async def test_document_is_uploaded_then_sent_and_its_bytes_kept(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    wrote(fake, WARGA)
    await wa.send_document(
        WARGA, PDF, filename="rekap.pdf", caption="Rekap minggu ini", mime_type="application/pdf"
    )
    [message] = fake.messages_to(WARGA)
    assert (message.type, message.filename, message.text) == ("document", "rekap.pdf", "Rekap minggu ini")
    assert message.content == PDF
    assert message.media is not None
    assert message.media.mime_type == "application/pdf"
    assert [a.method for a in fake.arrivals] == ["media", "messages"]


async def test_image_by_upload_and_by_link(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    wrote(fake, WARGA)
    await wa.send_image(WARGA, PNG, caption="Grafik", mime_type="image/png")
    await wa.send_image(WARGA, "https://example.org/grafik.png")
    await wa.send_image(
        WARGA, PNG, caption="Setujui?", buttons=[types.Button("Ya", "y")], mime_type="image/png"
    )
    uploaded, linked, with_buttons = fake.messages_to(WARGA)
    assert (uploaded.type, uploaded.text, uploaded.content) == ("image", "Grafik", PNG)
    assert (linked.link, linked.content) == ("https://example.org/grafik.png", None)
    assert (with_buttons.type, with_buttons.text, with_buttons.content) == ("interactive", "Setujui?", PNG)
    assert with_buttons.buttons == [("y", "Ya")]


async def test_template_created_and_sent(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.known_templates_only = True
    body = BodyText("Halo {{1}}, usulan {{2}} menunggu persetujuan.", "Rina", "17")
    template = Template(
        name="usulan_menunggu",
        category=TemplateCategory.UTILITY,
        language=TemplateLanguage.INDONESIAN,
        components=[body, Buttons(buttons=[QuickReplyButton(text="Buka")])],
    )
    created = await wa.create_template(template)
    assert created.id in {t["id"] for t in fake.templates.values()}
    assert fake.templates[("usulan_menunggu", "id")]["category"] == "UTILITY"
    sent = await wa.send_template(
        STRANGER,
        name="usulan_menunggu",
        language=TemplateLanguage.INDONESIAN,
        params=[body.params("Rina", "17")],  # type: ignore[arg-type]  # pywa types `params` without self
    )
    assert sent.status is not None
    [message] = fake.messages_to(STRANGER)  # delivered though the person never wrote
    assert (message.template_name, message.template_language, message.template_params) == (
        "usulan_menunggu",
        "id",
        ["Rina", "17"],
    )
    with pytest.raises(errors.TemplateNotExists):
        await wa.send_template(STRANGER, name="tidak_ada", language=TemplateLanguage.INDONESIAN)


async def test_mark_as_read_and_typing(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    update = fake.text_update(WARGA, "halo")
    await wa.mark_message_as_read(update.message_id)
    await wa.indicate_typing(update.message_id)
    assert fake.read == [update.message_id, update.message_id]
    assert fake.typing == [update.message_id]
    assert fake.sent == []


async def test_sending_to_a_business_scoped_user_id(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.username_text_update("ID.4242424242", "halo", username="@rina")
    sent = await wa.send_message("ID.4242424242", "Halo Rina")
    assert sent.chat.id == "ID.4242424242"
    assert [m.text for m in fake.messages_to("ID.4242424242")] == ["Halo Rina"]


# --------------------------------------------------------------------------- what Meta refuses


@pytest.mark.parametrize(
    ("buttons", "details"),
    [
        ([types.Button(f"Pilihan {i}", f"p:{i}") for i in range(4)], "buttons count"),
        ([types.Button("x" * 21, "p:1")], "Button title length"),
        ([types.Button("Ya", "i" * 257)], "Button id length"),
    ],
)
async def test_reply_buttons_beyond_meta_limits(
    fake: FakeWhatsApp, wa: WhatsApp, buttons: list[types.Button], details: str
) -> None:
    wrote(fake, WARGA)
    with pytest.raises(errors.InvalidParameter) as raised:
        await wa.send_message(WARGA, "Pilih", buttons=buttons)
    assert raised.value.code == 131009
    assert raised.value.status_code == 400
    assert details in (raised.value.details or "")
    assert fake.sent == []
    assert [a.code for a in fake.arrivals] == [131009]


@pytest.mark.parametrize(
    ("sections", "details"),
    [
        ([types.Section("A", [types.SectionRow(f"Desa {i}", f"d:{i}") for i in range(11)])], "rows count"),
        ([types.Section("A", [types.SectionRow("x" * 25, "d:1")])], "Row title length"),
        ([types.Section("A", [types.SectionRow("Tomok", "d:1", "y" * 73)])], "Row description length"),
        ([types.Section("s" * 25, [types.SectionRow("Tomok", "d:1")])], "Section title length"),
    ],
)
async def test_lists_beyond_meta_limits(
    fake: FakeWhatsApp, wa: WhatsApp, sections: list[types.Section], details: str
) -> None:
    wrote(fake, WARGA)
    with pytest.raises(errors.InvalidParameter) as raised:
        await wa.send_message(WARGA, "Pilih", buttons=types.SectionList("Pilih", sections))
    assert details in (raised.value.details or "")
    assert fake.sent == []


async def test_list_button_text_and_empty_list(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    wrote(fake, WARGA)
    section = types.Section("A", [types.SectionRow("Tomok", "d:1")])
    with pytest.raises(errors.InvalidParameter, match="Button text length"):
        await wa.send_message(WARGA, "Pilih", buttons=types.SectionList("b" * 21, [section]))
    with pytest.raises(errors.InvalidParameter, match="sections count"):
        await wa.send_message(WARGA, "Pilih", buttons=types.SectionList("Pilih", []))
    await wa.send_message(WARGA, "Pilih", buttons=types.SectionList("b" * 20, [section]))
    assert len(fake.messages_to(WARGA)) == 1


async def test_text_and_button_body_lengths(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    wrote(fake, WARGA)
    await wa.send_message(WARGA, "x" * 4096)
    with pytest.raises(errors.InvalidParameter):
        await wa.send_message(WARGA, "x" * 4097)
    with pytest.raises(errors.InvalidParameter):
        await wa.send_message(WARGA, "x" * 1025, buttons=[types.Button("Ya", "y")])
    assert len(fake.messages_to(WARGA)) == 1


async def test_wrong_or_missing_token_is_oauth_190(fake: FakeWhatsApp) -> None:
    wrong = client(fake, token="EAAwrong")
    try:
        with pytest.raises(errors.ExpiredAccessToken) as raised:
            await wrong.send_message(WARGA, "halo")
    finally:
        await wrong.api._session.aclose()
    assert raised.value.status_code == 401
    assert raised.value.type == "OAuthException"
    async with httpx.AsyncClient() as plain:  # no Authorization header at all
        answer = await plain.post(f"{fake.base_url}/{fake.phone_id}/messages", json={})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == 190
    assert fake.sent == []
    assert [a.status for a in fake.arrivals] == [401, 401]


async def test_throughput_beyond_per_second_is_130429(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.per_second = 3
    people = [f"62812000002{i:02d}" for i in range(4)]
    wrote(fake, *people)
    for person in people[:3]:
        await wa.send_message(person, "Pengumuman")
    with pytest.raises(errors.RateLimitHit) as raised:
        await wa.send_message(people[3], "Pengumuman")
    assert raised.value.code == 130429
    assert len(fake.sent) == 3
    assert len(fake.refused(130429)) == 1


async def test_pair_rate_is_131056_and_recovers(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.pair_burst, fake.pair_interval = 2, 1.0
    wrote(fake, WARGA, WARGA2)
    await wa.send_message(WARGA, "satu")
    await wa.send_message(WARGA, "dua")
    with pytest.raises(errors.TooManyMessages):
        await wa.send_message(WARGA, "tiga")
    await wa.send_message(WARGA2, "lain orang, lain hitungan")
    await asyncio.sleep(1.0)  # one message's worth of the interval
    await wa.send_message(WARGA, "tiga")
    assert [m.text for m in fake.messages_to(WARGA)] == ["satu", "dua", "tiga"]
    assert [a.code for a in fake.arrivals if a.wa_id == WARGA] == [None, None, 131056, None]


async def test_blocked_person_is_131026(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    wrote(fake, WARGA, WARGA2)
    fake.block(WARGA)
    with pytest.raises(errors.MessageUndeliverable):
        await wa.send_message(WARGA, "halo")
    fake.block(WARGA2, via_webhook=True)  # as Meta mostly does: accepted, then a failed status
    sent = await wa.send_message(WARGA2, "halo")
    [status] = fake.pending_statuses()
    failed = status.value["statuses"][0]
    assert (failed["id"], failed["status"], failed["errors"][0]["code"]) == (sent.id, "failed", 131026)
    assert fake.messages_to(WARGA2) == []
    assert len(fake.messages_to(WARGA2, failed=True)) == 1


# ----------------------------------------------------------------------- the 24-hour window


async def test_free_form_outside_the_window_fails_by_status_webhook(
    fake: FakeWhatsApp, wa: WhatsApp, clock: Clock
) -> None:
    fake.last_inbound[WARGA] = clock.now - DAY - 60  # wrote yesterday, 24 h and a minute ago
    sent = await wa.send_message(WARGA, "Masih ada yang kurang?")  # accepted...
    assert sent.id.startswith("wamid.")
    assert fake.messages_to(WARGA) == []  # ...but never delivered
    [message] = fake.messages_to(WARGA, failed=True)
    assert (message.wamid, message.failed) == (sent.id, 131047)
    [status] = fake.pending_statuses()
    assert fake.pending_statuses() == []

    seen: list[types.MessageStatus] = []
    wa.add_handlers(handlers.MessageStatusHandler(lambda _, update: seen.append(update)))
    assert await wa.webhook_update_validator(status.body, status.headers["X-Hub-Signature-256"]) is None
    assert await wa.webhook_update_handler(status.body) == ("ok", 200)
    [update] = seen
    assert (update.id, update.status) == (sent.id, types.MessageStatusType.FAILED)
    assert isinstance(update.error, errors.ReEngagementMessage)
    assert (update.from_user.wa_id, update.from_user.bsuid) == (WARGA, fake.user_id_for(WARGA))


async def test_window_opens_with_a_message_and_closes_after_a_day(
    fake: FakeWhatsApp, wa: WhatsApp, clock: Clock
) -> None:
    await wa.send_message(STRANGER, "halo")  # never wrote
    fake.text_update(STRANGER, "halo juga")
    clock.now += DAY - 60
    await wa.send_message(STRANGER, "masih dalam 24 jam")
    clock.now += 120
    await wa.send_message(STRANGER, "sudah lewat")
    await wa.send_template(STRANGER, name="pengingat", language=TemplateLanguage.INDONESIAN)
    assert [m.type for m in fake.messages_to(STRANGER)] == ["text", "template"]
    assert [m.text for m in fake.messages_to(STRANGER, failed=True)] == ["halo", "sudah lewat"]
    assert [s.value["statuses"][0]["errors"][0]["code"] for s in fake.pending_statuses()] == [131047, 131047]


# ------------------------------------------------------------------------------ faults


async def test_fail_next_and_time_out_next(fake: FakeWhatsApp) -> None:
    wa = client(fake, timeout=0.3)
    try:
        wrote(fake, WARGA)
        fake.fail_next(1)
        with pytest.raises(errors.UnknownError) as raised:
            await wa.send_message(WARGA, "satu")
        assert raised.value.status_code == 500
        assert raised.value.is_transient
        fake.fail_next(1, status=503, wa_id=WARGA)
        with pytest.raises(errors.ServiceUnavailable):
            await wa.send_message(WARGA, "satu")
        fake.time_out_next(1)
        with pytest.raises(httpx.TimeoutException):
            await wa.send_message(WARGA, "hilang di jalan")
        fake.time_out_next(1, delivered=True)
        with pytest.raises(httpx.TimeoutException):
            await wa.send_message(WARGA, "jawaban hilang")
        await wa.send_message(WARGA, "dua")
    finally:
        await wa.api._session.aclose()
    assert [m.text for m in fake.messages_to(WARGA)] == ["jawaban hilang", "dua"]
    assert [a.status for a in fake.arrivals] == [500, 503, 0, 200, 200]


async def test_inject_faults_is_seeded(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.hang_for = 0.05  # the client (5 s) gets the late 504 instead of giving up
    fake.pair_burst = 100
    wrote(fake, WARGA)
    faults = fake.inject_faults(0.5, seed=7)
    assert faults is not None
    outcomes = []
    for i in range(20):
        try:
            await wa.send_message(WARGA, f"pesan {i}")
            outcomes.append("ok")
        except errors.WhatsAppError as error:
            outcomes.append(str(error.code))
    assert sum(faults.injected.values()) == 20 - outcomes.count("ok")  # every injected fault is an error
    assert {"130429", "131000"} & set(outcomes)
    again = fake.inject_faults(0.5, seed=7)
    assert again is not None
    assert again.rng.random() == random.Random(7).random()
    delivered = len(fake.messages_to(WARGA))
    assert delivered == outcomes.count("ok") + faults.injected["lost_answer"]


# ------------------------------------------------------------------------------ webhooks


async def test_pywa_checks_the_fakes_signature(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    update = fake.text_update(WARGA, "halo")
    signature = update.headers["X-Hub-Signature-256"]
    assert signature.startswith("sha256=")
    assert fake.sign(update.body) == signature
    assert await wa.webhook_update_validator(update.body, signature) is None
    forged = fake.forged(update)
    assert await wa.webhook_update_validator(forged.body, forged.headers["X-Hub-Signature-256"]) == (
        "Forbidden",
        403,
    )
    missing = fake.forged(update, missing=True)
    assert "X-Hub-Signature-256" not in missing.headers
    assert await wa.webhook_update_validator(missing.body, None) == ("Unauthorized", 401)


async def test_verify_challenge(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    query = fake.verify_challenge()
    assert query["hub.mode"] == "subscribe"
    answer = await wa.webhook_challenge_handler(query["hub.verify_token"], query["hub.challenge"])
    assert answer == (query["hub.challenge"], 200)
    wrong = fake.verify_challenge(verify_token="salah")
    assert await wa.webhook_challenge_handler(wrong["hub.verify_token"], wrong["hub.challenge"]) == (
        "Forbidden",
        403,
    )


async def handled(wa: WhatsApp, *updates: Webhook) -> list[Any]:
    """Feed signed updates to pywa as its webhook route would; what its handlers received."""
    seen: list[Any] = []
    wa.add_handlers(
        handlers.MessageHandler(lambda _, update: seen.append(update)),
        handlers.CallbackButtonHandler(lambda _, update: seen.append(update)),
        handlers.CallbackSelectionHandler(lambda _, update: seen.append(update)),
    )
    for update in updates:
        assert await wa.webhook_update_validator(update.body, update.headers["X-Hub-Signature-256"]) is None
        assert await wa.webhook_update_handler(update.body) == ("ok", 200)
    return seen


async def test_pywa_parses_the_fakes_updates(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    wrote(fake, WARGA)
    question = await wa.send_message(WARGA, "Setujui?", buttons=[types.Button("Setujui", "ok:17")])
    menu = await wa.send_message(
        WARGA,
        "Desa?",
        buttons=types.SectionList("Pilih", [types.Section("A", [types.SectionRow("Tomok", "d:1")])]),
    )
    [buttons, _] = fake.messages_to(WARGA)
    text = fake.text_update(WARGA, "Daftar", name="Rina Sitohang")
    press = fake.press(WARGA, buttons, "setuju")
    pick = fake.list_reply(WARGA, "d:1", "Tomok", menu.id)
    quick = fake.quick_reply_from_template(WARGA, "buka:17", "Buka", "wamid.template")
    hidden = fake.username_text_update("ID.77777", "halo", username="@rina")
    message, button, selection, quick_reply, by_username = await handled(wa, text, press, pick, quick, hidden)

    assert isinstance(message, types.Message)
    assert message.text == "Daftar"
    assert (message.from_user.wa_id, message.from_user.bsuid) == (WARGA, fake.user_id_for(WARGA))
    assert message.from_user.name == "Rina Sitohang"
    assert message.id == text.message_id
    assert isinstance(button, types.CallbackButton)
    assert button.reply_to_message is not None
    assert (button.data, button.title, button.reply_to_message.id) == ("ok:17", "Setujui", question.id)
    assert isinstance(selection, types.CallbackSelection)
    assert (selection.data, selection.title) == (
        "d:1",
        "Tomok",
    )
    assert isinstance(quick_reply, types.CallbackButton)
    assert quick_reply.is_quick_reply
    assert quick_reply.data == "buka:17"
    assert isinstance(by_username, types.Message)
    assert by_username.from_user.wa_id is None
    assert (by_username.from_user.bsuid, by_username.from_user.username) == ("ID.77777", "@rina")
    assert by_username.chat.id == "ID.77777"
    ids = [u.message_id for u in (text, press, pick, quick, hidden)]
    assert len(set(ids)) == 5
    assert all(i.startswith("wamid.") for i in ids)
    assert text.value["messages"][0]["timestamp"].isdigit()


async def test_status_webhooks_sent_and_delivered(fake: FakeWhatsApp, wa: WhatsApp) -> None:
    fake.report_delivery = True
    wrote(fake, WARGA)
    sent = await wa.send_message(WARGA, "halo")
    statuses = fake.pending_statuses()
    assert [s.value["statuses"][0]["status"] for s in statuses] == ["sent", "delivered"]
    seen: list[types.MessageStatus] = []
    wa.add_handlers(handlers.MessageStatusHandler(lambda _, update: seen.append(update)))
    for status in statuses:
        await wa.webhook_update_handler(status.body)
    assert [(s.id, s.status) for s in seen] == [
        (sent.id, types.MessageStatusType.SENT),
        (sent.id, types.MessageStatusType.DELIVERED),
    ]
