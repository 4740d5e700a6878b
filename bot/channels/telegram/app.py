"""The PTB application: the channel's callbacks, the inbox, the outbox, the scheduled messages."""

from __future__ import annotations

import asyncio
import gc
import logging

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

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.courier import TelegramCourier
from bot.channels.telegram.http import AiohttpRequest
from bot.channels.telegram.inbound import CHANNEL, Inbox, InboxBot
from bot.channels.telegram.processor import PerUserUpdateProcessor
from handlers import chart, texts
from handlers.engine import Engine
from models.db import checkpoint_periodically
from scheduler.jobs import Schedule, Timetable
from scheduler.liveness import process_name
from scheduler.outbox import Limits, Outbox, Pacer
from scheduler.replies import DirectReplies

log = logging.getLogger(__name__)

# Young collections every 5.000 allocations (not 700) and a full one only after 1.000 middle ones (not 10):
# measured in benchmarks/intake.py, p99 148 ms with Python's defaults, 36 ms with these.
GC_THRESHOLDS = (5000, 20, 1000)


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
