"""The PTB callbacks: one for messages, one for button presses, one for errors."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from telegram import Message, Update
from telegram.error import RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot.channels.telegram.courier import retry_after_of
from bot.channels.telegram.inbound import CHANNEL, to_inbound
from bot.logs import timed, update_context
from handlers.buttons import retires_keyboard
from handlers.engine import Engine
from handlers.messages import Inbound
from scheduler.replies import DirectReplies

log = logging.getLogger(__name__)


class TelegramChannel:
    """The PTB callbacks: one for messages, one for button presses, one for errors."""

    def __init__(self, engine: Engine, *, holder: str, direct: DirectReplies) -> None:
        self.engine = engine
        self.holder = holder  # this process, which sends the replies it records
        self.direct = direct

    async def _answer(self, inbound: Inbound, pressed: str | None) -> None:
        """Handle an update and send its replies (recorded with the turn, confirmed once sent)."""
        with update_context(CHANNEL, inbound.update_id):  # named in its log lines
            async with self.engine.turn_of(inbound), timed(self.engine.services.events, CHANNEL):
                answer = await self.engine.answer(inbound, holder=self.holder, pressed=pressed)
                await self.direct.deliver(inbound.chat_id, answer, pressed)

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a message (text, command, contact or anything else) from a private chat."""
        inbound = to_inbound(update)
        if inbound is None:
            await self.engine.mark_handled(CHANNEL, str(update.update_id))
            return
        await self._answer(inbound, None)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a button press: acknowledge it, retire its keyboard, and reply, all at once."""
        query = update.callback_query
        inbound = to_inbound(update)
        if query is None or inbound is None:
            await self.engine.mark_handled(CHANNEL, str(update.update_id))
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
            self.direct.pacer.pause(retry_after_of(error))
        except TelegramError as error:
            log.warning("telegram courtesy call failed: %s", type(error).__name__)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Updates no one handles (edits, group chats): mark them handled so they are never replayed."""
        await self.engine.mark_handled(CHANNEL, str(update.update_id))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log an error by type only: messages and tracebacks may carry a NIK."""
        error = context.error
        log.error("telegram update failed: %s", type(error).__name__)


async def _retire_keyboard(message: object) -> None:
    if isinstance(message, Message) and message.reply_markup is not None:
        await message.edit_reply_markup(reply_markup=None)
