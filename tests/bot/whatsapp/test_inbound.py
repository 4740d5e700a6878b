"""WhatsApp webhooks in: each message of a delivery as the neutral message it means (pywa's types), and
the statuses apart. Built with the fake Cloud API's webhook builders, as Meta sends them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.channels.whatsapp.client import build_client
from bot.channels.whatsapp.inbound import split, to_inbound
from bot.channels.whatsapp.layout import MENU_PREFIX
from handlers import texts
from handlers.messages import Inbound, Kind
from tests.fakewhatsapp import FakeWhatsApp, Webhook

RINA = "6281200000101"


@pytest.fixture
def fake() -> FakeWhatsApp:
    return FakeWhatsApp()


@pytest.fixture
def client() -> Any:
    return build_client(phone_id="1", token="t", api_url="http://127.0.0.1:9/v23.0")


def one(client: Any, webhook: Webhook) -> Inbound | None:
    [(update_id, delivery)], statuses = split(json.loads(webhook.body))
    assert statuses == []
    assert update_id == webhook.message_id
    return to_inbound(client, update_id, delivery)


@pytest.mark.parametrize("typed", ["daftar", "/daftar", "Daftar", "  DAFTAR  "])
def test_commands_work_with_or_without_the_slash_in_any_case(fake, client, typed):
    inbound = one(client, fake.text_update(RINA, typed))
    assert inbound is not None
    assert (inbound.kind, inbound.command, inbound.text) == (Kind.COMMAND, "daftar", "")


def test_a_command_keeps_its_argument_and_other_text_stays_text(fake, client):
    status = one(client, fake.text_update(RINA, "status U-00042"))
    assert status is not None
    assert (status.kind, status.command, status.text) == (Kind.COMMAND, "status", "U-00042")
    name = one(client, fake.text_update(RINA, "Maruli Sitanggang"))
    assert name is not None
    assert (name.kind, name.text) == (Kind.TEXT, "Maruli Sitanggang")


def test_the_number_is_vouched_for_and_the_business_scoped_id_is_the_account(fake, client):
    inbound = one(client, fake.text_update(RINA, "halo"))
    assert inbound is not None
    assert inbound.user_id == fake.user_id_for(RINA)  # stable, whatever number it has later
    assert inbound.chat_id == RINA  # where to write
    assert inbound.verified_phone == "+" + RINA
    assert not inbound.phone_hidden
    assert inbound.channel == "whatsapp"


def test_a_username_without_a_number_is_never_vouched_for(fake, client):
    inbound = one(client, fake.username_text_update("ID.hidden001", "halo"))
    assert inbound is not None
    assert (inbound.user_id, inbound.chat_id, inbound.verified_phone) == (
        "ID.hidden001",
        "ID.hidden001",
        None,
    )
    assert inbound.phone_hidden


def test_button_and_list_presses_carry_their_id_and_the_message_pressed(fake, client):
    button = one(client, fake.button_reply(RINA, "a:1:ok", "Setujui", "wamid.CARD"))
    assert button is not None
    assert (button.kind, button.data, button.message_ref) == (Kind.BUTTON, "a:1:ok", "wamid.CARD")
    row = one(client, fake.list_reply(RINA, "i:ab:c:petani", "Petani", "wamid.LIST"))
    assert row is not None
    assert (row.kind, row.data, row.message_ref) == (Kind.BUTTON, "i:ab:c:petani", "wamid.LIST")


def test_a_menu_row_is_its_label_typed_and_a_template_answer_is_buka(fake, client):
    menu = one(client, fake.list_reply(RINA, MENU_PREFIX + texts.MENU_DAFTAR, "Daftarkan", "wamid.M"))
    assert menu is not None
    assert (menu.kind, menu.text) == (Kind.TEXT, texts.MENU_DAFTAR)
    answer = one(client, fake.quick_reply_from_template(RINA, "buka", "Buka", "wamid.T"))
    assert answer is not None
    assert (answer.kind, answer.command) == (Kind.COMMAND, "buka")


def test_what_cannot_be_read_is_answered_and_what_is_no_message_is_ignored(fake, client):
    sticker = one(client, fake.inbound(RINA, {"type": "sticker", "sticker": {"id": "1"}}))
    assert sticker is not None
    assert sticker.kind is Kind.OTHER  # "cannot read", never silence
    reaction = one(client, fake.inbound(RINA, {"type": "reaction", "reaction": {"emoji": "👍"}}))
    assert reaction is None


def test_a_delivery_of_several_messages_and_statuses_is_split(fake, client):
    first, second = fake.text_update(RINA, "satu"), fake.text_update("6281200000102", "dua")
    body = first.payload
    body["entry"][0]["changes"][0]["value"]["messages"] += second.value["messages"]
    body["entry"].append(second.payload["entry"][0])  # a second entry, Meta batches them too
    status = fake.status_update("wamid.SENT", "failed", to=RINA, error=131026).payload["entry"][0]
    body["entry"].append(status)
    messages, statuses = split(body)
    assert [update_id for update_id, _ in messages] == [
        first.message_id,
        second.message_id,
        second.message_id,
    ]
    assert [(s.message_id, s.failed, s.code) for s in statuses] == [("wamid.SENT", True, 131026)]
    texts_read = [to_inbound(client, i, d) for i, d in messages]
    assert [i.text for i in texts_read if i is not None] == ["satu", "dua", "dua"]


def test_anything_else_is_no_message(client):
    assert split({}) == ([], [])
    assert split({"entry": "x"}) == ([], [])
    assert split({"entry": [{"changes": [{"field": "account_update", "value": {}}]}]}) == ([], [])


def test_failure_reasons_read_for_the_dinas():
    assert texts.failure_reason("not_on_whatsapp") == "nomor itu tidak memakai WhatsApp"
    assert texts.failure_reason("refused_132001") == "ditolak WhatsApp (kode 132001)"
    assert texts.failure_reason("whatsapp_131000") == "gagal di WhatsApp (kode 131000)"
    assert texts.failure_reason(None) == "-"


def test_a_failure_reported_later_is_named_as_the_same_refusal_at_once():
    from bot.channels.whatsapp.courier import failure_reason

    assert failure_reason(131026) == "not_on_whatsapp"  # as sorted_errors names MessageUndeliverable
    assert failure_reason(131047) == "outside_window"
    assert failure_reason(131000) == "whatsapp_131000"
    assert failure_reason(None) == "whatsapp_failed"
