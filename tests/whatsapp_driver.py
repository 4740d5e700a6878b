"""The real WhatsApp channel in the test's own process: ``WhatsAppService`` built as ``build_channel`` builds
it, mounted on the real HTTP server (``build_server``), sending through pywa_async to the fake Cloud API
on loopback, and driven by signed webhooks posted through httpx's ASGI transport (no port, no process).

After each post the driver waits until every message it carried is answered (``service._handling``
empty) and the direct replies are recorded as sent, so a test reads what the person got, and the
database, deterministically. Every call the fake refused (a payload outside Meta's limits) fails the step.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from sqlmodel import col, update

from bot.channels.whatsapp.channel import CHANNEL, WINDOW, WhatsAppService
from bot.channels.whatsapp.client import build_client
from bot.channels.whatsapp.courier import WhatsAppCourier
from bot.server import build_server
from handlers.context import Services
from handlers.engine import Engine
from models.tables import ChatWindow
from scheduler.outbox import Outbox, Pacer
from scheduler.replies import DirectReplies
from tests.channels import Shown
from tests.conftest import FAST, NOW
from tests.fakewhatsapp import APP_SECRET, PHONE_ID, TOKEN, VERIFY_TOKEN, FakeWhatsApp, SentMessage, Webhook

NIK_RE = re.compile(r"\d{16}")


def wa_id_of(phone: str) -> str:
    """The roster's +62... number as WhatsApp's wa_id (digits only)."""
    return re.sub(r"\D", "", phone)


@dataclass
class WhatsAppDriver:
    """The channel, its server and the fake; ``post`` a webhook and wait until it is answered."""

    services: Services
    fake: FakeWhatsApp
    service: WhatsAppService
    server: FastAPI
    http: httpx.AsyncClient
    checked: int = 0  # arrivals at the fake already checked for refusals
    people: dict[str, WhatsAppPerson] = field(default_factory=dict)
    outbox: Outbox | None = None

    async def post(self, webhook: Webhook) -> httpx.Response:
        response = await self.http.post("/whatsapp", content=webhook.body, headers=webhook.headers)
        await self.settle()
        return response

    async def deliver(self, webhook: Webhook) -> None:
        """Post a webhook Meta would deliver; it must be taken (200)."""
        response = await self.post(webhook)
        assert response.status_code == 200, (response.status_code, response.text)

    async def settle(self) -> None:
        """Every message being handled answered, the replies sent recorded; no call refused by Meta."""
        while self.service._handling:
            await asyncio.gather(*list(self.service._handling), return_exceptions=True)
        await self.service.direct.receipts.drain()
        self.check_refusals()

    def check_refusals(self) -> None:
        new = self.fake.arrivals[self.checked :]
        self.checked = len(self.fake.arrivals)
        refused = [a for a in new if a.status != 200]
        assert not refused, f"the fake Cloud API refused: {refused}"
        failed = [m for m in self.fake.sent if m.failed is not None]
        assert not failed, f"messages failed (e.g. outside the window): {[(m.to, m.failed) for m in failed]}"

    async def deliver_pending(self) -> None:
        """Run the channel's outbox (with its 24-hour window) until nothing is due.

        The outbox queues and sends by the wall clock, while the services' clock (which opened each
        person's window when they wrote) is the tests' fixed NOW, days earlier; in production they are one
        clock. So the windows opened at NOW are first moved to the wall clock's now: those who wrote are
        inside their window, those who never wrote are not (and get the template)."""
        now = dt.datetime.now(dt.UTC)
        async with self.services.sessions() as session:
            await session.exec(
                update(ChatWindow)
                .where(col(ChatWindow.channel) == CHANNEL, col(ChatWindow.last_inbound_at) == NOW)
                .values(last_inbound_at=now)
            )
            await session.commit()
        if self.outbox is None:  # one worker: a second would wait for the first one's lease
            self.outbox = Outbox(self.services, CHANNEL, self.service.courier, limits=FAST, window=WINDOW)
        await self.outbox.deliver_pending()
        self.check_refusals()

    def ids_sent(self) -> list[str]:
        """Every reply button's and list row's id on every message sent."""
        buttons = [b.id for m in self.fake.sent for b in m.buttons]
        return buttons + [r.id for m in self.fake.sent for r in m.rows]

    def person(self, phone: str) -> WhatsAppPerson:
        """The person with the roster's number ``phone`` (the same one each time)."""
        if phone not in self.people:
            self.people[phone] = WhatsAppPerson(self, phone)
        return self.people[phone]


def shown(message: SentMessage) -> Shown:
    """A message as the person sees it: body or caption, the buttons' or rows' labels, a file or picture."""
    choices = tuple(b.title for b in message.buttons) + tuple(r.description or r.title for r in message.rows)
    media = message.type in ("document", "image")
    file = (message.filename or "", message.content or b"") if media else None
    return Shown(message.text, choices, file)


@dataclass
class WhatsAppPerson:
    """A WhatsApp user with the roster's number ``phone``: recognised by their number (no contact to
    share), pressing reply buttons and list rows."""

    driver: WhatsAppDriver
    phone: str
    channel: str = CHANNEL
    seen: int = field(default=0)

    @property
    def wa_id(self) -> str:
        return wa_id_of(self.phone)

    @property
    def fake(self) -> FakeWhatsApp:
        return self.driver.fake

    def messages(self) -> list[SentMessage]:
        return self.fake.messages_to(self.wa_id)

    def _new(self) -> list[SentMessage]:
        new = self.messages()[self.seen :]
        self.seen += len(new)
        return new

    async def _run(self, webhook: Webhook) -> list[SentMessage]:
        await self.driver.deliver(webhook)
        return self._new()

    async def say_raw(self, text: str) -> list[SentMessage]:
        return await self._run(self.fake.text_update(self.wa_id, text))

    async def press_raw(self, title_part: str) -> list[SentMessage]:
        """Press the reply button, or pick the list row (by title or description), with ``title_part``,
        on the latest message offering one."""
        part = title_part.lower()
        for message in reversed(self.messages()):
            for button in message.buttons:
                if part in button.title.lower():
                    return await self._run(
                        self.fake.button_reply(self.wa_id, button.id, button.title, message.wamid)
                    )
            for row in message.rows:
                if part in row.title.lower() or part in (row.description or "").lower():
                    return await self._run(
                        self.fake.list_reply(self.wa_id, row.id, row.title, message.wamid, row.description)
                    )
        raise AssertionError(f"no button or row {title_part!r} shown to {self.wa_id}")

    async def press_data(self, data: str, message: SentMessage | None = None) -> list[SentMessage]:
        """A reply button with any (possibly forged) id, on ``message`` or the last one sent."""
        message = message or self.messages()[-1]
        return await self._run(self.fake.button_reply(self.wa_id, data, "Tombol", message.wamid))

    async def onboard(self) -> list[Shown]:
        """WhatsApp vouches for the number: the first message is enough."""
        return [shown(m) for m in await self.say_raw("Halo")]

    async def say(self, text: str) -> list[Shown]:
        return [shown(m) for m in await self.say_raw(text)]

    async def press(self, label: str) -> list[Shown]:
        return [shown(m) for m in await self.press_raw(label)]

    async def unread(self) -> list[Shown]:
        return [shown(m) for m in self._new()]


@dataclass
class WhatsAppPeople:
    """``tests.channels.People`` on WhatsApp."""

    driver: WhatsAppDriver
    channel: str = CHANNEL

    def __call__(self, phone: str) -> WhatsAppPerson:
        return self.driver.person(phone)

    async def deliver_pending(self) -> None:
        await self.driver.deliver_pending()


async def whatsapp_driver(services: Services, **fake_options: object) -> AsyncIterator[WhatsAppDriver]:
    """The driver for ``services``, started; stopped and closed after."""
    async with FakeWhatsApp(**fake_options) as fake:  # type: ignore[arg-type]
        engine = Engine(services)
        client = build_client(phone_id=PHONE_ID, token=TOKEN, api_url=fake.base_url)
        courier = WhatsAppCourier(client)
        service = WhatsAppService(
            engine,
            client=client,
            courier=courier,
            direct=DirectReplies(services, CHANNEL, courier, Pacer(FAST, channel=CHANNEL)),
            app_secret=APP_SECRET,
            verify_token=VERIFY_TOKEN,
            holder="tests",
        )
        server = build_server(services)
        service.mount(server)
        await service.start()
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://lanjutkan") as http:
            driver = WhatsAppDriver(services, fake, service, server, http)
            try:
                yield driver
            finally:
                await service.stop()
                await service.direct.receipts.drain()
                await client._api._session.aclose()
