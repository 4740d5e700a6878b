"""The conversation engine: one inbound message in, replies out, state committed in between.

Channel adapters call :meth:`Engine.handle` and render the replies; nothing here knows which chat app
carries the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypeGuard

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import (
    approval,
    buttons,
    ekspor,
    intake,
    onboarding,
    queries,
    rekap,
    ringkasan,
    siaran,
    texts,
    verifikasi,
)
from handlers.context import Services, Turn
from handlers.messages import Answer, Inbound, Kind, Reply, dump_replies
from models import db, store
from models.tables import Conversation, Delivery

log = logging.getLogger(__name__)

# Pauses between attempts while the database is locked by another process (~3 s in all).
BUSY_PAUSES = db.BUSY_PAUSES
# Waits for a person's earlier update another process is handling (~5 s in all); after that, this one goes
# anyway: that process died, and the update it held is replayed by the next start.
ORDER_PAUSES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.0, 1.0)

MENU_COMMANDS = {
    texts.MENU_DAFTAR: "daftar",
    texts.MENU_DAFTARKU: "daftarku",
    texts.MENU_BANTUAN: "bantuan",
    texts.MENU_ANTRIAN: "antrian",
}


class PersonQueue:
    """One person's updates one after another, in the order they arrived, whichever receiver got them
    (Telegram's polling, a webhook); different people at the same time. In this process: several
    processes order a person's updates in the database (the production mode)."""

    def __init__(self) -> None:
        self._tails: dict[tuple[str, str], asyncio.Future[None]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, channel: str, user_id: str) -> AsyncIterator[None]:
        """Wait for the person's earlier updates (their turn and its replies), then hold the turn."""
        key = (channel, user_id)
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = done  # before any await: arrival order is the order of turns
        try:
            if previous is not None:
                await asyncio.shield(previous)
            yield
        finally:
            done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]


class Engine:
    """Handles one inbound message at a time per user; safe to call concurrently for different users."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.people = PersonQueue()
        # Several processes share a PostgreSQL database: a person's turns are ordered there too.
        self.ordered_in_database = services.sessions.kw["bind"].dialect.name == "postgresql"

    def turn_of(self, inbound: Inbound) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold this person's turn while their update is answered and the replies sent (a channel wraps
        :meth:`answer` and its sending in it)."""
        return self.people.turn(inbound.channel, inbound.user_id)

    async def handle(self, inbound: Inbound) -> list[Reply]:
        """Answer one message without recording the replies (the terminal demo, tests)."""
        return (await self.answer(inbound)).replies

    async def answer(
        self, inbound: Inbound, *, holder: str | None = None, pressed: str | None = None
    ) -> Answer:
        """Answer one message; the state change and its replies commit together.

        With a ``holder`` (this process, for a channel that sends the replies itself), the replies are
        recorded in the turn's transaction, for ``holder`` to send right after the commit and confirm; if
        the process dies first, the outbox sends them. ``pressed``: the message the replies may edit.
        """
        try:
            return await db.when_free(lambda: self._in_order(inbound, holder, pressed), BUSY_PAUSES)
        except Exception as error:
            # Only the type: a message or traceback text may quote what was typed, a NIK included.
            log.error("handling a %s message failed: %s", inbound.kind.value, type(error).__name__)
            self.services.events.update(inbound.channel, "failed")
            replies = [Reply(texts.TRY_AGAIN_LATER), *await self._where_we_are(inbound)]
            return Answer(replies, await self._give_up(inbound, replies, holder))

    async def _in_order(self, inbound: Inbound, holder: str | None, pressed: str | None) -> Answer:
        """The turn, after the person's earlier updates another process is handling (PostgreSQL)."""
        for pause in ORDER_PAUSES:
            try:
                return await self._attempt(inbound, holder, pressed, wait=True)
            except store.EarlierPending:
                await asyncio.sleep(pause)
        log.warning("an earlier update or reply of the same person is still in hand: going on without it")
        return await self._attempt(inbound, holder, pressed, wait=False)

    async def _attempt(
        self, inbound: Inbound, holder: str | None, pressed: str | None, *, wait: bool
    ) -> Answer:
        try:
            return await self._turn(inbound, holder=holder, pressed=pressed, wait=wait)
        except store.DuplicateLiveNik:
            # Rolled back: tell the officer who lost the race why, from a fresh transaction.
            return await self._turn(inbound, holder=holder, pressed=pressed, after_race=True, wait=wait)

    async def _receive_sent(self, session: AsyncSession, conversation: Conversation, *, wait: bool) -> None:
        """The message ids of the replies that showed a full NIK (Kirim or Batal masks them), from this
        process's receipts or the database; while another process is still sending one (``direct``),
        :class:`store.EarlierPending` (as for an earlier update), unless told not to wait any more."""
        awaited = intake.awaited_replies(conversation)
        kept = {reply_id: self.services.sent_replies.kept_of(reply_id) for reply_id in awaited}
        if missing := [reply_id for reply_id, ids in kept.items() if ids is None]:
            recorded = await store.reply_deliveries(session, reply_ids=missing)
            if wait and any(status is Delivery.DIRECT for status, _ in recorded.values()):
                raise store.EarlierPending
            kept |= {reply_id: ids for reply_id, (_, ids) in recorded.items()}
        intake.receive_sent(conversation, kept)

    async def _where_we_are(self, inbound: Inbound) -> list[Reply]:
        """After a failure, the open question again, so the officer has buttons to press."""
        try:
            async with self.services.sessions() as session:
                account, officer, *held = await store.turn_state(
                    session, channel=inbound.channel, external_id=inbound.user_id
                )
                turn = Turn(self.services, session, inbound, account, officer, held=held)
                if officer is not None:
                    state = await intake.open_conversation(turn)
                    if state is not None:
                        turn.say(intake.prompt(turn, *state))
                await session.rollback()
                return turn.replies
        except Exception:
            return []

    async def mark_handled(self, channel: str, update_id: str | None) -> None:
        """Claim an update without acting on it (ignored or unreadable): a replay after a restart must
        never act on it later."""
        await self._give_up(Inbound(channel, "", "", Kind.OTHER, update_id=update_id), [], None)
        self.services.events.update(channel, "ignored")

    async def _give_up(self, inbound: Inbound, replies: list[Reply], holder: str | None) -> int | None:
        """Claim an update that failed (the person is told to send again) or is ignored, with the replies
        saying so: a replay after a restart must never act on it later."""
        if inbound.update_id is None and not (holder and replies):
            return None
        try:
            async with self.services.sessions() as session:
                if inbound.update_id is not None:
                    await store.claim_inbound(session, channel=inbound.channel, update_id=inbound.update_id)
                reply_id = await self._record(session, inbound, replies, holder, None)
                await session.commit()
                return reply_id
        except Exception as error:
            log.error("could not mark an update handled: %s", type(error).__name__)
            return None

    async def _record(
        self,
        session: AsyncSession,
        inbound: Inbound,
        replies: list[Reply],
        holder: str | None,
        pressed: str | None,
        officer_id: int | None = None,
    ) -> int | None:
        """Record the turn's replies in its transaction (see :meth:`answer`)."""
        if holder is None or not replies:
            return None
        return await store.record_reply(
            session,
            channel=inbound.channel,
            chat_id=inbound.chat_id,
            officer_id=officer_id,
            update_id=inbound.update_id,
            payload=self.services.vault.encrypt(dump_replies(replies, pressed=pressed)),
            holder=holder,
            now=self.services.clock(),
        )

    async def _turn(
        self,
        inbound: Inbound,
        *,
        holder: str | None,
        pressed: str | None,
        after_race: bool = False,
        wait: bool = False,
    ) -> Answer:
        async with self.services.sessions() as session:
            if self.ordered_in_database and inbound.update_id is not None:
                await store.take_person_turn(
                    session,
                    channel=inbound.channel,
                    person=inbound.user_id,
                    update_id=inbound.update_id,
                    in_order=wait,
                )
            if inbound.update_id is not None and not await store.claim_inbound(
                session, channel=inbound.channel, update_id=inbound.update_id
            ):
                self.services.events.update(inbound.channel, "duplicate")
                return Answer([])  # handled before a crash: its replies were recorded with it
            account, officer, *held = await store.turn_state(
                session, channel=inbound.channel, external_id=inbound.user_id
            )
            turn = Turn(self.services, session, inbound, account, officer, held=held)
            conversation = held[0] if held and isinstance(held[0], Conversation) else None
            if inbound.sent:
                intake.remember_sent(conversation, inbound.sent)
            if conversation is not None and intake.awaited_replies(conversation):
                await self._receive_sent(session, conversation, wait=wait)
            if after_race:
                await intake.after_lost_race(turn)
            elif officer is None:
                await onboarding.handle_unbound(turn)
            else:
                await route(turn)
            officer_id = turn.officer.id if turn.officer is not None else None
            reply_id = await self._record(session, inbound, turn.replies, holder, pressed, officer_id)
            if reply_id is not None:
                for recorded in turn.recorded:
                    recorded(reply_id)
            # Replies sent since the last write, recorded with this turn's change (no write of their own)
            sent = self.services.sent_replies.take()
            try:
                await store.confirm_replies(session, sent=sent)
                await session.commit()
            except BaseException:
                self.services.sent_replies.put_back(sent)
                raise
        self.services.events.update(inbound.channel, "answered")
        for done in turn.after_commit:
            done()
        if turn.queued:
            self.services.doorbell.ring()  # committed: the outbox may send them now
        return Answer(turn.replies, reply_id)


async def route(turn: Turn) -> None:
    """Dispatch a bound officer's message: commands first, then the open conversation, then help."""
    inbound = turn.inbound
    officer = turn.officer
    assert officer is not None
    command = inbound.command if inbound.kind is Kind.COMMAND else None
    if inbound.kind is Kind.TEXT and inbound.text.strip() in MENU_COMMANDS:
        command = MENU_COMMANDS[inbound.text.strip()]
    assert officer.id is not None
    if command is not None:
        # Looked up once for the update: a decision's or an intake's, the command's handlers get it.
        conversation = await store.conversation_of(turn.session, officer_id=officer.id)
        if command != "batal" and _deciding(conversation):
            # A command means they moved on: a reason half typed must not catch a later message.
            await approval.forget_decision(turn)
        if command not in {"batal", "verifikasi"} and _verifying(conversation):
            await verifikasi.forget(turn)
        await run_command(turn, command, conversation)
        return
    if inbound.kind is Kind.BUTTON:
        data = inbound.data or ""
        press = buttons.decode(data)
        # Malformed data is answered by the handler of the kind it claims to be, as before the codec.
        kind = press.kind if press is not None else buttons.claimed(data)
        if kind in buttons.APPROVAL:
            assert kind is not None
            await approval.on_button(turn, press, kind)
            return
        if kind in {buttons.Kind.VERIFY, buttons.Kind.VERIFY_REASON}:  # /verifikasi
            await verifikasi.on_button(turn, press)
            return
        if kind is buttons.Kind.EXPORT:  # a choice of /ekspor
            await ekspor.on_button(turn, press)
            return
        if kind is buttons.Kind.SIARAN:  # a step of /siaran
            await siaran.on_button(turn, press)
            return
        if kind is buttons.Kind.FIX:  # Perbaiki: correct a returned proposal
            if press is not None and press.id is not None:
                await intake.start_fix(turn, press.id)
            else:
                turn.say(texts.STALE_BUTTON)
            return
        # An intake answer (or data of no kind): the open conversation checks it is for its question.
    conversation = await store.conversation_of(turn.session, officer_id=officer.id)
    if (
        _verifying(conversation)
        and inbound.kind is Kind.TEXT
        and await verifikasi.on_text(turn, conversation)
    ):
        return
    if _deciding(conversation) and inbound.kind is not Kind.BUTTON:
        if inbound.kind is not Kind.TEXT:
            turn.say(texts.CANNOT_READ)
            return
        if await approval.on_text(turn, conversation):
            return
    state = await intake.open_conversation(turn, conversation)
    if inbound.kind is Kind.CONTACT and (state is None or state[0].step != intake.Step.PHONE):
        # Their own card again, or a card outside the phone question: as /start, who they are. (No state:
        # no conversation, or open_conversation just dropped one whose draft was gone.)
        await run_command(turn, "start", state[0] if state is not None else None)
        return
    if siaran.is_open(conversation):  # an announcement being prepared: its text, or a word of it
        assert conversation is not None
        await siaran.on_message(turn, conversation)
        return
    if state is not None:
        await intake.answer(turn, *state)
        return
    if inbound.kind is Kind.BUTTON:
        turn.say(texts.STALE_BUTTON)
    elif inbound.kind is Kind.OTHER:
        turn.say(texts.CANNOT_READ + "\n" + texts.NOT_UNDERSTOOD)
    else:
        turn.say(texts.NOT_UNDERSTOOD)


def _verifying(conversation: Conversation | None) -> TypeGuard[Conversation]:
    """Whether the officer's conversation is a re-verification step (a reason typed, a confirmation)."""
    return conversation is not None and conversation.flow == verifikasi.FLOW


def _deciding(conversation: Conversation | None) -> TypeGuard[Conversation]:
    """Whether the officer's conversation is an approver's open decision."""
    return conversation is not None and conversation.flow == approval.FLOW


async def run_command(turn: Turn, command: str, conversation: intake.Looked = intake.LOOK_UP) -> None:
    """``conversation``: the officer's, as route looked it up for this update (read-only handlers run
    before the intake's, so it still holds)."""
    officer = turn.officer
    assert officer is not None
    match command:
        case "daftar":
            await intake.start(turn, conversation)
        case "batal" if siaran.is_open(conversation):
            assert isinstance(conversation, Conversation)
            await siaran.cancel(turn, conversation)
        case "siaran":
            await siaran.start(turn, conversation)
        case "batal":
            deciding = conversation is intake.LOOK_UP or _deciding(conversation)
            if await verifikasi.cancel(turn):
                pass
            elif not (deciding and await approval.cancel(turn)):
                await intake.cancel(turn, conversation)
        case "antrian":
            await approval.show_queue(turn)
        case "riwayat":
            await approval.show_history(turn)
            await intake.remind(turn, conversation)
        case "gagal":
            await approval.show_failures(turn)
        case "rekap":
            await rekap.show(turn)
        case "ringkasan":
            await ringkasan.show(turn)
            await intake.remind(turn, conversation)
        case "ekspor":
            await ekspor.show(turn)
        case "verifikasi":
            await verifikasi.show(turn)
        case "buka":  # the answer to a template sent outside WhatsApp's window: what waited follows
            turn.say(texts.OPENED)
            await intake.remind(turn, conversation)
        case "start" | "bantuan" | "help":
            label = onboarding.region_label(turn.services.kabupaten, officer)
            text = (
                texts.bound_welcome(officer.name, officer.role, label)
                if command == "start"
                else texts.help_text(officer.role)
            )
            turn.say(Reply(text, menu=onboarding.menu_for(officer.role)))
            if command == "start":
                await approval.waiting_note(turn)
            await intake.remind(turn, conversation)
        case "daftarku":
            await queries.my_proposals(turn)
            await intake.remind(turn, conversation)
        case "status":
            await queries.status(turn)
            await intake.remind(turn, conversation)
        case _:
            turn.say(texts.UNKNOWN_COMMAND)
            await intake.remind(turn, conversation)
