"""Who may announce to whom (/siaran): the audiences, the regions a sender may address, the recipients,
the text's cleaning, a list's pages and whether an announcement is still being sent.

Region codes are Kemendagri's: the kabupaten "12.17", a kecamatan "12.17.01", a desa "12.17.01.2001".
Pure Python; no database, no chat framework.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from models.rules.privacy import mask_nik_like
from models.rules.status import Role

MAX_TEXT = 1000  # characters: an announcement is read on a phone, and fits one WhatsApp message with room
PAGE_SIZE = 8  # regions per page: with "previous" and "next", at most 10 rows (a WhatsApp list)
KABUPATEN_DEPTH, KECAMATAN_DEPTH, DESA_DEPTH = 2, 3, 4


class Audience(StrEnum):
    """Whom an announcement is for, by role."""

    OPERATOR = "operator"
    CAMAT = "camat"
    ALL = "all"


AUDIENCE_ROLES: dict[Audience, frozenset[Role]] = {
    Audience.OPERATOR: frozenset({Role.OPERATOR}),
    Audience.CAMAT: frozenset({Role.CAMAT}),
    Audience.ALL: frozenset({Role.OPERATOR, Role.CAMAT, Role.DINAS}),
}


def may_announce(role: Role) -> bool:
    """The dinas and the camat announce; an operator does not."""
    return role in {Role.DINAS, Role.CAMAT}


def depth(code: str) -> int:
    """How many parts a region code has: 2 a kabupaten, 3 a kecamatan, 4 a desa."""
    return len(code.split("."))


def within(code: str, scope: str) -> bool:
    """Whether region ``code`` is ``scope`` or lies inside it ("12.17.01.2001" within "12.17.01")."""
    return code == scope or code.startswith(scope + ".")


def may_address(role: Role, sender_region: str, region_code: str, *, kabupaten_code: str) -> bool:
    """Whether a sender may address ``region_code``: the dinas the kabupaten or one of its kecamatan, a
    camat their own kecamatan or one of its desa. A roster row of another kabupaten covers nothing here."""
    if not within(region_code, kabupaten_code):
        return False
    if role is Role.DINAS:
        return sender_region == kabupaten_code and depth(region_code) in {KABUPATEN_DEPTH, KECAMATAN_DEPTH}
    if role is Role.CAMAT:
        return (
            depth(sender_region) == KECAMATAN_DEPTH
            and within(region_code, sender_region)
            and depth(region_code) in {KECAMATAN_DEPTH, DESA_DEPTH}
        )
    return False


@dataclass(frozen=True, slots=True)
class Candidate:
    """An officer as the roster has them, for choosing recipients."""

    id: int
    role: Role
    region_code: str
    active: bool = True


def recipients(
    officers: Iterable[Candidate], *, audience: Audience, region_code: str, sender_id: int
) -> list[int]:
    """The ids of the active officers of the audience's roles whose region lies in ``region_code``; never
    the sender (they wrote it)."""
    roles = AUDIENCE_ROLES[audience]
    return [
        officer.id
        for officer in officers
        if officer.active
        and officer.id != sender_id
        and officer.role in roles
        and within(officer.region_code, region_code)
    ]


@dataclass(frozen=True, slots=True)
class Reach:
    """How an announcement reaches its recipients: officers, accounts per channel (an officer bound on two
    chat apps counts on both), and officers bound on none (``reach_unbound``: the channel that reaches
    them by their roster phone, or None when nothing does)."""

    officers: int
    channels: dict[str, int] = field(default_factory=dict)
    unbound: int = 0
    reach_unbound: str | None = None

    @property
    def reached(self) -> int:
        """Officers who get it: those bound somewhere, and the unbound when a channel reaches them."""
        return self.officers if self.reach_unbound else self.officers - self.unbound


def reach(
    officer_ids: Sequence[int], channels_of: Mapping[int, Sequence[str]], *, reach_unbound: str | None
) -> Reach:
    """Count the channels that carry an announcement to ``officer_ids`` (``channels_of``: the channels each
    is bound on)."""
    counts: dict[str, int] = {}
    unbound = 0
    for officer_id in officer_ids:
        bound = set(channels_of.get(officer_id, ()))
        if not bound:
            unbound += 1
            if reach_unbound is not None:
                bound = {reach_unbound}
        for channel in bound:
            counts[channel] = counts.get(channel, 0) + 1
    return Reach(len(officer_ids), dict(sorted(counts.items())), unbound, reach_unbound)


class TextProblem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"


def clean_announcement(text: str) -> tuple[str, TextProblem | None]:
    """The text as it will be sent: control characters out, a NIK masked, trimmed; and what is wrong with
    it (empty, longer than MAX_TEXT), if anything. Emoji and line breaks stay."""
    cleaned = mask_nik_like(text).strip()
    if not cleaned:
        return cleaned, TextProblem.EMPTY
    if len(cleaned) > MAX_TEXT:
        return cleaned, TextProblem.TOO_LONG
    return cleaned, None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: the items' slice [start, end), its number and how many pages there are."""

    start: int
    end: int
    number: int
    pages: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_of(count: int, number: int, *, size: int = PAGE_SIZE) -> Page:
    """Page ``number`` (from 1, brought within range) of ``count`` items."""
    pages = max(1, -(-count // size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(start, min(count, start + size), number, pages)


@dataclass(frozen=True, slots=True)
class Progress:
    """An announcement's messages by delivery status."""

    sent: int = 0
    pending: int = 0  # still to be sent by the outbox
    waiting: int = 0  # waiting for the person to open WhatsApp's window (a template asked them to)
    failed: int = 0

    @property
    def not_yet(self) -> int:
        """Not delivered yet, but not given up: the sender's "menunggu"."""
        return self.pending + self.waiting


def progress_of(counts: Mapping[str, int]) -> Progress:
    """A Progress from message counts by status ("sent", "pending", "waiting", "failed", "direct"...)."""
    return Progress(
        sent=counts.get("sent", 0),
        pending=counts.get("pending", 0) + counts.get("direct", 0),
        waiting=counts.get("waiting", 0),
        failed=counts.get("failed", 0),
    )


def region_value(code: str) -> str:
    """A region code as a button's word ("12.17.01" -> "12_17_01": the codec takes letters, digits, _)."""
    return code.replace(".", "_")


def region_of_value(value: str) -> str | None:
    """The region code a button's word names, or None when it is no code's shape."""
    parts = value.split("_")
    if not KABUPATEN_DEPTH <= len(parts) <= DESA_DEPTH or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    return ".".join(parts)
