"""Neutral messages: what comes in from any channel and what goes back out (RapidPro courier style).

Channels translate their updates into :class:`Inbound` and render :class:`Reply` in their own idiom:
Telegram inline keyboards, WhatsApp buttons or lists, numbered choices in the terminal demo.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    CONTACT = "contact"
    OTHER = "other"  # photo, sticker, voice, location...: something we cannot read


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person sent, whatever the channel."""

    channel: str
    user_id: str
    chat_id: str
    kind: Kind
    text: str = ""  # the text, or a command's arguments
    command: str | None = None  # "daftar" for "/daftar 123"
    data: str | None = None  # a pressed button's payload
    contact_phone: str | None = None
    contact_user_id: str | None = None  # whose contact it is, when the channel knows
    update_id: str | None = (
        None  # the channel's id of the update (a string on every channel), to claim it from the inbox
    )
    # For a button: the message it belongs to; for a text: the message itself (the channel's id), so the
    # engine can have it removed later (a typed NIK)
    message_ref: str | None = None
    # (note, message id) of the replies the channel sent with ``keep`` since this person's last message:
    # an id exists only once sent, and it reaches the engine with the next message, in that turn.
    sent: tuple[tuple[str, str], ...] = ()
    # The sender's number as the chat app vouches for it (WhatsApp's wa_id, E.164): no contact to share.
    verified_phone: str | None = None
    # The chat app vouches for numbers but hides this sender's (a WhatsApp username): never let in.
    phone_hidden: bool = False

    @classmethod
    def from_text(
        cls,
        *,
        channel: str,
        user_id: str,
        chat_id: str,
        text: str,
        update_id: str | None = None,
        message_ref: str | None = None,
    ) -> Inbound:
        """Text or a command: "/status U-00042" becomes command "status" with text "U-00042"."""
        stripped = text.strip()
        if stripped.startswith("/") and len(stripped) > 1:
            head, _, rest = stripped[1:].partition(" ")
            command = head.split("@", 1)[0].lower()  # "/daftar@LanjutkanBot" in groups
            return cls(
                channel,
                user_id,
                chat_id,
                Kind.COMMAND,
                text=rest.strip(),
                command=command,
                update_id=update_id,
                message_ref=message_ref,
            )
        return cls(
            channel, user_id, chat_id, Kind.TEXT, text=text, update_id=update_id, message_ref=message_ref
        )


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str  # at most 64 bytes (Telegram's limit); short ids and an action, never personal data


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to show: text, optional choices, optional persistent menu or contact request."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    menu: tuple[tuple[str, ...], ...] | None = None  # None: leave as is; (): remove
    ask_contact: bool = False
    # Replace the message whose button was pressed (a card showing its outcome) instead of sending anew
    edit: bool = False
    document: tuple[str, bytes] | None = None  # (file name, content): a file to send, the text its caption
    photo: bytes | None = None  # a picture (PNG) to show, the text its caption
    # An earlier message of this chat, by the channel's id (an Inbound's message_ref, or one handed back
    # for ``keep``): with ``edit``, its text is replaced (buttons gone); with ``delete``, it is removed.
    # A channel that cannot do either (WhatsApp) skips it; failures (too old) are ignored.
    target: str | None = None
    delete: bool = False
    # Hand the channel's id of the message that carried this reply back to the engine with this opaque
    # note (in the person's next Inbound.sent), for a later ``target``
    keep: str | None = None
    meta: dict[str, str] = field(default_factory=dict, compare=False)


def split_text(text: str, limit: int) -> list[str]:
    """A text in parts of at most ``limit`` characters for a chat app's message: cut at a blank line if one
    is near, else at a line break, a line longer than the limit at a space; no part empty (a text of
    blanks gives none)."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n\n", 0, limit)
        if cut < limit // 2:
            cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        if part := text[:cut].rstrip():
            parts.append(part)
        text = text[cut:].lstrip("\n ")
    if text.strip():
        parts.append(text)
    return parts


def textual(reply: Reply) -> bool:
    """Whether a reply is a message of text (buttons or a menu allowed), not a file or a change."""
    return reply.document is None and reply.photo is None and reply.target is None


def join_texts(replies: Sequence[Reply], *, limit: int, alone: Callable[[Reply], bool]) -> list[Reply]:
    """A turn's replies with each plain text (``alone`` says which may take the next one in) joined into
    the message that follows it, within ``limit`` characters: fewer messages for the same words (a round
    trip each on a weak connection; on WhatsApp, each one counted against the rate to one person). The
    joined message keeps the later reply's buttons, menu and contact request; it hands back one id, so
    two replies that both ``keep`` stay two."""
    joined: list[Reply] = []
    for reply in replies:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and alone(previous)
            and textual(previous)
            and textual(reply)
            and not (previous.keep and reply.keep)
            and len(previous.text) + len(reply.text) + 2 <= limit
        ):
            joined[-1] = Reply(
                f"{previous.text}\n\n{reply.text}",
                buttons=reply.buttons,
                menu=reply.menu,
                ask_contact=reply.ask_contact,
                keep=previous.keep or reply.keep,
            )
        else:
            joined.append(reply)
    return joined


@dataclass(frozen=True, slots=True)
class Answer:
    """A turn's replies, and the id of their record in the outbox (None when not recorded): the channel
    sends them, then confirms the record or hands what is left to the outbox."""

    replies: list[Reply]
    reply_id: int | None = None


def dump_replies(replies: Sequence[Reply], *, pressed: str | None) -> str:
    """A turn's replies as JSON, with the message they may edit (the pressed card), to record them."""
    return json.dumps({"pressed": pressed, "replies": [_dump(r) for r in replies]}, ensure_ascii=False)


def load_replies(text: str) -> tuple[list[Reply], str | None]:
    """The replies recorded by :func:`dump_replies`, and the message they may edit."""
    data = json.loads(text)
    return [_load(r) for r in data["replies"]], data["pressed"]


def _dump(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "buttons": [[[b.label, b.data] for b in row] for row in reply.buttons],
        "menu": None if reply.menu is None else [list(row) for row in reply.menu],
        "ask_contact": reply.ask_contact,
        "edit": reply.edit,
        "document": None
        if reply.document is None
        else [reply.document[0], base64.b64encode(reply.document[1]).decode()],
        "photo": None if reply.photo is None else base64.b64encode(reply.photo).decode(),
        "target": reply.target,
        "delete": reply.delete,
        "keep": reply.keep,
        "meta": reply.meta,
    }


def _load(data: dict[str, Any]) -> Reply:
    document = data["document"]
    return Reply(
        data["text"],
        buttons=tuple(tuple(Button(label, value) for label, value in row) for row in data["buttons"]),
        menu=None if data["menu"] is None else tuple(tuple(row) for row in data["menu"]),
        ask_contact=data["ask_contact"],
        edit=data["edit"],
        document=None if document is None else (document[0], base64.b64decode(document[1])),
        photo=None if data["photo"] is None else base64.b64decode(data["photo"]),
        target=data["target"],
        delete=data["delete"],
        keep=data["keep"],
        meta=dict(data["meta"]),
    )
