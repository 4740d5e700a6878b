"""Neutral replies as Bot API calls: texts joined and split at Telegram's limits, keyboards, the
calls of a turn's replies."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from handlers import messages, texts
from handlers.messages import Reply

log = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024  # and for a file's caption
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


def merge(replies: Sequence[Reply]) -> list[Reply]:
    """Join plain texts into the message that follows them: fewer round trips on a weak connection."""
    return messages.join_texts(replies, limit=MAX_TEXT, alone=_alone)


def _alone(reply: Reply) -> bool:
    """A text with nothing under it (a contact request, a keyboard or its removal) may take the next one."""
    return not (reply.buttons or reply.ask_contact) and reply.menu is None


def markup(reply: Reply) -> Markup:
    """Buttons as an inline keyboard; the menu and the contact request as a reply keyboard."""
    if reply.buttons:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
        )
    if reply.ask_contact:
        button = KeyboardButton(texts.SHARE_CONTACT_BUTTON, request_contact=True)
        return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
    if reply.menu is not None:
        if not reply.menu:
            return ReplyKeyboardRemove()
        return ReplyKeyboardMarkup(
            [list(row) for row in reply.menu], resize_keyboard=True, is_persistent=True
        )
    return None


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """A long text in parts that each fit one Telegram message (at least one part: it may carry a
    keyboard)."""
    return messages.split_text(text, limit) or [text]


@dataclasses.dataclass(frozen=True, slots=True)
class Part:
    """One Bot API call of a turn's replies (see :meth:`TelegramCourier.plan`)."""

    reply: Reply
    text: str  # this call's text: the reply's, a piece of a long one, or a file's caption
    keyboard: bool = True  # the last piece of a long text carries the reply's keyboard
    first: bool = True  # the first piece: the one whose id a ``keep`` hands back
    pressed: str | None = None  # the pressed message to rewrite (a card's outcome) instead of sending

    @property
    def keep(self) -> str | None:
        return self.reply.keep if self.first else None

    @property
    def aside(self) -> bool:
        return self.reply.target is not None
