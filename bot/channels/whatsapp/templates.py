"""The project's WhatsApp message templates: outside a person's 24-hour window Meta delivers only these.

Each asks the person to open the bot (a quick-reply button "Buka"); any message they send opens the window
again, and the messages waiting for them follow. One template per purpose of the outbox, and a generic
one for any other. They are created once per WhatsApp Business Account (``lanjutkan whatsapp templates
--create``) and approved by Meta before use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pywa_async.types.templates import (
    BodyText,
    Buttons,
    QuickReplyButton,
    TemplateCategory,
    TemplateLanguage,
)
from pywa_async.types.templates import Template as PywaTemplate

OPEN_PAYLOAD = "buka"  # the quick reply's payload: the inbound side reads any message as opening the window


@dataclass(frozen=True, slots=True)
class Template:
    """A template as Meta stores it: a body with one parameter ({{1}}, a count) and one quick reply."""

    name: str  # lowercase letters, digits and underscores (Meta's rule)
    body: str
    example: str = "2"  # a value for {{1}} that Meta's reviewers see
    button: str = "Buka"
    language: str = "id"
    category: str = "UTILITY"


TEMPLATES: dict[str, Template] = {
    "card": Template(
        "lanjutkan_usulan_baru",
        "Ada {{1}} usulan baru menunggu keputusan Anda di LANJUTKAN. Tekan Buka untuk melihatnya.",
    ),
    "notice": Template(
        "lanjutkan_kabar_usulan",
        "Ada {{1}} kabar baru tentang usulan yang Anda kirim di LANJUTKAN. Tekan Buka untuk membacanya.",
    ),
    "summary": Template(
        "lanjutkan_ringkasan",
        "Ringkasan mingguan LANJUTKAN sudah siap, dengan {{1}} pesan untuk Anda. Tekan Buka untuk "
        "melihatnya.",
        example="1",
    ),
    "reminder": Template(
        "lanjutkan_pengingat",
        "Pengingat LANJUTKAN: ada {{1}} hal yang menunggu tindakan Anda. Tekan Buka untuk melihatnya.",
    ),
}
GENERIC = Template(
    "lanjutkan_pesan_baru", "Ada {{1}} pesan baru untuk Anda di LANJUTKAN. Tekan Buka untuk membacanya."
)


def template_for(purpose: str) -> Template:
    """The template that announces messages of ``purpose``; the generic one for any other."""
    return TEMPLATES.get(purpose, GENERIC)


def all_templates() -> list[Template]:
    """Every template the project uses, each once."""
    return [*TEMPLATES.values(), GENERIC]


def as_pywa(template: Template) -> PywaTemplate:
    """The template as pywa creates it (and checks parameters against)."""
    return PywaTemplate(
        name=template.name,
        category=TemplateCategory(template.category),
        language=TemplateLanguage(template.language),
        components=[
            BodyText(template.body, template.example),
            Buttons(buttons=[QuickReplyButton(text=template.button)]),
        ],
    )


def creation_payload(template: Template) -> dict[str, Any]:
    """The JSON body of ``POST /{WABA_ID}/message_templates`` for ``template`` (what pywa sends)."""
    payload: dict[str, Any] = json.loads(as_pywa(template).to_json())
    return payload


def send_params(template: Template, count: int) -> list[dict[str, Any]]:
    """The components of a template message: the count as {{1}}, the quick reply's fixed payload."""
    body = {"type": "BODY", "parameters": [{"type": "text", "text": str(count)}]}
    button = {
        "type": "button",
        "sub_type": "QUICK_REPLY",
        "index": 0,
        "parameters": [{"type": "payload", "payload": OPEN_PAYLOAD}],
    }
    return [body, button]
