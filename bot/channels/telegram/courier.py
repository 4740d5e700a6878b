"""Bot API calls made and their errors sorted for the outbox: retry later, or never deliverable."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import warnings
from collections.abc import AsyncIterator, Sequence

from telegram import Bot, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.channels.telegram.render import MAX_CAPTION, MAX_TEXT, Part, markup, merge, split_text
from bot.health import ChannelHealth
from handlers.messages import Reply
from scheduler.outbox import Part as PlannedPart
from scheduler.outbox import RetryLater, Undeliverable

log = logging.getLogger(__name__)


def retry_after_of(error: RetryAfter) -> float:
    """Seconds a 429 asks to wait."""
    with warnings.catch_warnings():  # PTB 22 warns while retry_after may still be an int
        warnings.simplefilter("ignore")
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


class TelegramCourier:
    """The outbox's way out through Telegram: sends and edits, Bot API errors sorted for the worker."""

    def __init__(self, bot: Bot, *, timeout: float = 10.0, health: ChannelHealth | None = None) -> None:
        self.bot = bot
        self.timeout = timeout
        self.health = health or ChannelHealth("telegram")  # /readyz: the last call that worked

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Send one message (cut to Telegram's limit), or a picture with its caption; its message id."""
        async with self.health.watch(), _sorted_errors(editing=False):
            if reply.photo is not None:
                sent = await self.bot.send_photo(
                    int(chat_id),
                    InputFile(reply.photo, filename="grafik.png"),
                    caption=reply.text[:MAX_CAPTION],
                    reply_markup=markup(reply),
                    read_timeout=self.timeout,
                    write_timeout=max(self.timeout, 20.0),  # a picture on a slow uplink
                    connect_timeout=self.timeout,
                )
                return str(sent.message_id)
            sent = await self.bot.send_message(
                int(chat_id),
                reply.text[:MAX_TEXT],
                reply_markup=markup(reply),
                read_timeout=self.timeout,
                write_timeout=self.timeout,
                connect_timeout=self.timeout,
            )
        return str(sent.message_id)

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        """Write a card's outcome on it; its buttons go unless the reply has new ones."""
        keyboard = markup(reply)
        async with self.health.watch(), _sorted_errors(editing=True):
            await self.bot.edit_message_text(
                reply.text[:MAX_TEXT],
                chat_id=int(chat_id),
                message_id=int(message_ref),
                reply_markup=keyboard if isinstance(keyboard, InlineKeyboardMarkup) else None,
                read_timeout=self.timeout,
                write_timeout=self.timeout,
                connect_timeout=self.timeout,
            )

    def plan(self, replies: Sequence[Reply], pressed: str | None) -> list[Part]:
        """A turn's replies as Bot API calls: plain texts joined (fewer round trips on a weak connection),
        long ones split at line breaks, a card's outcome written on the pressed card; then the changes
        to earlier messages (remove a typed NIK, mask a read-back), once the answer is out."""
        parts: list[Part] = []
        for reply in merge([r for r in replies if r.target is None]):
            if reply.document is not None or reply.photo is not None:
                parts.append(Part(reply, reply.text[:MAX_CAPTION]))
            elif reply.edit and pressed is not None and len(reply.text) <= MAX_TEXT:
                parts.append(Part(reply, reply.text, pressed=pressed))
            else:
                pieces = split_text(reply.text)
                parts += [
                    Part(reply, piece, keyboard=i == len(pieces) - 1, first=i == 0)
                    for i, piece in enumerate(pieces)
                ]
        parts += [Part(r, r.text[:MAX_TEXT]) for r in replies if r.target is not None]
        return parts

    async def perform(self, chat_id: str, part: PlannedPart) -> str | None:
        """Make one call of :meth:`plan`: the id of the message it sent or rewrote."""
        assert isinstance(part, Part)
        reply, chat = part.reply, int(chat_id)
        t = self.timeout
        async with self.health.watch(), _sorted_errors(editing=False):
            if reply.target is not None:
                await _on_earlier(self.bot, chat, reply, t)
                return None
            if reply.document is not None:
                name, content = reply.document
                upload = InputFile(content, filename=name)
                # A file of a few MB on a slow uplink
                sent = await self.bot.send_document(
                    chat, upload, caption=part.text, write_timeout=120.0, read_timeout=t, connect_timeout=t
                )
                return str(sent.message_id)
            if reply.photo is not None:
                sent = await self.bot.send_photo(
                    chat, InputFile(reply.photo, filename="grafik.png"), caption=part.text,
                    write_timeout=max(t, 20.0), read_timeout=t, connect_timeout=t,
                )  # fmt: skip
                return str(sent.message_id)
            if part.pressed is not None and await _rewritten(self.bot, chat, part, t):
                return part.pressed
            keyboard = markup(reply) if part.keyboard else None
            sent = await self.bot.send_message(
                chat, part.text, reply_markup=keyboard, write_timeout=t, read_timeout=t, connect_timeout=t
            )
        return str(sent.message_id)


async def _rewritten(bot: Bot, chat: int, part: Part, timeout: float) -> bool:
    """Replace the pressed card's text and buttons; False when Telegram refuses (too old, deleted)."""
    assert part.pressed is not None
    keyboard = markup(part.reply)
    try:
        await bot.edit_message_text(
            part.text,
            chat_id=chat,
            message_id=int(part.pressed),
            reply_markup=keyboard if isinstance(keyboard, InlineKeyboardMarkup) else None,
            write_timeout=timeout,
            read_timeout=timeout,
            connect_timeout=timeout,
        )
    except BadRequest as error:
        if "not modified" in str(error).lower():
            return True
        log.warning("could not edit the pressed message: %s", type(error).__name__)
        return False
    return True


@contextlib.asynccontextmanager
async def _sorted_errors(*, editing: bool) -> AsyncIterator[None]:
    """Bot API errors as the outbox needs them: retry later, or never deliverable (with a reason)."""
    try:
        yield
    except RetryAfter as error:
        raise RetryLater("429", retry_after=retry_after_of(error), flood=True) from None
    except Forbidden:
        raise Undeliverable("blocked") from None  # the person blocked the bot or left Telegram
    except BadRequest as error:
        text = str(error).lower()
        if editing and "not modified" in text:
            return  # the card already shows this outcome (sent twice across a crash)
        if "chat not found" in text:
            raise Undeliverable("chat_not_found") from None
        if editing and ("to edit not found" in text or "can't be edited" in text):
            raise Undeliverable("message_gone") from None
        raise Undeliverable("bad_request") from None
    except ChatMigrated:
        raise Undeliverable("chat_migrated") from None
    except (TimedOut, NetworkError) as error:  # 5xx arrive as NetworkError too
        raise RetryLater("timeout" if isinstance(error, TimedOut) else "network") from None
    except InvalidToken:
        raise RetryLater("invalid_token") from None


async def _on_earlier(bot: Bot, chat_id: int, reply: Reply, timeout: float) -> None:
    """Delete an earlier message of the chat, or rewrite it without its buttons."""
    # A bot may delete what a person sent it in a private chat, for 48 hours.
    assert reply.target is not None
    try:
        if reply.delete:
            target = int(reply.target)
            await bot.delete_message(chat_id, target, read_timeout=timeout, connect_timeout=timeout)
        elif reply.edit:
            await bot.edit_message_text(
                reply.text[:MAX_TEXT],
                chat_id=chat_id,
                message_id=int(reply.target),
                read_timeout=timeout,
                connect_timeout=timeout,
            )
    except BadRequest:
        pass  # too old, deleted by the person already, or unchanged: nothing left to do
