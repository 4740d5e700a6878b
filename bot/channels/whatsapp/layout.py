"""How a text with choices becomes WhatsApp messages within Meta's limits, never truncating silently.

WhatsApp has no inline keyboards: at most 3 reply buttons (titles of 20 characters), or a list of at most
10 rows (titles of 24, descriptions of 72) opened by a button (20). A body carries 1024 characters with
buttons and 4096 with a list or alone. So:

- up to 3 choices whose labels fit (and differ) are reply buttons;
- otherwise a list; more than 10 choices are several lists, evenly filled (the 11 categories: 6 and 5),
  each one pressable, so no choice needs a page that remembers the others;
- a label longer than a row title is shortened at a word and given whole as the row's description;
- a text too long for its message goes first, as plain messages split at line breaks, and the choices
  follow with its last part.

Pure: no pywa, no network; the courier turns these values into Cloud API calls. Texts are cut by
``handlers.messages.split_text``, as for every channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers.messages import split_text

MAX_BUTTONS = 3
BUTTON_TITLE = 20
LIST_ROWS = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
LIST_BUTTON = 20
BODY_WITH_BUTTONS = 1024
BODY = 4096  # a text alone, or a list's body
MORE = "Pilihan lainnya ({page}/{pages}):"
# A role's menu (Telegram's persistent keyboard) is a list on WhatsApp: a row's id is this prefix and the
# label, which the inbound side turns back into the label typed (as a menu press arrives on Telegram).
MENU_PREFIX = "menu:"


@dataclass(frozen=True, slots=True)
class Choice:
    id: str  # the button data the engine reads back (at most 64 bytes, never a NIK)
    label: str


@dataclass(frozen=True, slots=True)
class Text:
    body: str


@dataclass(frozen=True, slots=True)
class Buttons:
    body: str
    buttons: tuple[Choice, ...]  # titles within BUTTON_TITLE


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ChoiceList:
    body: str
    button: str
    rows: tuple[Row, ...]


Message = Text | Buttons | ChoiceList


def lay_out(text: str, choices: Sequence[Choice], *, open_label: str = "Pilih") -> list[Message]:
    """The messages that show ``text`` and offer every one of ``choices``, in order."""
    if not choices:
        return [Text(part) for part in split_text(text, BODY)]
    if _fit_as_buttons(choices):
        *before, last = split_text(text, BODY_WITH_BUTTONS) or [open_label]
        return [*(Text(p) for p in before), Buttons(last, tuple(choices))]
    *before, last = split_text(text, BODY) or [open_label]
    pages = _pages(list(choices))
    button = shorten(open_label, LIST_BUTTON)
    bodies = [last, *(MORE.format(page=i + 1, pages=len(pages)) for i in range(1, len(pages)))]
    lists = [
        ChoiceList(body, button, tuple(map(row, page))) for body, page in zip(bodies, pages, strict=True)
    ]
    return [*(Text(p) for p in before), *lists]


def _fit_as_buttons(choices: Sequence[Choice]) -> bool:
    labels = [c.label.strip() for c in choices]
    return (
        len(choices) <= MAX_BUTTONS
        and all(0 < len(label) <= BUTTON_TITLE for label in labels)
        and len(set(labels)) == len(labels)  # WhatsApp refuses two buttons with one title
    )


def _pages(choices: list[Choice]) -> list[list[Choice]]:
    """At most LIST_ROWS per list, the lists as evenly filled as possible."""
    count = -(-len(choices) // LIST_ROWS)
    size = -(-len(choices) // count)
    return [choices[i : i + size] for i in range(0, len(choices), size)]


def row(choice: Choice) -> Row:
    """A list row: the label as title, or shortened with the whole label as description."""
    label = choice.label.strip() or "—"
    if len(label) <= ROW_TITLE:
        return Row(choice.id, label)
    return Row(choice.id, shorten(label, ROW_TITLE), shorten(label, ROW_DESCRIPTION))


def shorten(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: cut at a word where one is near, marked with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"
