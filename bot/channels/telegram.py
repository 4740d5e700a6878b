"""Telegram channel: translates PTB updates into neutral messages and neutral replies into Bot API calls."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import gc
import json
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.channels.http import AiohttpRequest
from bot.channels.processor import PerUserUpdateProcessor
from handlers import chart, texts
from handlers.buttons import retires_keyboard
from handlers.engine import BUSY_PAUSES, Engine
from handlers.messages import Inbound, Kind, Reply
from models import store
from models.db import checkpoint_periodically, is_busy
from scheduler.jobs import Schedule, Timetable
from scheduler.liveness import process_name
from scheduler.outbox import DirectReplies, Limits, Outbox, Pacer, RetryLater, Undeliverable
from scheduler.outbox import Part as PlannedPart

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024  # and for a file's caption
INBOX_KEEP = dt.timedelta(days=2)  # Telegram keeps unconfirmed updates for 24 hours
INBOX_PURGE_EVERY = dt.timedelta(hours=1)
# Young collections every 5.000 allocations (not 700) and a full one only after 1.000 middle ones (not 10):
# measured in benchmarks/intake.py, p99 148 ms with Python's defaults, 36 ms with these.
GC_THRESHOLDS = (5000, 20, 1000)
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


def to_inbound(update: Update) -> Inbound | None:
    """The neutral form of a Telegram update, or None for updates the bot ignores."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None:
        return None
    user_id, chat_id = str(user.id), str(chat.id)
    receipt = update.update_id
    if update.callback_query is not None:
        data = update.callback_query.data or ""
        pressed = update.callback_query.message
        return Inbound(
            CHANNEL,
            user_id,
            chat_id,
            Kind.BUTTON,
            data=data,
            update_id=receipt,
            message_ref=str(pressed.message_id) if pressed is not None else None,
        )
    message = update.message
    if message is None:
        return None
    if message.contact is not None:
        contact = message.contact
        return Inbound(
            CHANNEL,
            user_id,
            chat_id,
            Kind.CONTACT,
            contact_phone=contact.phone_number,
            contact_user_id=str(contact.user_id) if contact.user_id else None,
            update_id=receipt,
        )
    if message.text is not None:
        return Inbound.from_text(
            channel=CHANNEL,
            user_id=user_id,
            chat_id=chat_id,
            text=message.text,
            update_id=receipt,
            message_ref=str(message.message_id),
        )
    return Inbound(CHANNEL, user_id, chat_id, Kind.OTHER, update_id=receipt)


def merge(replies: Sequence[Reply]) -> list[Reply]:
    """Join plain texts into the message that follows them: fewer round trips on a weak connection."""
    merged: list[Reply] = []
    for reply in replies:
        previous = merged[-1] if merged else None
        plain = (
            previous is not None and not (previous.buttons or previous.ask_contact) and previous.menu is None
        )
        plain = plain and previous is not None and _textual(previous) and _textual(reply)
        # One message can hand one id back: two replies to keep stay two messages
        plain = plain and previous is not None and not (previous.keep and reply.keep)
        if previous is not None and plain and len(previous.text) + len(reply.text) + 2 <= MAX_TEXT:
            merged[-1] = Reply(
                f"{previous.text}\n\n{reply.text}",
                buttons=reply.buttons,
                menu=reply.menu,
                ask_contact=reply.ask_contact,
                keep=previous.keep or reply.keep,
            )
        else:
            merged.append(reply)
    return merged


def _textual(reply: Reply) -> bool:
    return reply.document is None and reply.photo is None and reply.target is None


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
    """Split a long text at line breaks so each part fits one Telegram message."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    parts.append(text)
    return parts


class Inbox:
    """Records updates before Telegram is told they arrived, and replays what a crash left unhandled."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.services = engine.services
        self._purged_at = self.services.clock()

    async def record(self, updates: Sequence[Update]) -> None:
        vault = self.services.vault
        rows = [(u.update_id, vault.encrypt(json.dumps(u.to_dict(), ensure_ascii=False))) for u in updates]
        now = self.services.clock()
        async with self.services.sessions() as session:
            await store.record_inbound(session, channel=CHANNEL, updates=rows)
            if now - self._purged_at > INBOX_PURGE_EVERY:
                await store.purge_inbound(session, handled_before=now - INBOX_KEEP)
                self._purged_at = now
            await session.commit()

    async def replay(self, application: Application) -> None:
        """Queue the updates received but not handled before the last stop; forget old handled ones."""
        for pause in (*BUSY_PAUSES, None):
            try:
                async with self.services.sessions() as session:
                    pending = await store.pending_inbound(session, channel=CHANNEL)
                    await store.purge_inbound(session, handled_before=self.services.clock() - INBOX_KEEP)
                    await session.commit()
                break
            except Exception as error:
                # Another process starting at the same time holds SQLite's write lock: wait, then again.
                if pause is None or not is_busy(error):
                    raise
                await asyncio.sleep(pause)
        for row in pending:
            try:
                data = json.loads(self.services.vault.decrypt(row.payload))
                update = Update.de_json(data, application.bot)
            except Exception as error:  # another secret, a damaged row: skip it, never block the start
                log.error("cannot replay update %s: %s", row.update_id, type(error).__name__)
                await self.engine.mark_handled(CHANNEL, row.update_id)
                continue
            await application.update_queue.put(update)
        if pending:
            log.info("replaying %d update(s) received before the last stop", len(pending))


class InboxBot(ExtBot):
    """An ExtBot whose getUpdates records each batch in the inbox before returning it.

    python-telegram-bot confirms a batch by asking for the next one, before handling it; recording first
    means a crash can only leave updates that are in the database, and the next start replays them.
    """

    def __init__(self, *args: Any, inbox: Inbox, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox = inbox

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        updates = await super().get_updates(*args, **kwargs)
        if updates:
            try:
                await self._inbox.record(updates)
            except Exception as error:
                # Not confirmed to Telegram: polling retries and the same batch comes again.
                raise NetworkError(f"inbox unavailable: {type(error).__name__}") from error
        return updates


def _retry_after(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns while retry_after may still be an int
        warnings.simplefilter("ignore")
        wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


class TelegramChannel:
    """The PTB callbacks: one for messages, one for button presses, one for errors."""

    def __init__(self, engine: Engine, *, holder: str, direct: DirectReplies) -> None:
        self.engine = engine
        self.holder = holder  # this process, which sends the replies it records
        self.direct = direct
        # Per chat, the ids of messages sent with ``keep``: they go to the engine with the chat's next
        # update, in its transaction (no write of their own; a restart in between loses them).
        self._sent: dict[str, list[tuple[str, str]]] = {}

    def _with_sent(self, inbound: Inbound) -> Inbound:
        sent = self._sent.pop(inbound.chat_id, None)
        return dataclasses.replace(inbound, sent=tuple(sent)) if sent else inbound

    async def _answer(self, inbound: Inbound, pressed: str | None) -> None:
        """Handle an update and send its replies (recorded with the turn, confirmed once sent)."""
        async with self.engine.turn_of(inbound):
            answer = await self.engine.answer(self._with_sent(inbound), holder=self.holder, pressed=pressed)
            kept = await self.direct.deliver(inbound.chat_id, answer, pressed)
            if kept:
                self._sent.setdefault(inbound.chat_id, []).extend(kept)

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a message (text, command, contact or anything else) from a private chat."""
        inbound = to_inbound(update)
        if inbound is None:
            await self.engine.mark_handled(CHANNEL, update.update_id)
            return
        await self._answer(inbound, None)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a button press: acknowledge it, retire its keyboard, and reply, all at once."""
        query = update.callback_query
        inbound = to_inbound(update)
        if query is None or inbound is None:
            await self.engine.mark_handled(CHANNEL, update.update_id)
            return
        pressed = query.message if isinstance(query.message, Message) else None
        if inbound.data and retires_keyboard(inbound.data):
            # An intake question: its buttons are spent once pressed. Three independent calls in
            # parallel: one round trip instead of three on a slow network.
            await asyncio.gather(
                self._courtesy(query.answer),
                self._courtesy(functools.partial(_retire_keyboard, pressed)),
                self._answer(inbound, None),
            )
            return
        # A card or a list: the answer decides what the pressed message becomes (edited in place).
        ref = str(pressed.message_id) if pressed is not None else None
        await asyncio.gather(self._courtesy(query.answer), self._answer(inbound, ref))

    async def _courtesy(self, call: Callable[[], Awaitable[object]]) -> None:
        """A courtesy call (answer a press, remove old buttons): skipped under a 429's pause, and its
        failure must not stop the reply."""
        if self.direct.pacer.paused_for() > 0:
            return
        try:
            await call()
        except RetryAfter as error:
            self.direct.pacer.pause(_retry_after(error))
        except TelegramError as error:
            log.warning("telegram courtesy call failed: %s", type(error).__name__)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Updates no one handles (edits, group chats): mark them handled so they are never replayed."""
        await self.engine.mark_handled(CHANNEL, update.update_id)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log an error by type only: messages and tracebacks may carry a NIK."""
        error = context.error
        log.error("telegram update failed: %s", type(error).__name__)


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


class TelegramCourier:
    """The outbox's way out through Telegram: sends and edits, Bot API errors sorted for the worker."""

    def __init__(self, bot: Bot, *, timeout: float = 10.0) -> None:
        self.bot = bot
        self.timeout = timeout

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Send one message (cut to Telegram's limit), or a picture with its caption; its message id."""
        async with _sorted_errors(editing=False):
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
        async with _sorted_errors(editing=True):
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
        async with _sorted_errors(editing=False):
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
        raise RetryLater("429", retry_after=_retry_after(error), flood=True) from None
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


async def _retire_keyboard(message: object) -> None:
    if isinstance(message, Message) and message.reply_markup is not None:
        await message.edit_reply_markup(reply_markup=None)


class Lifecycle:
    """What `run` does once the bot is up, and when it stops."""

    def __init__(
        self,
        inbox: Inbox,
        courier: TelegramCourier,
        direct: DirectReplies,
        holder: str,
        timetable: Timetable | None = None,
    ) -> None:
        self.inbox = inbox
        self.courier = courier
        self.direct = direct
        self.pacer = direct.pacer
        self.holder = holder
        self.timetable = timetable  # None: no scheduled messages from this process
        self.outbox: Outbox | None = None
        self.schedule: Schedule | None = None
        self.background: list[asyncio.Task[None]] = []

    async def start(self, application: Application) -> None:
        """List the commands in Telegram's menu, take over what a stopped process left (its replies, a
        429's pause), replay the inbox, start the outbox and SQLite checkpoints."""
        try:
            await application.bot.set_my_commands(list(texts.COMMANDS))
        except TelegramError as error:  # a courtesy: the bot works without the menu
            log.warning("could not set the command menu: %s", type(error).__name__)
        services = self.inbox.services
        self.outbox = Outbox(
            services, CHANNEL, self.courier, limits=self.pacer.limits, holder=self.holder, pacer=self.pacer
        )
        await self.outbox.prepare()  # before any update is answered
        await self.inbox.replay(application)
        self.background.append(asyncio.create_task(checkpoint_periodically(services.database_url)))
        self.background.append(asyncio.create_task(self.outbox.run()))
        self.background.append(asyncio.create_task(asyncio.to_thread(chart.warm_up)))
        if self.timetable is not None:
            self.schedule = Schedule(services, self.timetable)
            self.schedule.start()
        # What start-up loaded (regions, modules, caches) lives as long as the process: keep it out of
        # every later full garbage collection, whose pauses otherwise show as latency spikes.
        gc.collect()
        gc.freeze()
        # With Python's defaults the full collections come often enough to show as 100+ ms pauses.
        gc.set_threshold(*GC_THRESHOLDS)

    async def stop(self, application: Application) -> None:
        await self.direct.receipts.drain()  # the replies sent are recorded, not sent again next start
        if self.schedule is not None:
            await self.schedule.stop()
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)


def build_application(
    engine: Engine,
    *,
    token: str,
    base_url: str,
    max_concurrent_updates: int = 256,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    outbox_limits: Limits | None = None,
    timetable: Timetable | None = None,
) -> Application:
    """The PTB application with our channel's callbacks, the inbox, the outbox, the scheduled messages
    (when given a timetable) and the per-user ordered processor."""
    holder = process_name()
    pacer = Pacer(outbox_limits or Limits(), channel=CHANNEL)  # one flood state for the bot's token
    inbox = Inbox(engine)
    bot = InboxBot(
        token,
        base_url=base_url,
        request=request or AiohttpRequest(connection_pool_size=max(max_concurrent_updates, 8)),
        # getUpdates long-polls for up to 10 s (PTB's default timeout): read timeout above it
        get_updates_request=get_updates_request or AiohttpRequest(connection_pool_size=1, read_timeout=30.0),
        inbox=inbox,
    )
    courier = TelegramCourier(bot)
    direct = DirectReplies(engine.services, CHANNEL, courier, pacer)
    lifecycle = Lifecycle(inbox, courier, direct, holder, timetable)
    application = (
        ApplicationBuilder()
        .bot(bot)
        .concurrent_updates(PerUserUpdateProcessor(max_concurrent_updates))
        .post_init(lifecycle.start)
        .post_stop(lifecycle.stop)
        .build()
    )
    channel = TelegramChannel(engine, holder=holder, direct=direct)
    private = filters.ChatType.PRIVATE
    application.add_handler(CallbackQueryHandler(channel.on_button))
    application.add_handler(MessageHandler(private & ~filters.UpdateType.EDITED, channel.on_message))
    application.add_handler(TypeHandler(Update, channel.on_other))
    application.add_error_handler(channel.on_error)
    return application
