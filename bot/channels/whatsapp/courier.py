"""Cloud API calls made for neutral replies, and their errors sorted for the outbox.

One renderer for both paths: :meth:`WhatsAppCourier.plan` turns a turn's replies into parts (one message
each) and :meth:`WhatsAppCourier.perform` sends one; ``send`` and ``edit`` (for the outbox's cards and
notices) go through the same two. What WhatsApp cannot do is done another way or skipped:

- buttons become reply buttons or lists (``layout.lay_out``), a role's menu a list whose rows carry
  ``MENU_PREFIX`` and the label;
- a card's outcome (``Reply.edit``) cannot replace the card: it is a new message;
- changes to earlier messages (``Reply.target``: mask a read-back, remove a typed NIK) cannot be made and
  are skipped; the contact request is not needed (WhatsApp knows the number).

Logs name an error's type and code only: never a text, a wa_id (a phone number) or the token.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import aiohttp
import httpx
from pywa_async import WhatsApp, errors, types
from pywa_async.types.templates import TemplateLanguage

from bot.channels.whatsapp import layout
from bot.channels.whatsapp.layout import (
    BODY,
    MENU_PREFIX,
    Buttons,
    Choice,
    ChoiceList,
    Message,
    Text,
    lay_out,
)
from bot.channels.whatsapp.templates import send_params, template_for
from bot.health import ChannelHealth
from handlers.messages import Reply, join_texts, split_text, textual
from scheduler.outbox import OutsideWindow, RetryLater, Undeliverable
from scheduler.outbox import Part as PlannedPart

log = logging.getLogger(__name__)

MAX_CAPTION = 1024  # a media message's caption
MENU_BUTTON = "Menu"  # the button that opens the menu list, and the list's section title
MENU_BODY = "Menu LANJUTKAN:"  # the menu's own message, after a reply that has choices of its own
CHOICES_BODY = "Silakan pilih:"  # the choices that follow a file or a picture
PICTURE_NAME = "grafik.png"
# Errors for a payload we built and Meta refused: a bug of ours, never better on a retry
REFUSED = frozenset({100, 131008, 131009, 131053})
TRANSIENT = frozenset({1, 2, 131000, 131016})
# The files the bot sends (exports), by suffix: Python's guess depends on the host's mime.types, which a
# slim container lacks, and Meta refuses a document it cannot type
DOCUMENT_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
}


@dataclass(frozen=True, slots=True)
class Media:
    """A file or a picture to upload and send, with its caption."""

    kind: Literal["document", "image"]
    filename: str
    mime_type: str
    content: bytes
    caption: str


@dataclass(frozen=True, slots=True)
class Part:
    """One message of a turn's replies (see :meth:`WhatsAppCourier.plan`)."""

    message: Message | Media
    keep: str | None = None  # the note to hand back with this message's wamid

    @property
    def aside(self) -> bool:
        """Nothing is done beside the messages: WhatsApp cannot change an earlier one."""
        return False


class WhatsAppCourier:
    """The WhatsApp channel's way out: replies as Cloud API messages, errors sorted for the outbox."""

    def __init__(self, client: WhatsApp, *, health: ChannelHealth | None = None) -> None:
        self.client = client
        self.health = health or ChannelHealth("whatsapp", webhook=True)  # /readyz: the last call that worked

    # ------------------------------------------------------------------------------------- planning

    def plan(self, replies: Sequence[Reply], pressed: str | None) -> list[Part]:
        """A turn's replies as messages, in order, the same every time (``pressed`` is not used: a card
        cannot be rewritten, its outcome is a new message)."""
        parts: list[Part] = []
        for reply in merge([r for r in replies if r.target is None]):
            messages = render(reply)
            parts += [Part(m, keep=reply.keep if i == 0 else None) for i, m in enumerate(messages)]
        return parts

    async def perform(self, chat_id: str, part: PlannedPart) -> str | None:
        """Send one message of :meth:`plan`; its wamid."""
        assert isinstance(part, Part)
        async with self.health.watch(), sorted_errors():
            return await self._send(chat_id, part.message)

    # ------------------------------------------------------------------------------------ the outbox

    async def send(self, chat_id: str, reply: Reply) -> str | None:
        """Send a reply (as one or more messages); the wamid of the last one."""
        ref = None
        for part in self.plan([reply], None):
            ref = await self.perform(chat_id, part) or ref
        return ref

    async def edit(self, chat_id: str, message_ref: str, reply: Reply) -> None:
        """A card's outcome: WhatsApp cannot edit the card, so the outcome is a new message (its wamid
        is not handed back: the outbox's Courier.edit returns nothing)."""
        await self.send(chat_id, reply)

    async def send_template(self, chat_id: str, *, purpose: str, count: int) -> str | None:
        """The project's template for ``purpose`` (delivered outside the 24-hour window), with ``count``."""
        template = template_for(purpose)
        async with self.health.watch(), sorted_errors():
            sent = await self.client.send_template(
                to=chat_id,
                name=template.name,
                language=TemplateLanguage(template.language),
                params=send_params(template, count),
            )
        return sent.id

    async def _send(self, chat_id: str, message: Message | Media) -> str:
        client = self.client
        if isinstance(message, Text):
            return (await client.send_message(to=chat_id, text=message.body)).id
        if isinstance(message, Buttons):
            buttons = [types.Button(title=b.label, callback_data=b.id) for b in message.buttons]
            return (await client.send_message(to=chat_id, text=message.body, buttons=buttons)).id
        if isinstance(message, ChoiceList):
            rows = [types.SectionRow(r.title, r.id, r.description) for r in message.rows]
            # Meta needs a section title (1..24) with several sections; one, named like the button
            section = types.Section(title=message.button, rows=rows)
            sections = types.SectionList(button_title=message.button, sections=[section])
            return (await client.send_message(to=chat_id, text=message.body, buttons=sections)).id
        caption = message.caption or None
        if message.kind == "document":
            sent = await client.send_document(
                to=chat_id,
                document=message.content,
                filename=message.filename,
                caption=caption,
                mime_type=message.mime_type,
            )
        else:
            sent = await client.send_image(
                to=chat_id, image=message.content, caption=caption, mime_type=message.mime_type
            )
        return sent.id


# ----------------------------------------------------------------------------------------- rendering


def merge(replies: Sequence[Reply]) -> list[Reply]:
    """Join plain texts into the message that follows them: fewer messages, and Meta lets a business
    send one person only a burst, then one every few seconds."""
    return join_texts(replies, limit=BODY, alone=_plain)


def _plain(reply: Reply) -> bool:
    return textual(reply) and not reply.buttons and not reply.menu and bool(reply.text.strip())


def render(reply: Reply) -> list[Message | Media]:
    """One reply as WhatsApp messages, each within Meta's limits."""
    choices = [Choice(b.data, b.label) for row in reply.buttons for b in row]
    labels = [label for row in reply.menu or () for label in row]
    if reply.document is not None or reply.photo is not None:
        return [*_media(reply), *_choices(CHOICES_BODY, choices), *_menu(MENU_BODY, labels)]
    if not choices and labels:
        *before, last = split_text(reply.text, BODY) or [MENU_BODY]
        return [*(Text(p) for p in before), *_menu(last, labels)]
    messages: list[Message | Media] = []
    if choices or reply.text.strip():
        messages += lay_out(reply.text, choices)
    return [*messages, *_menu(MENU_BODY, labels)]


def _media(reply: Reply) -> list[Message | Media]:
    """The file or picture, the text as its caption (a longer text goes first, as text messages)."""
    text = reply.text
    before: list[Message | Media] = []
    if len(text) > MAX_CAPTION:
        before, text = [Text(p) for p in split_text(text, BODY)], ""
    if reply.document is not None:
        name, content = reply.document
        suffix = name[name.rfind(".") :].lower() if "." in name else ""
        mime = DOCUMENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return [*before, Media("document", name, mime, content, text)]
    assert reply.photo is not None
    return [*before, Media("image", PICTURE_NAME, "image/png", reply.photo, text)]


def _choices(body: str, choices: list[Choice]) -> list[Message]:
    return lay_out(body, choices) if choices else []


def _menu(body: str, labels: list[str]) -> list[Message]:
    """A role's menu as lists the person can press (10 rows each); none for no labels."""
    pages = [labels[i : i + layout.LIST_ROWS] for i in range(0, len(labels), layout.LIST_ROWS)]
    return [
        ChoiceList(
            body if i == 0 else MENU_BODY,
            MENU_BUTTON,
            tuple(layout.row(Choice(MENU_PREFIX + label, label)) for label in page),
        )
        for i, page in enumerate(pages)
    ]


# -------------------------------------------------------------------------------------------- errors


def failure_reason(code: int | None) -> str:
    """A failure Meta reported later in a status webhook, named as :func:`sorted_errors` names the same
    refusal when it comes at once (the dinas reads one word for one cause)."""
    if code == 131026:
        return "not_on_whatsapp"
    if code == 131047:
        return "outside_window"
    return f"whatsapp_{code}" if code else "whatsapp_failed"


@contextlib.asynccontextmanager
async def sorted_errors() -> AsyncIterator[None]:
    """Cloud API errors as the outbox needs them: retry later, or never deliverable (with a reason)."""
    try:
        yield
    except errors.RateLimitHit:  # the business number's throughput: the whole channel waits
        raise RetryLater("130429", retry_after=1.0, flood=True) from None
    except errors.TooManyMessages:  # too many to this one person: only their messages wait
        raise RetryLater("131056", retry_after=6.0) from None
    except errors.MessageUndeliverable:
        raise Undeliverable("not_on_whatsapp") from None
    except errors.ReEngagementMessage:
        raise OutsideWindow("outside_window") from None
    except errors.AuthorizationError as error:
        # The operator must fix the setting; messages wait meanwhile (never log the token itself)
        log.error("WhatsApp refused WHATSAPP_TOKEN: %s code %s", type(error).__name__, error.code)
        raise RetryLater(f"token_{error.code}") from None
    except errors.ThrottlingError as error:  # other limits of the business number (spam, daily)
        log.warning("WhatsApp throttled the number: %s code %s", type(error).__name__, error.code)
        raise RetryLater(str(error.code), retry_after=60.0, flood=True) from None
    except errors.WhatsAppError as error:
        code = error.code
        if code in REFUSED or 132000 <= code < 133000:  # our payload or our template: a bug
            log.error("WhatsApp refused a message we built: %s code %s", type(error).__name__, code)
            raise Undeliverable(f"refused_{code}") from None
        if code not in TRANSIENT and not error.is_transient and (error.status_code or 0) < 500:
            log.warning("WhatsApp error, retried: %s code %s", type(error).__name__, code)
        raise RetryLater(str(code)) from None
    except httpx.TimeoutException as error:
        # aiohttp's refused connection reaches httpx as a connect timeout: name it for what it is
        refused = isinstance(error.__cause__, aiohttp.ClientConnectorError)
        raise RetryLater("network" if refused else "timeout") from None
    except httpx.TransportError:
        raise RetryLater("network") from None


if TYPE_CHECKING:
    from scheduler.outbox import Courier

    _courier: type[Courier] = WhatsAppCourier
