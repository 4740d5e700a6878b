"""Row ids read from button data and typed numbers, which anyone can forge."""

from __future__ import annotations

# PostgreSQL's ``integer``, the type of every id column: a larger value fails the query itself, where
# SQLite would answer "not found".
MAX_ID = 2**31 - 1
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(text: str, *, maximum: int = MAX_ID) -> int | None:
    """The id written in ``text`` (ASCII digits only, at most ``maximum``), or None."""
    # str.isdigit() also accepts "²" and "١", which int() refuses or reads; no button of ours carries them.
    if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= maximum else None
