"""One person as the handler tests see them on any channel: what they type or press, and what they were
shown back (the text, the choices offered, a file), whatever the widget the channel draws it with.

Telegram (``TelegramPerson``) drives the real PTB Application through ``process_update`` over the offline
fake Bot API; WhatsApp (``WhatsAppPerson`` in :mod:`tests.whatsapp_driver`) posts signed webhooks to the
real WhatsApp channel mounted on the real HTTP server, sending to the fake Cloud API. The differences
(a shared contact against a number WhatsApp vouches for, inline keyboards against reply buttons and
lists, an edited card against a new message, texts sent apart against texts merged) stay inside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tests.conftest import Chat
from tests.fakebotapi import FakeBotApi, SentMessage


@dataclass(frozen=True)
class Shown:
    """One message the person got: its text (a file's caption), the labels of the choices it offers
    (buttons, list rows, a menu), and the file or picture it carries (name, bytes)."""

    text: str
    choices: tuple[str, ...] = ()
    file: tuple[str, bytes] | None = None


class Person(Protocol):
    """A person on one channel (``channel``: "telegram" or "whatsapp")."""

    channel: str
    phone: str  # their number as the roster has it (+62...)

    async def onboard(self) -> list[Shown]:
        """Become known to the bot as the roster's officer with ``phone``; what they were shown."""
        ...

    async def say(self, text: str) -> list[Shown]:
        """Type ``text``; what they were shown back."""
        ...

    async def press(self, label: str) -> list[Shown]:
        """Press the choice whose label contains ``label`` on the latest message offering it."""
        ...

    async def unread(self) -> list[Shown]:
        """What reached them since they last looked (cards from the outbox)."""
        ...


class People(Protocol):
    """The people of one channel, and that channel's outbox."""

    channel: str

    def __call__(self, phone: str) -> Person: ...

    async def deliver_pending(self) -> None:
        """Send what the outbox holds for this channel (cards, notices)."""
        ...


def text_of(shown: list[Shown]) -> str:
    """Everything shown, as one text (WhatsApp merges texts Telegram sends apart)."""
    return "\n\n".join(s.text for s in shown)


def choices_of(shown: list[Shown]) -> list[str]:
    return [label for s in shown for label in s.choices]


# ------------------------------------------------------------------------------------------- Telegram


def _telegram_choices(markup: dict[str, Any] | None) -> tuple[str, ...]:
    if not markup:
        return ()
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return tuple(str(b["text"] if isinstance(b, dict) else b) for row in rows for b in row)


class TelegramPerson:
    """A Telegram user: a ``tests.conftest.Chat`` whose edits and files are read back too."""

    channel = "telegram"

    def __init__(self, chat: Chat, api: FakeBotApi, phone: str) -> None:
        self.chat = chat
        self.api = api
        self.phone = phone
        self._edits = len(api.edits)
        self._documents = len(api.documents)
        self._photos = len(api.photos)

    def _shown(self, messages: list[SentMessage]) -> list[Shown]:
        user = self.chat.user_id
        edits = [e for e in self.api.edits[self._edits :] if "text" in e and int(e["chat_id"]) == user]
        documents = [d for d in self.api.documents[self._documents :] if d.chat_id == user]
        documents += [p for p in self.api.photos[self._photos :] if p.chat_id == user]
        self._edits, self._documents = len(self.api.edits), len(self.api.documents)
        self._photos = len(self.api.photos)
        shown = [Shown(str(e["text"]), _telegram_choices(_markup(e.get("reply_markup")))) for e in edits]
        shown += [Shown(m.text, _telegram_choices(m.reply_markup)) for m in messages]
        shown += [Shown(d.caption or "", (), (d.filename, d.content)) for d in documents]
        return shown

    async def onboard(self) -> list[Shown]:
        await self.chat.say("/start")
        return self._shown(await self.chat.share_contact(self.phone))

    async def say(self, text: str) -> list[Shown]:
        return self._shown(await self.chat.say(text))

    async def press(self, label: str) -> list[Shown]:
        for message in reversed(self.api.messages_to(self.chat.user_id)):
            if any(label.lower() in b["text"].lower() for b in message.buttons):
                return self._shown(await self.chat.press(label, message))
        return await self.say(self._menu_label(label))  # a label of the role's keyboard: typed

    def _menu_label(self, label: str) -> str:
        for message in reversed(self.api.messages_to(self.chat.user_id)):
            markup = message.reply_markup or {}
            for row in markup.get("keyboard", []):
                for button in row:
                    text = str(button["text"] if isinstance(button, dict) else button)
                    if label.lower() in text.lower():
                        return text
        raise AssertionError(f"no choice {label!r} shown to {self.chat.user_id}")

    async def unread(self) -> list[Shown]:
        new = self.api.messages_to(self.chat.user_id)[self.chat.seen :]
        self.chat.seen += len(new)
        return self._shown(new)


def _markup(markup: Any) -> dict[str, Any] | None:
    if isinstance(markup, str):
        import json

        return dict(json.loads(markup))
    return markup if isinstance(markup, dict) else None


class TelegramPeople:
    """``People`` on Telegram: users of the real PTB Application, a user id per roster number, and the
    Telegram outbox over the same offline fake Bot API."""

    channel = "telegram"

    def __init__(self, app: Any, api: FakeBotApi, outbox: Any) -> None:
        self.app = app
        self.api = api
        self.outbox = outbox
        self._people: dict[str, TelegramPerson] = {}

    def __call__(self, phone: str) -> TelegramPerson:
        if phone not in self._people:
            user_id = 10_000 + int(phone[-4:])  # a Telegram user id of their own per number
            self._people[phone] = TelegramPerson(Chat(self.app, self.api, user_id), self.api, phone)
        return self._people[phone]

    async def deliver_pending(self) -> None:
        await self.outbox.deliver_pending()
