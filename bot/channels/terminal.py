"""Terminal channel for `make demo`: the same engine, buttons shown as numbered choices, no network."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from handlers import texts
from handlers.engine import Engine
from handlers.messages import Button, Inbound, Kind, Reply

CHANNEL = "terminal"


@dataclass(frozen=True, slots=True)
class Persona:
    key: str  # "operator", "camat", "dinas"
    name: str
    phone: str  # as on the roster, shared when the persona presses the contact button


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
    ) -> None:
        self.engine = engine
        self.personas = {p.key: p for p in personas}
        self.persona = personas[0]
        self.out = out
        self.read_line = read_line or sys.stdin.readline
        self.choices: dict[str, list[Button]] = {}  # last buttons shown to each persona
        self.contact_asked: dict[str, bool] = {}

    def show(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def render(self, replies: list[Reply]) -> None:
        buttons: list[Button] = []
        asked = False
        for reply in replies:
            self.show(f"\n🤖 {reply.text}")
            if reply.buttons:
                buttons = [b for row in reply.buttons for b in row]
                for i, button in enumerate(buttons, 1):
                    self.show(f"   [{i}] {button.label}")
            if reply.ask_contact:
                asked = True
                self.show(f"   [0] {texts.SHARE_CONTACT_BUTTON}")
            if reply.menu:
                self.show("   menu: " + " · ".join(item for row in reply.menu for item in row))
        self.choices[self.persona.key] = buttons
        self.contact_asked[self.persona.key] = asked

    def to_inbound(self, line: str) -> Inbound | None:
        """A typed line as the current persona would send it; numbers press the buttons shown last."""
        persona = self.persona
        user_id = f"demo-{persona.key}"
        choice = line.strip()
        if choice == "0" and self.contact_asked.get(persona.key):
            return Inbound(
                CHANNEL, user_id, user_id, Kind.CONTACT, contact_phone=persona.phone, contact_user_id=user_id
            )
        buttons = self.choices.get(persona.key, [])
        if choice.isdigit() and 1 <= int(choice) <= len(buttons):
            return Inbound(CHANNEL, user_id, user_id, Kind.BUTTON, data=buttons[int(choice) - 1].data)
        return Inbound.from_text(channel=CHANNEL, user_id=user_id, chat_id=user_id, text=line.rstrip("\n"))

    def switch(self, key: str) -> None:
        persona = self.personas.get(key.strip().lower())
        if persona is None:
            self.show(f"Persona tidak dikenal. Pilih: {', '.join(self.personas)}")
            return
        self.persona = persona
        self.show(f"\n— Sekarang Anda {persona.name} ({persona.key}). Ketik /start untuk mulai. —")

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
