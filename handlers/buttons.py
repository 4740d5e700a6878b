"""Button data: the one codec for every button the engine makes and every press it reads back.

A button carries at most 64 bytes (Telegram's ``callback_data`` limit), ids and an action only, never
personal data. Anyone can forge what comes back, so :func:`decode` reads it strictly and never raises:
malformed, forged, over-long or non-ASCII data is None. Handlers build :class:`Press` values and read
them; channels ask :func:`retires_keyboard` and :func:`is_card` instead of knowing the prefixes.

The wire format is today's, unchanged (cards already sent in chats must keep working after a deploy);
``<ref>`` is ``<id>`` or ``<id>.<version>``, see ``cards.about``:

``i:<token>:<step>:<value>`` an intake question · ``d:<ref>:<act>`` decide on a card ·
``r:<ref>:<reason>`` a rejection reason · ``f:<ref>:<field>|go|skip`` what a returned proposal must fix ·
``q:<page>|new`` the queue · ``o:<ref>|next`` open a card · ``b:ask|no|go`` bulk approval ·
``x:<kind>`` a choice of /ekspor · ``p:<id>`` Perbaiki (correct a returned proposal) ·
``s:<token>:<step>:<value>`` a step of /siaran (an announcement), shaped like an intake answer.
``v:<ref>:<act>`` a re-verification decision (``v:0:<act>`` the round, the lists) ·
``w:<ref>:<reason>`` why a participant no longer qualifies.

The codec checks shape (ids, ASCII words); which actions exist stays with each handler, which answers an
unknown one as a stale button.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from handlers.messages import Button
from models.rules.ids import parse_id

MAX_BYTES = 64  # Telegram's callback_data limit
# A NIK is 16 digits; no id of ours comes near, so a run this long in button data is personal data.
_NIK_LIKE = re.compile(r"\d{16}", re.ASCII)
# ASCII only: "²" and "١" are digits to str.isdigit() and int() reads "١"; no button of ours carries them.
_REF = re.compile(r"(\d{1,9})(?:\.(\d{1,4}))?", re.ASCII)
_WORD = re.compile(r"[A-Za-z0-9_]{1,16}", re.ASCII)
_TOKEN = re.compile(r"[A-Za-z0-9]{1,16}", re.ASCII)
QUEUE_NEW = "new"  # q:new opens /antrian as a new message; q:N turns the page of the list pressed
OPEN_NEXT = "next"  # o:next opens the first card still waiting


class Kind(StrEnum):
    """What a button does; the value is its prefix on the wire."""

    INTAKE = "i"
    DECIDE = "d"
    REASON = "r"
    FIX_FIELD = "f"
    QUEUE = "q"
    OPEN = "o"
    BULK = "b"
    EXPORT = "x"
    FIX = "p"
    SIARAN = "s"
    VERIFY = "v"  # re-verification: v:<item>.<version>:<act>, or v:0:<act> for the round and lists
    VERIFY_REASON = "w"  # why a participant no longer qualifies: w:<item>.<version>:<reason>


# The approver's buttons, all handled by ``handlers.approval``.
APPROVAL = frozenset({Kind.DECIDE, Kind.REASON, Kind.FIX_FIELD, Kind.QUEUE, Kind.OPEN, Kind.BULK})
# Kinds whose data is a conversation's token, its step and the answer: intake, /siaran.
_STEPPED = frozenset({Kind.INTAKE, Kind.SIARAN})
# Kinds whose data names a proposal by ``<ref>`` and carries an action after it.
_REF_ACTION = frozenset({Kind.DECIDE, Kind.REASON, Kind.FIX_FIELD, Kind.VERIFY, Kind.VERIFY_REASON})


@dataclass(frozen=True, slots=True)
class Press:
    """One button's meaning: its kind, the ids it names and an action."""

    kind: Kind
    action: str = ""  # "ok", a reason code, a field, an export kind, an intake answer, "next", "new"...
    id: int | None = None  # a proposal's id, or the queue's page
    version: int | None = None  # the proposal's resubmissions when the button was made (see cards.about)
    token: str = ""  # intake, /siaran: the conversation's random token
    step: str = ""  # intake, /siaran: the step whose question carried the button


def encode(press: Press) -> str:
    """The button data of ``press``; ValueError for anything the wire or the privacy rule refuses."""
    data = _format(press)
    # decode holds the rules (64 bytes, no NIK-like run, ASCII words, ids in range): what it would not read
    # back exactly, a chat would answer as a stale button, so making it is a bug.
    if decode(data) != press:
        raise ValueError(f"not encodable: {press!r}")
    return data


def button(label: str, press: Press) -> Button:
    """A button showing ``label`` that sends ``press``."""
    return Button(label, encode(press))


def decode(data: str) -> Press | None:
    """What the button data means, or None for anything malformed or forged (never raises)."""
    if not data or len(data.encode(errors="replace")) > MAX_BYTES or not data.isascii():
        return None
    if _NIK_LIKE.search(data):
        return None
    head, _, rest = data.partition(":")
    try:
        kind = Kind(head)
    except ValueError:
        return None
    parts = rest.split(":")
    if kind in _STEPPED:
        if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _WORD.fullmatch(parts[1]):
            return None
        if not _WORD.fullmatch(parts[2]):
            return None
        return Press(kind, action=parts[2], token=parts[0], step=parts[1])
    if kind in _REF_ACTION:
        if len(parts) != 2 or (ref := _ref(parts[0])) is None or not _WORD.fullmatch(parts[1]):
            return None
        return Press(kind, action=parts[1], id=ref[0], version=ref[1])
    if len(parts) != 1:
        return None
    arg = parts[0]
    match kind:
        case Kind.QUEUE:
            page = parse_id(arg)
            if page is not None:
                return Press(kind, id=page)
            return Press(kind, action=arg) if arg == QUEUE_NEW else None
        case Kind.OPEN:
            if arg == OPEN_NEXT:
                return Press(kind, action=arg)
            if (ref := _ref(arg)) is None:
                return None
            return Press(kind, id=ref[0], version=ref[1])
        case Kind.FIX:
            proposal_id = parse_id(arg)
            return None if proposal_id is None else Press(kind, id=proposal_id)
        case _:  # BULK, EXPORT: one word
            return Press(kind, action=arg) if _WORD.fullmatch(arg) else None


def claimed(data: str) -> Kind | None:
    """The kind ``data``'s prefix claims, even when malformed: a forged press is answered the way that
    kind's handler answers one (an approver's check first), as it was before the codec."""
    try:
        return Kind(data.partition(":")[0])
    except ValueError:
        return None


def retires_keyboard(data: str) -> bool:
    """Whether pressing ``data`` spends its message's buttons (an intake question) rather than the reply
    editing the pressed message in place (a card, a list)."""
    # even a forged intake press: as before the codec; a /siaran question's buttons are spent the same way
    return data.startswith((Kind.INTAKE + ":", Kind.SIARAN + ":"))


def is_card(data: str) -> bool:
    """Whether ``data`` is a decision button of a proposal's card."""
    press = decode(data)
    return press is not None and press.kind is Kind.DECIDE


def _format(press: Press) -> str:
    kind = press.kind
    if kind in _STEPPED:
        return f"{kind}:{press.token}:{press.step}:{press.action}"
    if kind in _REF_ACTION:
        return f"{kind}:{_ref_text(press)}:{press.action}"
    if kind in {Kind.QUEUE, Kind.FIX} and press.id is not None:
        return f"{kind}:{press.id}"
    if kind is Kind.OPEN and press.id is not None:
        return f"{kind}:{_ref_text(press)}"
    return f"{kind}:{press.action}"


def _ref_text(press: Press) -> str:
    return f"{press.id}" if press.version is None else f"{press.id}.{press.version}"


def _ref(text: str) -> tuple[int, int | None] | None:
    named = _REF.fullmatch(text)
    if named is None:
        return None
    version = named.group(2)
    return int(named.group(1)), None if version is None else int(version)
