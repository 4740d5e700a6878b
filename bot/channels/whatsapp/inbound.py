"""WhatsApp webhooks in: each message of a signed delivery as the neutral message it means, read through
pywa's update types; delivery statuses apart (a failure reported later is matched to the outbox).

A webhook delivery may carry several messages (and statuses) for several people; each message is
recorded in the inbox by its own id (a ``wamid``) as a delivery of its own, so a replay or a repeated
delivery handles it like any other update.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from pywa_async import WhatsApp
from pywa_async.types import CallbackButton, CallbackSelection, Message
from pywa_async.types.base_update import RawUpdate

from bot.channels.whatsapp.layout import MENU_PREFIX
from handlers import texts
from handlers.messages import Inbound, Kind

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WINDOW_ERROR = 131047  # a free-form message outside the 24-hour window
# WhatsApp has no slash commands: "daftar", "/daftar" and "Daftar" are the same command.
COMMANDS = frozenset(name for name, _ in texts.COMMANDS) | {"start", "help", "buka"}
# Commands that take one word after them (a proposal's number, an export's kind): "status U-00042"
WITH_ARGUMENT = frozenset({"status", "riwayat", "ekspor"})
TEMPLATE_ANSWER = "buka"  # what a press on a template's quick-reply button means


@dataclass(frozen=True, slots=True)
class Status:
    """A delivery status of a message the bot sent."""

    message_id: str
    failed: bool
    code: int | None  # Meta's error code of a failure


def split(body: dict[str, Any]) -> tuple[list[tuple[str, dict[str, Any]]], list[Status]]:
    """A webhook delivery's messages, each as (its id, a delivery of its own), and its statuses."""
    messages: list[tuple[str, dict[str, Any]]] = []
    statuses: list[Status] = []
    for entry in _list(body.get("entry")):
        for change in _list(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            for message in _list(value.get("messages")):
                if isinstance(message.get("id"), str):
                    one = {**value, "messages": [message]}
                    one.pop("statuses", None)
                    single = {
                        "object": body.get("object"),
                        "entry": [{**entry, "changes": [{**change, "value": one}]}],
                    }
                    messages.append((message["id"], single))
            for status in _list(value.get("statuses")):
                if isinstance(status.get("id"), str):
                    errors = _list(status.get("errors"))
                    code = errors[0].get("code") if errors else None
                    statuses.append(
                        Status(
                            status["id"],
                            status.get("status") == "failed",
                            code if isinstance(code, int) else None,
                        )
                    )
    return messages, statuses


def _list(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def to_inbound(client: WhatsApp, update_id: str, delivery: dict[str, Any]) -> Inbound | None:
    """The neutral form of one message's delivery, or None for what the bot ignores (an edit, a
    reaction, a system notice)."""
    value = delivery["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    kind = message.get("type")
    if kind in {"reaction", "system", "edit", "revoke", "unsupported", "errors", "request_welcome"}:
        return None
    wa_id, user_id = sender_of(delivery)
    if user_id is None:
        return None
    chat_id = wa_id or user_id
    common: dict[str, Any] = {
        "update_id": update_id,
        "verified_phone": f"+{wa_id}" if wa_id else None,
        "phone_hidden": wa_id is None,
    }
    raw = RawUpdate(json.dumps(delivery).encode(), hmac_header=None, update_hash=update_id)
    try:
        if kind == "interactive" and (message.get("interactive") or {}).get("type") == "list_reply":
            update: Message | CallbackButton | CallbackSelection = CallbackSelection.from_update(client, raw)
        elif kind in {"interactive", "button"}:
            update = CallbackButton.from_update(client, raw)
        else:
            update = Message.from_update(client, raw)
    except (KeyError, TypeError, ValueError) as error:  # a shape pywa cannot read: something we cannot read
        log.warning("whatsapp %s message unreadable: %s", kind, type(error).__name__)
        return Inbound(CHANNEL, user_id, chat_id, Kind.OTHER, **common)
    if isinstance(update, CallbackSelection):
        data = update.data or ""
        if data.startswith(MENU_PREFIX):  # a row of a role's menu: as if its label were typed
            return _text(user_id, chat_id, data.removeprefix(MENU_PREFIX), common)
        return Inbound(
            CHANNEL, user_id, chat_id, Kind.BUTTON, data=data, message_ref=_context(message), **common
        )
    if isinstance(update, CallbackButton):
        if kind == "button":  # a template's quick reply: the person answers what waited for them
            return Inbound(CHANNEL, user_id, chat_id, Kind.COMMAND, command=TEMPLATE_ANSWER, **common)
        return Inbound(
            CHANNEL,
            user_id,
            chat_id,
            Kind.BUTTON,
            data=update.data or "",
            message_ref=_context(message),
            **common,
        )
    if update.type == "text" and update.text is not None:
        return _text(user_id, chat_id, update.text, {**common, "message_ref": update.id})
    return Inbound(CHANNEL, user_id, chat_id, Kind.OTHER, **common)


def sender_of(delivery: dict[str, Any]) -> tuple[str | None, str | None]:
    """A message's sender: their number (None when WhatsApp hides it) and their account's stable id, the
    business-scoped one (their number when the delivery has none)."""
    value = delivery["entry"][0]["changes"][0]["value"]
    message = value["messages"][0]
    contact = (value.get("contacts") or [{}])[0]
    wa_id = contact.get("wa_id") or message.get("from") or None
    user_id = contact.get("user_id") or message.get("from_user_id") or wa_id
    return (
        wa_id if isinstance(wa_id, str) else None,
        user_id if isinstance(user_id, str) and user_id else None,
    )


def _context(message: dict[str, Any]) -> str | None:
    """The id of the bot's message whose button was pressed."""
    context = message.get("context")
    ref = context.get("id") if isinstance(context, dict) else None
    return ref if isinstance(ref, str) else None


def _text(user_id: str, chat_id: str, text: str, common: dict[str, Any]) -> Inbound:
    """A text, or a command when its first word names one, in any case: with a slash always; without one
    only as the word alone (or with the one word a command takes), see :func:`_bare_command`."""
    head, _, rest = text.strip().partition(" ")
    command = head.removeprefix("/").lower()
    rest = rest.strip()
    if command in COMMANDS and (head.startswith("/") or _bare_command(command, rest)):
        return Inbound(CHANNEL, user_id, chat_id, Kind.COMMAND, text=rest, command=command, **common)
    return Inbound(CHANNEL, user_id, chat_id, Kind.TEXT, text=text, **common)


def _bare_command(command: str, rest: str) -> bool:
    """Whether a command word typed without a slash, followed by ``rest``, is the command: a sentence that
    merely begins with one ("Bantuan sosial lain sudah diterima", "Status pekerjaannya tidak jelas" typed
    as a reason or a note) is what the person wrote, as on Telegram. "batal" stays the way out however it
    goes on ("batal aja", "batal dulu")."""
    return not rest or command == "batal" or (command in WITH_ARGUMENT and len(rest.split()) == 1)
