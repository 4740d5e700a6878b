"""Telegram updates in: the neutral message of each, and the inbox that records them before Telegram
is told they arrived."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.error import NetworkError
from telegram.ext import Application, ExtBot

from bot.health import ChannelHealth
from handlers.engine import Engine
from handlers.messages import Inbound, Kind
from models import store
from models.db import when_free
from models.tables import InboundUpdate

log = logging.getLogger(__name__)

CHANNEL = "telegram"
INBOX_KEEP = dt.timedelta(days=2)  # Telegram keeps unconfirmed updates for 24 hours
INBOX_PURGE_EVERY = dt.timedelta(hours=1)


def to_inbound(update: Update) -> Inbound | None:
    """The neutral form of a Telegram update, or None for updates the bot ignores."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None:
        return None
    user_id, chat_id = str(user.id), str(chat.id)
    receipt = str(update.update_id)
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


def _person(update: Update) -> str | None:
    """Who sent an update, as its Inbound's user_id: one person's updates are applied in order."""
    user = update.effective_user
    return str(user.id) if user is not None else None


class Inbox:
    """Records updates before Telegram is told they arrived, and replays what a crash left unhandled."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.services = engine.services
        self._purged_at = self.services.clock()

    async def record(self, updates: Sequence[Update]) -> None:
        """Record a batch of polled updates."""
        await self.record_posted([(u, json.dumps(u.to_dict(), ensure_ascii=False)) for u in updates])

    async def record_posted(self, posted: Sequence[tuple[Update, str]]) -> None:
        """Record updates with the JSON each came as (a webhook's body, stored as it is)."""
        vault = self.services.vault
        rows = [(str(u.update_id), vault.encrypt(raw), _person(u)) for u, raw in posted]
        now = self.services.clock()
        async with self.services.sessions() as session:
            await store.each_statement_alone(session)  # one INSERT: its own transaction
            await store.record_inbound(session, channel=CHANNEL, updates=rows)
            if now - self._purged_at > INBOX_PURGE_EVERY:
                await store.purge_inbound(session, handled_before=now - INBOX_KEEP)
                self._purged_at = now
            await session.commit()

    async def _pending(self) -> list[InboundUpdate]:
        """The updates not handled yet; handled ones older than INBOX_KEEP forgotten."""
        async with self.services.sessions() as session:
            pending = await store.pending_inbound(session, channel=CHANNEL)
            await store.purge_inbound(session, handled_before=self.services.clock() - INBOX_KEEP)
            await session.commit()
        return pending

    async def replay(self, application: Application) -> None:
        """Queue the updates received but not handled before the last stop; forget old handled ones."""
        # Another process starting at the same time may hold SQLite's write lock: wait it out.
        pending = await when_free(self._pending)
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

    def __init__(self, *args: Any, inbox: Inbox, health: ChannelHealth | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbox = inbox
        self._health = health or ChannelHealth(CHANNEL)  # /readyz: getUpdates is the channel's heartbeat

    async def get_updates(self, *args: Any, **kwargs: Any) -> tuple[Update, ...]:
        async with self._health.watch():
            updates = await super().get_updates(*args, **kwargs)
        if updates:
            try:
                await self._inbox.record(updates)
            except Exception as error:
                self._inbox.services.events.database_error("inbox")
                # Not confirmed to Telegram: polling retries and the same batch comes again.
                raise NetworkError(f"inbox unavailable: {type(error).__name__}") from error
        return updates
