"""Terminal channel for `make demo`: the same engine, buttons shown as numbered choices, no network."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from handlers import texts
from handlers.buttons import is_card
from handlers.engine import Engine
from handlers.messages import Button, Inbound, Kind, Reply
from models.private_files import private_file
from scheduler.outbox import Part

CHANNEL = "terminal"


@dataclass(frozen=True, slots=True)
class Persona:
    key: str  # "operator", "camat", "dinas"
    name: str
    phone: str  # as on the roster, shared when the persona presses the contact button


@dataclass
class TerminalCourier:
    """The outbox's way out in the demo: messages wait in each persona's mailbox until it is shown."""

    mailbox: dict[str, list[Reply]] = field(default_factory=dict)
    _refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Put a message in the persona's mailbox."""
        self.mailbox.setdefault(chat_id, []).append(reply)
        return str(next(self._refs))

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        """A card's outcome, shown as a new line in the mailbox (a terminal cannot rewrite the past)."""
        self.mailbox.setdefault(chat_id, []).append(Reply("(kartu diperbarui)\n" + reply.text))

    def plan(self, replies: Sequence[Reply], pressed: str | None) -> list[TerminalPart]:
        """One mailbox entry per reply (the demo records no replies; for the outbox's protocol)."""
        return [TerminalPart(reply) for reply in replies]

    async def perform(self, chat_id: str, part: Part) -> str | None:
        """Put a planned reply in the persona's mailbox."""
        assert isinstance(part, TerminalPart)
        return await self.send(chat_id, part.reply)

    def take(self, chat_id: str) -> list[Reply]:
        return self.mailbox.pop(chat_id, [])


@dataclass(frozen=True, slots=True)
class TerminalPart:
    reply: Reply

    @property
    def keep(self) -> str | None:
        return self.reply.keep

    @property
    def aside(self) -> bool:
        return False


HELP = (
    "Perintah demo: /persona operator|camat|dinas — ganti peran · /keluar — selesai.\n"
    "Ketik angka untuk menekan tombol; ketik teks biasa untuk menjawab."
)


class TerminalChannel:
    """Reads lines, sends them to the engine as the current persona, prints the replies."""

    def __init__(
        self,
        engine: Engine,
        personas: list[Persona],
        *,
        out: TextIO = sys.stdout,
        read_line: Callable[[], str] | None = None,
        courier: TerminalCourier | None = None,
        deliver: Callable[[], object] | None = None,
        files: Path = Path("data") / "ekspor",
    ) -> None:
        self.files = files
        self.engine = engine
        self.courier = courier or TerminalCourier()
        self.deliver = deliver  # runs the outbox: ``await deliver()`` after each message
        self.personas = {p.key: p for p in personas}
        self.persona = personas[0]
        self.out = out
        self.read_line = read_line or sys.stdin.readline
        self.choices: dict[str, list[Button]] = {}  # last buttons shown to each persona
        self.contact_asked: dict[str, bool] = {}
        self._refs = itertools.count(1)  # ids of the lines typed and printed, as a chat numbers messages
        self.kept: dict[str, list[tuple[str, str]]] = {}  # per persona, replies printed with ``keep``

    def render(self, replies: list[Reply]) -> None:
        """Print replies; those on earlier messages (delete, mask) as one note: printed lines stay."""
        earlier = [r for r in replies if r.target is not None]
        self._render([r for r in replies if r.target is None])
        if earlier:
            self.show(
                texts.demo_earlier_messages(sum(r.delete for r in earlier), sum(r.edit for r in earlier))
            )

    def show(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _render(self, replies: list[Reply]) -> None:
        buttons: list[Button] = []
        asked = False
        for reply in replies:
            self.show(f"\n🤖 {'(diperbarui) ' if reply.edit else ''}{reply.text}")
            if reply.keep is not None:  # handed to the engine with the persona's next line
                self.kept.setdefault(self.user_id(self.persona), []).append(
                    (reply.keep, str(next(self._refs)))
                )
            if reply.document is not None:
                self.show(f"   📎 {self.save(*reply.document)}")
            if reply.photo is not None:
                self.show(f"   🖼 {self.save('grafik-ringkasan.png', reply.photo)}")
            if reply.buttons:
                buttons = [b for row in reply.buttons for b in row]
                for i, button in enumerate(buttons, 1):
                    self.show(f"   [{i}] {button.label}")
            if reply.ask_contact:
                asked = True
                self.show(f"   [0] {texts.SHARE_CONTACT_BUTTON}")
            if reply.menu:
                self.show("   menu: " + " · ".join(item for row in reply.menu for item in row))
        previous = self.choices.get(self.persona.key, [])
        on_card = bool(previous) and is_card(previous[0].data)
        # A plain answer to a card's button (the revealed NIK) leaves the card pressable, as in a chat.
        if buttons or not on_card or any(r.edit for r in replies):
            self.choices[self.persona.key] = buttons
        self.contact_asked[self.persona.key] = asked

    def save(self, name: str, content: bytes) -> Path:
        """A file the bot sends, written where the demo keeps its data (a chat would offer a download)."""
        self.files.mkdir(parents=True, exist_ok=True)
        path = self.files / Path(name).name
        with private_file(path) as sink:  # it may hold full NIKs: a new file readable by this user only
            sink.write(content)
        return path

    def to_inbound(self, line: str) -> Inbound | None:
        """A typed line as the current persona would send it; numbers press the buttons shown last."""
        persona = self.persona
        user_id = self.user_id(persona)
        sent = tuple(self.kept.pop(user_id, []))
        choice = line.strip()
        if choice == "0" and self.contact_asked.get(persona.key):
            return Inbound(
                CHANNEL,
                user_id,
                user_id,
                Kind.CONTACT,
                contact_phone=persona.phone,
                contact_user_id=user_id,
                sent=sent,
            )
        buttons = self.choices.get(persona.key, [])
        if choice.isdigit() and 1 <= int(choice) <= len(buttons):
            data = buttons[int(choice) - 1].data
            return Inbound(CHANNEL, user_id, user_id, Kind.BUTTON, data=data, sent=sent)
        typed = Inbound.from_text(
            channel=CHANNEL,
            user_id=user_id,
            chat_id=user_id,
            text=line.rstrip("\n"),
            message_ref=str(next(self._refs)),
        )
        return dataclasses.replace(typed, sent=sent)

    def switch(self, key: str) -> None:
        persona = self.personas.get(key.strip().lower())
        if persona is None:
            self.show(f"Persona tidak dikenal. Pilih: {', '.join(self.personas)}")
            return
        self.persona = persona
        self.show(f"\n— Sekarang Anda {persona.name} ({persona.key}). Ketik /start untuk mulai. —")
        self.show_mailbox()

    def user_id(self, persona: Persona) -> str:
        return f"demo-{persona.key}"

    def show_mailbox(self) -> None:
        """Messages the outbox delivered to the current persona while another one was typing."""
        waiting = self.courier.take(self.user_id(self.persona))
        if waiting:
            self.show(f"📨 {len(waiting)} pesan masuk:")
            self.render(waiting)

    async def _after_turn(self) -> None:
        if self.deliver is None:
            return
        await self.deliver()  # type: ignore[misc]
        self.show_mailbox()
        for key, persona in self.personas.items():
            count = len(self.courier.mailbox.get(self.user_id(persona), []))
            if count and persona is not self.persona:
                self.show(f"   📨 {count} pesan baru untuk {key} — ketik /persona {key} untuk melihatnya")

    async def run(self) -> None:
        self.show(HELP)
        self.switch(self.persona.key)
        while True:
            self.out.write(f"\n[{self.persona.key}] > ")
            self.out.flush()
            line = await asyncio.to_thread(self.read_line)
            if line == "":  # end of input
                self.show("")
                return
            stripped = line.strip()
            if stripped in {"/keluar", "/quit", "/exit"}:
                self.show("Sampai jumpa.")
                return
            if stripped.startswith("/persona"):
                self.switch(stripped.removeprefix("/persona"))
                continue
            if not stripped:
                continue
            inbound = self.to_inbound(line)
            if inbound is not None:
                self.render(await self.engine.handle(inbound))
                await self._after_turn()
