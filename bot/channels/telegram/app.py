"""The PTB application: the channel's callbacks and its inbox; and the channel as the runtime runs it."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.channels.grouped import GroupedWrites
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.courier import TelegramCourier
from bot.channels.telegram.http import AiohttpRequest
from bot.channels.telegram.inbound import CHANNEL, Inbox, InboxBot
from bot.channels.telegram.processor import PerUserUpdateProcessor
from bot.health import ChannelHealth
from handlers import texts
from handlers.engine import Engine
from scheduler.liveness import process_name
from scheduler.outbox import Limits, Pacer
from scheduler.replies import DirectReplies

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]


class Lifecycle:
    """What the Telegram channel does once PTB is up: the command menu, and the updates a stop left."""

    def __init__(self, inbox: Inbox, courier: TelegramCourier, direct: DirectReplies, holder: str) -> None:
        self.inbox = inbox
        self.courier = courier
        self.direct = direct
        self.pacer = direct.pacer
        self.holder = holder

    async def start(self, application: Application) -> None:
        """List the commands in Telegram's menu and replay the inbox (the runtime prepared the outbox
        first: a dead process's replies go before anything new)."""
        try:
            await application.bot.set_my_commands(list(texts.COMMANDS))
        except TelegramError as error:  # a courtesy: the bot works without the menu
            log.warning("could not set the command menu: %s", type(error).__name__)
        await self.inbox.replay(application)


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where Telegram posts updates (production), and the secret it sends back with each."""

    url: str
    secret: str
    max_connections: int = 40


class TelegramService:
    """The Telegram channel as the runtime runs it: long polling through PTB, or (with a webhook) updates
    posted to ``POST /telegram``, each committed to the inbox before Telegram is answered."""

    name = CHANNEL
    window: dt.timedelta | None = None  # Telegram takes a message at any time

    def __init__(
        self, application: Application, *, webhook: Webhook | None = None, receives: bool = True
    ) -> None:
        lifecycle = application.post_init.__self__ if application.post_init else None  # type: ignore[attr-defined]
        assert isinstance(lifecycle, Lifecycle)
        self.application = application
        self.lifecycle = lifecycle
        self.courier = lifecycle.courier
        self.direct = lifecycle.direct
        self.webhook = webhook
        # Of several workers, one polls (Telegram allows one getUpdates at a time) or sets the webhook;
        # every worker takes webhook posts and sends.
        self.receives = receives
        self._accepting = False
        self.health = lifecycle.courier.health  # read by /readyz
        self._posts = GroupedWrites(lifecycle.inbox.record_posted)

    def mount(self, server: FastAPI) -> None:
        """``POST /telegram`` in webhook mode; long polling needs no route."""
        if self.webhook is not None:
            # A plain route: the handler reads the request itself (no FastAPI parameters to resolve).
            server.add_route("/telegram", self.receive, methods=["POST"], include_in_schema=False)

    async def receive(self, request: Request) -> Response:
        """An update from Telegram: only with the secret; recorded in the inbox before the 200 (Telegram
        counts it delivered then), then handled like a polled one."""
        assert self.webhook is not None
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given.encode(), self.webhook.secret.encode()):
            log.warning("telegram webhook without the right secret refused")
            return PlainTextResponse("Forbidden", status_code=403)
        self.health.webhook_received()
        if not self._accepting:  # starting or stopping: Telegram delivers it again
            return PlainTextResponse("Unavailable", status_code=503)
        try:
            raw = (await request.body()).decode()
            update = Update.de_json(json.loads(raw), self.application.bot)
        except (ValueError, TypeError, KeyError) as error:
            log.warning("telegram webhook: not an update: %s", type(error).__name__)
            return PlainTextResponse("Bad Request", status_code=400)
        try:
            await self._posts.add((update, raw))
        except Exception as error:  # not recorded: Telegram retries what is not answered 200
            log.error("telegram webhook not recorded: %s", type(error).__name__)
            return PlainTextResponse("Unavailable", status_code=503)
        await self.application.update_queue.put(update)
        return PlainTextResponse("OK")

    async def start(self) -> None:
        application = self.application
        await application.initialize()
        await self.lifecycle.start(application)
        await application.start()
        if self.webhook is None and not self.receives:
            return
        if self.webhook is None:
            assert application.updater is not None
            # Removes a webhook set before (switching back from webhook mode) before the first getUpdates
            await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
            return
        if self.receives:
            await application.bot.set_webhook(
                self.webhook.url,
                secret_token=self.webhook.secret,
                allowed_updates=ALLOWED_UPDATES,
                max_connections=self.webhook.max_connections,
            )
        self._accepting = True

    async def stop(self) -> None:
        """Stop receiving (the webhook stays set: Telegram keeps the updates for the next start) and finish
        the updates being handled."""
        self._accepting = False
        application = self.application
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()  # waits for the updates being handled
        await application.shutdown()


def build_application(
    engine: Engine,
    *,
    token: str,
    base_url: str,
    max_concurrent_updates: int = 256,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    outbox_limits: Limits | None = None,
) -> Application:
    """The PTB application with our channel's callbacks, its inbox and the per-user ordered processor; the
    runtime (:class:`TelegramService`) starts it beside the outbox and the scheduled messages."""
    holder = process_name()
    pacer = Pacer(outbox_limits or Limits(), channel=CHANNEL)  # one flood state for the bot's token
    inbox = Inbox(engine)
    health = ChannelHealth(CHANNEL)  # marked by getUpdates and the courier, read by /readyz
    bot = InboxBot(
        token,
        base_url=base_url,
        request=request or AiohttpRequest(connection_pool_size=max(max_concurrent_updates, 8)),
        # getUpdates long-polls for up to 10 s (PTB's default timeout): read timeout above it
        get_updates_request=get_updates_request or AiohttpRequest(connection_pool_size=1, read_timeout=30.0),
        inbox=inbox,
        health=health,
    )
    courier = TelegramCourier(bot, health=health)
    direct = DirectReplies(engine.services, CHANNEL, courier, pacer)
    lifecycle = Lifecycle(inbox, courier, direct, holder)
    application = (
        ApplicationBuilder()
        .bot(bot)
        .concurrent_updates(PerUserUpdateProcessor(max_concurrent_updates))
        .post_init(lifecycle.start)  # where the runtime and the tests find it; run_polling is not used
        .build()
    )
    channel = TelegramChannel(engine, holder=holder, direct=direct)
    private = filters.ChatType.PRIVATE
    application.add_handler(CallbackQueryHandler(channel.on_button))
    application.add_handler(MessageHandler(private & ~filters.UpdateType.EDITED, channel.on_message))
    application.add_handler(TypeHandler(Update, channel.on_other))
    application.add_error_handler(channel.on_error)
    return application
