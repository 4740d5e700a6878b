"""The WhatsApp channel as the runtime runs it: Meta's webhook on the HTTP server, each message committed to
the inbox before Meta is answered, then handled in the person's turn and answered directly."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from pywa import utils as pywa_utils
from pywa_async import WhatsApp
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.whatsapp.courier import failure_reason
from bot.channels.whatsapp.inbound import CHANNEL, WINDOW_ERROR, Status, sender_of, split, to_inbound
from bot.health import ChannelHealth, health_of
from bot.logs import timed, update_context
from handlers.engine import Engine
from handlers.messages import Inbound, Kind
from models import store
from models.db import when_free
from scheduler.outbox import Courier
from scheduler.replies import DirectReplies

log = logging.getLogger(__name__)

WINDOW = dt.timedelta(hours=24)  # Meta's customer service window
INBOX_KEEP = dt.timedelta(days=2)  # Meta retries a delivery for up to a day or so
# A window this process recorded open (with nothing waiting) this recently is not written again: it stays
# open for a day, and a conversation's every message would otherwise cost an upsert and a read.
WINDOW_FRESH = dt.timedelta(seconds=30)
MAX_BODY = 1_000_000  # bytes: a webhook delivery is a few kilobytes; more is not Meta


class WhatsAppService:
    """Receives Meta's webhooks (``GET``/``POST /whatsapp``) and answers each message in its person's turn."""

    name = CHANNEL
    window: dt.timedelta | None = WINDOW

    def __init__(
        self,
        engine: Engine,
        *,
        client: WhatsApp,
        courier: Courier,
        direct: DirectReplies,
        app_secret: str,
        verify_token: str,
        holder: str,
        health: ChannelHealth | None = None,
    ) -> None:
        self.engine = engine
        # Read by /readyz; the courier's by default: one record of the channel's calls and deliveries
        self.health = health or health_of(courier) or ChannelHealth(CHANNEL, webhook=True)
        self.services = engine.services
        self.client = client
        self.courier = courier
        self.direct = direct
        self._app_secret = app_secret
        self._verify_token = verify_token
        self.holder = holder
        self._handling: set[asyncio.Task[None]] = set()
        self._accepting = False
        self._opened: dict[str, dt.datetime] = {}  # chat -> when this process last recorded its window

    # ------------------------------------------------------------------------------------- HTTP routes

    def mount(self, server: FastAPI) -> None:
        # Plain routes: the handlers read the request themselves (no FastAPI parameters to resolve).
        server.add_route("/whatsapp", self.verify, methods=["GET"], include_in_schema=False)
        server.add_route("/whatsapp", self.receive, methods=["POST"], include_in_schema=False)

    async def verify(self, request: Request) -> Response:
        """Meta's check of the webhook URL: echo the challenge when the verify token matches."""
        params = request.query_params
        challenge = params.get("hub.challenge")
        if (
            params.get("hub.mode") == "subscribe"
            and challenge is not None
            and _same(params.get("hub.verify_token") or "", self._verify_token)
        ):
            return PlainTextResponse(challenge)
        log.warning("whatsapp webhook verification refused")
        return PlainTextResponse("Forbidden", status_code=403)

    async def receive(self, request: Request) -> Response:
        """A signed delivery: record its messages (and what its statuses report) in one commit, answer
        200, then handle them. Nothing is recorded without a valid signature."""
        body = await request.body()
        signature = request.headers.get("x-hub-signature-256")
        if not signature:
            log.warning("whatsapp webhook without a signature refused")
            return PlainTextResponse("Unauthorized", status_code=401)
        if len(body) > MAX_BODY or not pywa_utils.webhook_updates_validator(
            app_secret=self._app_secret, request_body=body, x_hub_signature=signature
        ):
            log.warning("whatsapp webhook with a wrong signature refused")
            return PlainTextResponse("Forbidden", status_code=403)
        self.health.webhook_received()
        if not self._accepting:  # stopping (or not started): Meta delivers it again later
            return PlainTextResponse("Unavailable", status_code=503)
        try:
            payload = json.loads(body)
            messages, statuses = split(payload if isinstance(payload, dict) else {})
        except ValueError:
            log.warning("whatsapp webhook: not JSON")
            return PlainTextResponse("Bad Request", status_code=400)
        try:
            new, waited = await when_free(lambda: self._record(messages, statuses))
        except Exception as error:  # not recorded: Meta retries a delivery not answered 200
            log.error("whatsapp webhook not recorded: %s", type(error).__name__)
            self.services.events.database_error("webhook")
            return PlainTextResponse("Unavailable", status_code=503)
        if statuses:
            self.services.doorbell.ring()  # a message refused outside the window asks again
        for update_id, delivery in messages:
            if update_id in new:
                self._handle_soon(update_id, delivery, release=_sender(delivery) in waited)
        return PlainTextResponse("OK")

    async def _record(
        self, messages: list[tuple[str, dict[str, Any]]], statuses: list[Status]
    ) -> tuple[set[str], set[str]]:
        """One transaction: the new messages in the inbox (encrypted: a typed NIK is in there), their
        senders' windows opened, failures reported by status matched to the outbox. Returns the ids new to
        the inbox, and the senders something waits for: released once their message is answered (the
        answer comes first)."""
        vault, now = self.services.vault, self.services.clock()
        async with self.services.sessions() as session:
            rows = [
                (update_id, vault.encrypt(json.dumps(d, ensure_ascii=False)), sender_of(d)[1])
                for update_id, d in messages
            ]
            new = set(await store.record_inbound(session, channel=CHANNEL, updates=rows)) if rows else set()
            waited: set[str] = set()
            opened: list[str] = []
            for update_id, delivery in messages:
                chat = _sender(delivery) if update_id in new else None
                if chat is None or now - self._opened.get(chat, _NEVER) < WINDOW_FRESH:
                    continue
                if await store.open_window(session, channel=CHANNEL, chat_id=chat, at=now, release=False):
                    waited.add(chat)
                else:
                    opened.append(chat)
            if any(status.code == WINDOW_ERROR for status in statuses):
                self._opened.clear()  # Meta found closed a window we thought open: read the database again
            for status in statuses:
                if status.failed:
                    await store.delivery_failed(
                        session,
                        channel=CHANNEL,
                        message_ref=status.message_id,
                        reason=failure_reason(status.code),
                        outside_window=status.code == WINDOW_ERROR,
                        at=now,
                    )
            await session.commit()
        self._remember_opened(opened, now)
        return new, waited

    def _remember_opened(self, chats: list[str], now: dt.datetime) -> None:
        opened = self._opened
        for chat in chats:
            opened[chat] = now
        if len(opened) > 50_000:  # forget the stale ones: a bounded cache, not a record
            for chat in [c for c, at in opened.items() if now - at >= WINDOW_FRESH]:
                del opened[chat]

    # -------------------------------------------------------------------------------------- handling

    def _handle_soon(self, update_id: str, delivery: dict[str, Any], *, release: bool = False) -> None:
        """Handle in the background, in arrival order per person (the turn is taken before any wait)."""
        try:
            inbound = to_inbound(self.client, update_id, delivery)
        except Exception as error:  # a shape pywa cannot read: never handled, never replayed
            log.warning("whatsapp message unreadable: %s", type(error).__name__)
            inbound = None
        task = asyncio.create_task(self._handle(update_id, inbound, _sender(delivery) if release else None))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handle(self, update_id: str, inbound: Inbound | None, sender: str | None) -> None:
        """Answer the message in its person's turn, then release what waited for them (after the answer:
        "Terima kasih…" before the cards it announces)."""
        with update_context(CHANNEL, update_id):  # named in its log lines
            try:
                if inbound is None:
                    await self.engine.mark_handled(CHANNEL, update_id)
                else:
                    async with self.engine.turn_of(inbound), timed(self.services.events, CHANNEL):
                        pressed = inbound.message_ref if inbound.kind is Kind.BUTTON else None
                        answer = await self.engine.answer(inbound, holder=self.holder, pressed=pressed)
                        await self.direct.deliver(inbound.chat_id, answer, pressed)
            except Exception as error:  # logged by type: a message may quote what was typed
                log.error("whatsapp update failed: %s", type(error).__name__)
        if sender is not None:
            await self._release(lambda session: store.release_waiting(
                session, channel=CHANNEL, chat_id=sender, at=self.services.clock()
            ))  # fmt: skip

    async def _release(self, release: Callable[[AsyncSession], Awaitable[int]]) -> None:
        """Make waiting messages due (their own transaction) and wake the outbox; a failure leaves them
        for the person's next message or the next start."""

        async def attempt() -> int:
            async with self.services.sessions() as session:
                released = await release(session)
                await session.commit()
                return released

        try:
            if await when_free(attempt):
                self.services.doorbell.ring()
        except Exception as error:
            log.error("whatsapp: waiting messages not released: %s", type(error).__name__)

    # ---------------------------------------------------------------------------------- start and stop

    async def start(self) -> None:
        """Replay what a stop left in the inbox, oldest first, then take webhooks."""
        pending = await when_free(self._pending)
        for row in pending:
            try:
                delivery = json.loads(self.services.vault.decrypt(row.payload))
            except Exception as error:  # another secret, a damaged row: skip it, never block the start
                log.error("cannot replay a whatsapp update: %s", type(error).__name__)
                await self.engine.mark_handled(CHANNEL, row.update_id)
                continue
            self._handle_soon(row.update_id, delivery)
        if pending:
            log.info("replaying %d whatsapp update(s) received before the last stop", len(pending))
        # Answered before the stop, released never: what waits for people whose window is open goes.
        now = self.services.clock()
        await self._release(
            lambda session: store.release_open(session, channel=CHANNEL, since=now - WINDOW, at=now)
        )
        self._accepting = True

    async def _pending(self) -> list[Any]:
        async with self.services.sessions() as session:
            pending = await store.pending_inbound(session, channel=CHANNEL)
            await store.purge_inbound(session, handled_before=self.services.clock() - INBOX_KEEP)
            await session.commit()
        return pending

    async def stop(self) -> None:
        """Refuse new deliveries (Meta retries them) and finish the messages being handled."""
        self._accepting = False
        if self._handling:
            await asyncio.gather(*self._handling, return_exceptions=True)


_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def _sender(delivery: dict[str, Any]) -> str | None:
    """The chat a message came from (the number, or the business-scoped id of a hidden number)."""
    wa_id, user_id = sender_of(delivery)
    return wa_id or user_id


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
