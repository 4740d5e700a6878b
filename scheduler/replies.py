"""Replies sent by the process that handled the turn, right after its commit (no hop through the outbox
worker), under the same pacer as the outbox; what cannot go now is handed to the outbox, and what went
is recorded as sent in the background (see ``scheduler.outbox`` for the worker)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.context import Services
from handlers.messages import Answer
from models import store
from scheduler.outbox import Courier, Pacer, Part, RetryLater, Undeliverable

log = logging.getLogger(__name__)


class Receipts:
    """Records the replies sent directly as sent, in the background, so nobody's next message waits for
    that record. Under load the next turn's transaction records them with its change (see
    ``handlers.context.SentReplies``); what no turn took within ``linger`` gets a transaction of its own."""

    def __init__(self, services: Services, *, linger: float = 0.1) -> None:
        self.services = services
        self.linger = linger
        self._writer: asyncio.Task[None] | None = None
        self._lingering: asyncio.Task[Any] | None = None  # a writer before it takes anything (cancellable)
        services.sent_replies.listen(self._soon)

    def confirm(self, reply_id: int, at: dt.datetime, kept: str | None = None) -> None:
        """Record the reply as sent soon (until then a crash sends it again when the bot restarts), with
        the ids of its messages sent with ``keep`` (JSON): those at once, as the person's next turn may
        be waiting for them in another process."""
        self.services.sent_replies.add(reply_id, at, kept)
        self._soon(at_once=kept is not None)

    def _soon(self, *, at_once: bool = False) -> None:
        writer = self._writer
        if writer is not None and not writer.done():
            lingering = self._lingering is writer
            if not (at_once and lingering):
                return
            writer.cancel()  # still lingering: nothing taken yet
        self._writer = asyncio.get_running_loop().create_task(self._write(0.0 if at_once else self.linger))

    async def drain(self, *, tries: int = 8) -> None:
        """Return once every reply confirmed so far is recorded (before stopping; tests), or after
        ``tries`` failed writes (the database is gone: the next start takes those replies over)."""
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        await self._write(0.0, tries=tries)

    async def _write(self, linger: float, *, tries: int | None = None) -> None:
        self._lingering = asyncio.current_task()
        try:
            await asyncio.sleep(linger)
        finally:
            if self._lingering is asyncio.current_task():
                self._lingering = None
        pause = 0.05
        while sent := self.services.sent_replies.take():
            try:
                async with self.services.sessions() as session:
                    await store.each_statement_alone(session)  # one UPDATE: its own transaction
                    await store.confirm_replies(session, sent=sent)
                    await session.commit()
            except Exception as error:  # retried until the database takes it: unrecorded, it is resent
                self.services.sent_replies.put_back(sent)
                log.error("recording replies sent failed, retrying: %s", type(error).__name__)
                self.services.events.database_error("receipts")
                if tries is not None:
                    tries -= 1
                    if tries <= 0:
                        return
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
            except BaseException:
                self.services.sent_replies.put_back(sent)
                raise


class DirectReplies:
    """Sends a turn's replies right after its commit, to the person waiting for them.

    No hop through the outbox on the normal path, but the same rules: a 429 pause (from any call) holds
    them too, and each call counts in the pacer, so the outbox leaves room for them. What cannot go now
    (a pause, a 429, a failure) is handed to the outbox from the call it stopped at, to be sent after the
    pause or a backoff, unless a later reply to the same chat supersedes it first; what can never go
    (the bot blocked) is recorded as failed.
    """

    def __init__(
        self,
        services: Services,
        channel: str,
        courier: Courier,
        pacer: Pacer,
        *,
        backoff: float = 1.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.services = services
        self.channel = channel
        self.courier = courier
        self.pacer = pacer
        self.backoff = backoff
        self.clock = clock
        self.receipts = Receipts(services)

    async def deliver(self, chat_id: str, answer: Answer, pressed: str | None) -> None:
        """Send the answer's replies: the messages in order, the changes to earlier ones (``aside``) at the
        same time; once all went, recorded as sent with the (note, message id) of those sent with ``keep``
        (the person's next turn reads them, in whichever process)."""
        kept: list[tuple[str, str]] = []
        try:
            parts = self.courier.plan(answer.replies, pressed)
        except Exception as error:  # a bug: the outbox tries again (and records a failure in the end)
            log.error("planning a reply failed: %s", type(error).__name__)
            await self._hand_over(answer, 0, self.backoff, type(error).__name__)
            return
        split = next((i for i, part in enumerate(parts) if part.aside), len(parts))
        changes = asyncio.gather(*(self._call(chat_id, part) for part in parts[split:]))  # started now
        stopped, failure = await self._in_order(chat_id, parts[:split], kept)
        aside = await changes
        if stopped is None:  # every message went: the first change to an earlier one that must be redone
            stopped, failure = next(
                ((split + i, f) for i, (f, _) in enumerate(aside) if isinstance(f, RetryLater)), (None, None)
            )
        if isinstance(failure, Undeliverable):
            await self._fail(answer, failure.reason)
        elif stopped is not None and isinstance(failure, RetryLater):
            # From the first call left undone; changes to earlier messages may be redone without harm.
            await self._hand_over(answer, stopped, failure.retry_after or self.backoff, failure.reason)
        elif answer.reply_id is not None:
            self.receipts.confirm(answer.reply_id, self.clock(), json.dumps(kept) if kept else None)

    async def _in_order(
        self, chat_id: str, parts: Sequence[Part], kept: list[tuple[str, str]]
    ) -> tuple[int | None, Exception | None]:
        """Send messages one after the other; where they stopped and why (None, None: all sent)."""
        for index, part in enumerate(parts):
            failure, ref = await self._call(chat_id, part)
            if failure is not None:
                return index, failure
            if part.keep is not None and ref is not None:
                kept.append((part.keep, ref))
        return None, None

    async def _call(self, chat_id: str, part: Part) -> tuple[Exception | None, str | None]:
        """One call, unless a 429's pause holds; its failure (RetryLater, Undeliverable) or its result."""
        if (wait := self.pacer.paused_for()) > 0:
            return RetryLater("429", retry_after=wait), None  # not attempted: not counted as a send
        failure, ref = await self._perform(chat_id, part)
        self.services.events.sent(self.channel, failure)
        return failure, ref

    async def _perform(self, chat_id: str, part: Part) -> tuple[Exception | None, str | None]:
        """The call itself, paced."""
        start = self.pacer.take_direct((self.channel, chat_id))
        try:
            return None, await self.courier.perform(chat_id, part)
        except RetryLater as error:
            if error.flood and error.retry_after:
                self.pacer.pause(error.retry_after)
            return error, None
        except Undeliverable as error:
            return error, None
        except Exception as error:  # a bug or an unknown failure: the outbox tries again
            log.error("direct reply failed: %s", type(error).__name__)
            return RetryLater(type(error).__name__), None
        finally:
            self.pacer.end(start)

    async def _hand_over(self, answer: Answer, progress: int, wait: float, reason: str) -> None:
        if answer.reply_id is None:
            return  # not recorded (no turn behind it): nothing to hand over
        at = self.clock() + dt.timedelta(seconds=wait)
        await self._write(
            lambda session: store.hand_over_reply(
                session, reply_id=answer.reply_id or 0, progress=progress, at=at, error=reason
            )
        )
        self.services.doorbell.ring()

    async def _fail(self, answer: Answer, reason: str) -> None:
        log.warning("a reply is undeliverable: %s", reason)
        if answer.reply_id is not None:
            at = self.clock()
            await self._write(
                lambda session: store.fail_reply(session, reply_id=answer.reply_id or 0, at=at, error=reason)
            )

    async def _write(self, change: Callable[[AsyncSession], Awaitable[None]]) -> None:
        """Commit a change of a reply's record, retried for a minute: a reply left ``direct`` holds its
        chat's outbox back until the outbox takes it over as lost (``STALE_DIRECT``)."""
        pause, deadline = 0.05, time.monotonic() + 60.0
        while True:
            try:
                async with self.services.sessions() as session:
                    await change(session)
                    await session.commit()
                return
            except Exception as error:
                log.error("recording a reply failed, retrying: %s", type(error).__name__)
                self.services.events.database_error("replies")
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
