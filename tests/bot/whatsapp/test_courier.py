"""The WhatsApp courier against the fake Cloud API on loopback, through the real client of build_client
(rebased onto the fake's base URL): what the fake received, and Meta's errors sorted for the outbox."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from pywa_async import WhatsApp

from bot.channels.whatsapp.client import Rebased, build_client
from bot.channels.whatsapp.courier import WhatsAppCourier
from bot.channels.whatsapp.layout import MENU_PREFIX
from bot.channels.whatsapp.templates import OPEN_PAYLOAD, template_for
from handlers import texts
from handlers.messages import Button, Reply
from models.rules.categories import CATEGORIES
from scheduler.outbox import OutsideWindow, RetryLater, Undeliverable
from tests.fakewhatsapp import FakeWhatsApp, SentMessage

WARGA = "6281200000101"  # synthetic numbers
WARGA2 = "6281200000102"
STRANGER = "6281200000999"  # never wrote to the bot
PDF = b"%PDF-1.4\n% rekap usulan\n" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def fake() -> AsyncIterator[FakeWhatsApp]:
    async with FakeWhatsApp(enforce_window=False, hang_for=2.0) as server:
        yield server


def client_for(fake: FakeWhatsApp, *, token: str | None = None, timeout: float = 5.0) -> WhatsApp:
    return build_client(
        phone_id=fake.phone_id,
        token=token or fake.token,
        api_url=fake.base_url,
        app_secret=fake.app_secret,
        verify_token=fake.verify_token,
        timeout=timeout,
    )


@pytest.fixture
async def courier(fake: FakeWhatsApp) -> AsyncIterator[WhatsAppCourier]:
    client = client_for(fake)
    yield WhatsAppCourier(client)
    await client.api._session.aclose()


async def deliver(
    courier: WhatsAppCourier, chat: str, *replies: Reply, pressed: str | None = None
) -> list[str]:
    """Send a turn's replies as the direct path does: plan, then perform each part."""
    return [ref for part in courier.plan(replies, pressed) if (ref := await courier.perform(chat, part))]


def shape(message: SentMessage) -> tuple[str, str | None, str]:
    return message.type, message.interactive_type, message.text


# ------------------------------------------------------------------------------------- the client


async def test_text_reaches_phone_id_messages_under_api_url(
    fake: FakeWhatsApp, courier: WhatsAppCourier
) -> None:
    [ref] = await deliver(courier, WARGA, Reply("Usulan Anda sudah kami terima."))
    [message] = fake.messages_to(WARGA)
    assert (message.type, message.text, message.wamid) == ("text", "Usulan Anda sudah kami terima.", ref)
    assert message.payload["to"] == WARGA
    # the fake serves only /v23.0/{node}/messages and refuses another node than its phone id
    assert [(a.method, a.status) for a in fake.arrivals] == [("messages", 200)]


def test_rebased_transport_moves_pywa_urls_onto_api_url() -> None:
    proxy = Rebased("https://proxy.example/graph/v22.0/", httpx.AsyncHTTPTransport())
    moved = proxy.target(httpx.URL("https://graph.facebook.com/v23.0/106540352242922/media?x=1"))
    assert str(moved) == "https://proxy.example/graph/v22.0/106540352242922/media?x=1"
    local = Rebased("http://127.0.0.1:8081/v23.0", httpx.AsyncHTTPTransport())
    moved = local.target(httpx.URL("https://graph.facebook.com/v23.0/1/messages"))
    assert str(moved) == "http://127.0.0.1:8081/v23.0/1/messages"


# ------------------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("count", [2, 3])
async def test_few_choices_are_reply_buttons(
    fake: FakeWhatsApp, courier: WhatsAppCourier, count: int
) -> None:
    buttons = tuple((Button(f"Pilihan {i}", f"d:17:{i}"),) for i in range(count))
    await deliver(courier, WARGA, Reply("Setujui usulan 17?", buttons=buttons))
    [message] = fake.messages_to(WARGA)
    assert shape(message) == ("interactive", "button", "Setujui usulan 17?")
    assert message.buttons == [(f"d:17:{i}", f"Pilihan {i}") for i in range(count)]


async def test_the_eleven_categories_are_two_lists(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    rows = tuple((Button(c.label, f"i:tok:cat:{c.value}"),) for c in CATEGORIES)
    await deliver(courier, WARGA, Reply(texts.ASK_CATEGORY, buttons=rows))
    first, second = fake.messages_to(WARGA)
    assert [m.interactive_type for m in (first, second)] == ["list", "list"]
    assert first.text == texts.ASK_CATEGORY
    assert [len(first.rows), len(second.rows)] == [6, 5]
    assert [r.id for r in first.rows + second.rows] == [f"i:tok:cat:{c.value}" for c in CATEGORIES]
    assert [r.title for r in first.rows + second.rows] == [c.label for c in CATEGORIES]


async def test_a_label_over_20_characters_makes_a_list(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    long = "Pekerja sosial keagamaan di desa"  # 32 characters: no button title, a shortened row title
    await deliver(
        courier, WARGA, Reply("Pekerjaannya?", buttons=((Button(long, "c:1"), Button("Petani", "c:2")),))
    )
    [message] = fake.messages_to(WARGA)
    assert message.interactive_type == "list"
    first, second = message.rows
    assert (first.id, first.description) == ("c:1", long)
    assert len(first.title) <= 24
    assert (second.id, second.title, second.description) == ("c:2", "Petani", None)


async def test_a_text_over_4096_is_split(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    lines = [f"{i}. Usulan nomor {i} menunggu keputusan camat." for i in range(200)]
    text = "\n".join(lines)
    assert len(text) > 4096
    await deliver(courier, WARGA, Reply(text, buttons=((Button("Buka antrian", "q:new"),),)))
    *pieces, last = fake.messages_to(WARGA)
    assert all(m.type == "text" and len(m.text) <= 4096 for m in pieces)
    assert last.interactive_type == "button"
    assert "\n".join(m.text for m in [*pieces, last]).split("\n") == lines


async def test_a_document_is_uploaded_then_sent(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    await deliver(courier, WARGA, Reply("Rekap usulan minggu ini", document=("rekap.pdf", PDF)))
    [message] = fake.messages_to(WARGA)
    assert (message.type, message.filename, message.text) == (
        "document",
        "rekap.pdf",
        "Rekap usulan minggu ini",
    )
    assert message.content == PDF
    assert message.media is not None
    assert message.media.mime_type == "application/pdf"
    assert [a.method for a in fake.arrivals] == ["media", "messages"]


async def test_a_long_caption_goes_first_as_text(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    text = "Rincian. " * 200  # 1800 characters: over a caption's 1024
    await deliver(courier, WARGA, Reply(text, document=("rekap.xlsx", PDF)))
    first, document = fake.messages_to(WARGA)
    assert (first.type, first.text) == ("text", text)
    assert (document.type, document.text, document.content) == ("document", "", PDF)
    assert document.media is not None
    assert document.media.mime_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_a_photo_is_uploaded_then_sent_with_its_caption(
    fake: FakeWhatsApp, courier: WhatsAppCourier
) -> None:
    await deliver(courier, WARGA, Reply("Grafik mingguan", photo=PNG))
    [message] = fake.messages_to(WARGA)
    assert (message.type, message.text, message.content) == ("image", "Grafik mingguan", PNG)
    assert [a.method for a in fake.arrivals] == ["media", "messages"]


async def test_the_menu_is_a_list_of_prefixed_labels(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    await deliver(courier, WARGA, Reply("Selamat datang, Rina.", menu=texts.MENU_OPERATOR))
    [message] = fake.messages_to(WARGA)
    assert (message.interactive_type, message.text, message.list_button) == (
        "list",
        "Selamat datang, Rina.",
        "Menu",
    )
    labels = [label for row in texts.MENU_OPERATOR for label in row]
    assert [r.id for r in message.rows] == [MENU_PREFIX + label for label in labels]
    assert [r.title for r in message.rows] == labels


async def test_a_menu_after_own_buttons_is_its_own_list(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    reply = Reply("Usulan tersimpan.", buttons=((Button("Lihat", "o:3"),),), menu=texts.MENU_APPROVER)
    await deliver(courier, WARGA, reply)
    buttons, menu = fake.messages_to(WARGA)
    assert buttons.buttons == [("o:3", "Lihat")]
    assert menu.interactive_type == "list"
    assert [r.id for r in menu.rows] == [MENU_PREFIX + label for label in texts.MENU_APPROVER[0]]


async def test_menu_removal_and_contact_request_add_nothing(
    fake: FakeWhatsApp, courier: WhatsAppCourier
) -> None:
    await deliver(courier, WARGA, Reply("Sampai jumpa.", menu=(), ask_contact=True))
    assert [shape(m) for m in fake.messages_to(WARGA)] == [("text", None, "Sampai jumpa.")]


async def test_an_edit_is_a_new_message_and_earlier_changes_are_skipped(
    fake: FakeWhatsApp, courier: WhatsAppCourier
) -> None:
    [card] = await deliver(courier, WARGA, Reply("Usulan 17", buttons=((Button("Setujui", "d:17:ok"),),)))
    replies = [
        Reply("NIK 12********0001", target="wamid.earlier", edit=True),  # mask a read-back: cannot
        Reply("", target="wamid.typed", delete=True),  # remove a typed NIK: cannot
        Reply("✅ Disetujui.", edit=True, buttons=((Button("Berikutnya", "o:next"),),)),
    ]
    [outcome] = await deliver(courier, WARGA, *replies, pressed=card)
    await courier.edit(WARGA, card, Reply("✅ Disetujui oleh camat."))
    _, new, again = fake.messages_to(WARGA)
    assert (new.wamid, new.text, new.buttons) == (outcome, "✅ Disetujui.", [("o:next", "Berikutnya")])
    assert (again.type, again.text) == ("text", "✅ Disetujui oleh camat.")
    assert outcome != card


async def test_keep_hands_back_the_first_message(courier: WhatsAppCourier) -> None:
    parts = courier.plan([Reply("x" * 5000, keep="readback:1")], None)
    assert [p.keep for p in parts] == ["readback:1", None]
    assert not any(p.aside for p in parts)


async def test_send_returns_the_last_wamid(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    rows = tuple((Button(c.label, c.value),) for c in CATEGORIES)
    ref = await courier.send(WARGA, Reply("Pilih", buttons=rows))
    assert ref == fake.messages_to(WARGA)[-1].wamid
    assert len(fake.messages_to(WARGA)) == 2


async def test_send_template_outside_the_window() -> None:
    async with FakeWhatsApp() as windowed:  # the 24-hour window enforced: STRANGER never wrote
        client = client_for(windowed)
        try:
            ref = await WhatsAppCourier(client).send_template(STRANGER, purpose="card", count=3)
            other = await WhatsAppCourier(client).send_template(STRANGER, purpose="anything", count=1)
        finally:
            await client.api._session.aclose()
        card, generic = windowed.messages_to(STRANGER)
    assert card.wamid == ref
    assert generic.wamid == other
    assert (card.template_name, card.template_language, card.template_params) == (
        template_for("card").name,
        "id",
        ["3"],
    )
    assert generic.template_name == template_for("anything").name != card.template_name
    button = card.payload["template"]["components"][1]
    assert button["sub_type"] == "QUICK_REPLY"
    assert button["parameters"] == [{"type": "payload", "payload": OPEN_PAYLOAD}]


# ---------------------------------------------------------------------------------- resuming


async def test_a_plan_resumed_at_part_k_sends_the_same_rest(
    fake: FakeWhatsApp, courier: WhatsAppCourier
) -> None:
    replies = [
        Reply("Pembuka."),
        Reply("y " * 2500, buttons=tuple((Button(c.label, c.value),) for c in CATEGORIES)),
        Reply("Rekap", document=("rekap.pdf", PDF)),
        Reply("Selesai.", menu=texts.MENU_OPERATOR),
    ]
    whole = courier.plan(replies, "wamid.card")
    assert len(whole) == 6  # the opening text, a long text, two lists, the file, the menu
    await deliver(courier, WARGA, *replies, pressed="wamid.card")
    for k in range(len(whole)):
        again = courier.plan(replies, "wamid.card")
        assert again == whole
        await courier.perform(WARGA2, again[k])  # one part at a time, as the outbox resumes
    resumed, direct = fake.messages_to(WARGA2), fake.messages_to(WARGA)
    assert [seen(m) for m in resumed] == [seen(m) for m in direct]
    assert [m.type for m in direct] == [
        "text",
        "text",
        "interactive",
        "interactive",
        "document",
        "interactive",
    ]


def seen(message: SentMessage) -> tuple[object, ...]:
    """A message as the person sees it (media ids differ between two uploads of one file)."""
    return (
        message.type,
        message.interactive_type,
        message.text,
        message.buttons,
        message.rows,
        message.content,
    )


# ------------------------------------------------------------------------------------- errors


async def expect(courier: WhatsAppCourier, kind: type[Exception]) -> Exception:
    with pytest.raises(kind) as raised:
        await courier.send(WARGA, Reply("Pengumuman"))
    return raised.value


async def test_throughput_is_a_flood_retry(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    fake.per_second = 1
    await courier.send(WARGA2, Reply("satu"))
    error = await expect(courier, RetryLater)
    assert isinstance(error, RetryLater)
    assert (error.reason, error.retry_after, error.flood) == ("130429", 1.0, True)


async def test_pair_rate_retries_one_person_later(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    fake.pair_burst = 1
    await courier.send(WARGA, Reply("satu"))
    error = await expect(courier, RetryLater)
    assert isinstance(error, RetryLater)
    assert (error.reason, error.retry_after, error.flood) == ("131056", 6.0, False)
    await courier.send(WARGA2, Reply("lain orang"))


async def test_blocked_is_undeliverable(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    fake.block(WARGA)
    error = await expect(courier, Undeliverable)
    assert isinstance(error, Undeliverable)
    assert not isinstance(error, OutsideWindow)
    assert error.reason == "not_on_whatsapp"


async def test_outside_the_window_answered_at_once(fake: FakeWhatsApp, courier: WhatsAppCourier) -> None:
    fake.fail_next(1, status=400, code=131047)
    error = await expect(courier, OutsideWindow)
    assert isinstance(error, OutsideWindow)
    assert error.reason == "outside_window"


@pytest.mark.parametrize("code", [100, 131009, 131008])
async def test_a_refused_payload_is_undeliverable_and_logged_by_code(
    fake: FakeWhatsApp, courier: WhatsAppCourier, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    fake.fail_next(1, status=400, code=code)
    with caplog.at_level(logging.ERROR, logger="bot.channels.whatsapp"):
        error = await expect(courier, Undeliverable)
    assert isinstance(error, Undeliverable)
    assert error.reason == f"refused_{code}"
    assert str(code) in caplog.text
    assert WARGA not in caplog.text
    assert "Pengumuman" not in caplog.text


async def test_a_wrong_token_retries_and_says_so_without_the_token(
    fake: FakeWhatsApp, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "EAAwrongTokenForTheTest"
    client = client_for(fake, token=wrong)
    try:
        with caplog.at_level(logging.DEBUG):
            error = await expect(WhatsAppCourier(client), RetryLater)
    finally:
        await client.api._session.aclose()
    assert "WhatsApp refused WHATSAPP_TOKEN" in caplog.text
    assert wrong not in caplog.text
    assert fake.token not in caplog.text
    assert WARGA not in caplog.text
    assert isinstance(error, RetryLater)
    assert not error.flood
    assert fake.sent == []


@pytest.mark.parametrize(("status", "reason"), [(500, "131000"), (503, "131016"), (502, "2")])
async def test_server_errors_retry(
    fake: FakeWhatsApp, courier: WhatsAppCourier, status: int, reason: str
) -> None:
    fake.fail_next(1, status=status)
    error = await expect(courier, RetryLater)
    assert isinstance(error, RetryLater)
    assert error.reason == reason
    assert not error.flood
    await courier.send(WARGA, Reply("lagi"))
    assert [m.text for m in fake.messages_to(WARGA)] == ["lagi"]


async def test_a_timeout_retries(fake: FakeWhatsApp) -> None:
    client = client_for(fake, timeout=0.3)
    try:
        fake.time_out_next(1)
        error = await expect(WhatsAppCourier(client), RetryLater)
    finally:
        await client.api._session.aclose()
    assert isinstance(error, RetryLater)
    assert error.reason == "timeout"


async def test_a_closed_port_is_a_network_retry() -> None:
    async with FakeWhatsApp() as gone:
        url, token, phone = gone.base_url, gone.token, gone.phone_id
    client = build_client(phone_id=phone, token=token, api_url=url, timeout=1.0)
    try:
        error = await expect(WhatsAppCourier(client), RetryLater)
    finally:
        await client.api._session.aclose()
    assert isinstance(error, RetryLater)
    assert error.reason == "network"


async def test_outside_the_window_meta_mostly_accepts_then_reports() -> None:
    """Meta mostly accepts a free-form message outside the window and fails it by a status webhook: the
    courier sees a wamid; the failed status (131047) is the inbound side's to read."""
    async with FakeWhatsApp() as windowed:
        client = client_for(windowed)
        try:
            ref = await WhatsAppCourier(client).send(STRANGER, Reply("Masih ada yang kurang?"))
        finally:
            await client.api._session.aclose()
        [failed] = windowed.messages_to(STRANGER, failed=True)
        [status] = windowed.pending_statuses()
    assert (failed.wamid, failed.failed) == (ref, 131047)
    assert status.value["statuses"][0]["errors"][0]["code"] == 131047
