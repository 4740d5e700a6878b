"""Free text people type: one cleaning for everything the bot accepts, one NIK masking for everything it
stores or shows.

A NIK typed into free text is rarely written as 16 plain digits: people copy it from a KTP photo or a
spreadsheet as ``1217/0115/0890/0001``, ``1217 - 0115 - 0890 - 0001``, ``1217,0115,0890,0001``, with a
middle dot, an en dash, a zero-width space, or with a digit too many. So a *digit run* here is digits (any
script's, superscripts and fullwidth ones included) joined by at most :data:`MAX_JOINER` characters that
are neither letters nor digits; letters end a run. A run is NIK-like when it holds 16 digits or more, or
12 or more with nothing between them (a NIK cut short, a KK number). Ordinary numbers stay readable:
"2 anak, umur 45 tahun", a date 15-08-1990, "Rp1.500.000", a time 24-11-2026 10:00 (12 digits, separated).

Pure Python; no database, no chat framework.
"""

from __future__ import annotations

import re
import unicodedata

MAX_JOINER = 5  # "1217 - 0115" needs 3, "1217 ... 0115" 5; a keycap digit ("1️⃣") carries 2 marks
NIK_DIGITS = 16
PLAIN_RUN = 12
_SPACE_LIKE = frozenset("\t\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")
_DROPPED = frozenset({"Cc", "Cf", "Cs"})
# On text whose digits are folded to ASCII: a digit, then more digits each after a short non-alphanumeric gap.
_RUN = re.compile(rf"[0-9](?:[\W_]{{0,{MAX_JOINER}}}[0-9])*")
_PLAIN = re.compile(r"[0-9]+")
MASK = "•"
FULL_MASK = MASK * NIK_DIGITS


def clean_text(text: str) -> str:
    """Text without control, format (zero-width, bidi overrides) or surrogate characters; newlines kept.

    PostgreSQL refuses NUL and lone surrogates on every retry, and a bidi override reorders every card the
    text reaches; tabs and the like become spaces so words do not run together.
    """
    if text.isprintable():  # no Cc, Cf or Cs character: the usual case, without a loop
        return text
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch in _SPACE_LIKE:
            out.append(" ")
        elif unicodedata.category(ch) not in _DROPPED:
            out.append(ch)
    return "".join(out)


def _fold_digits(text: str) -> str:
    """Every digit as its ASCII digit, everything else as it is (same length, so positions carry over)."""
    if text.isascii():
        return text
    folded = []
    for ch in text:
        value = unicodedata.digit(ch, None) if not ch.isascii() else None
        folded.append(ch if value is None else str(value))
    return "".join(folded)


def _nik_like(run: str) -> bool:
    groups = _PLAIN.findall(run)
    return sum(map(len, groups)) >= NIK_DIGITS or any(len(g) >= PLAIN_RUN for g in groups)


def _masked(run: str) -> str:
    """A NIK's first and last four digits (1217••••••••0001, as cards show the proposal's own NIK) when the
    run has at least 16, so at least eight always stay hidden; fully masked when it has fewer."""
    digits = "".join(_PLAIN.findall(run))
    if len(digits) < NIK_DIGITS:
        return FULL_MASK
    return f"{digits[:4]}{MASK * 8}{digits[-4:]}"


def mask_nik_like(text: str) -> str:
    """The text cleaned (:func:`clean_text`), every NIK-like digit run masked; anything else unchanged."""
    text = clean_text(text)
    folded = _fold_digits(text)
    out: list[str] = []
    end = 0
    for run in _RUN.finditer(folded):
        if _nik_like(run.group()):
            out += [text[end : run.start()], _masked(run.group())]
            end = run.end()
    if not out:
        return text
    out.append(text[end:])
    return "".join(out)


def has_nik_like(text: str) -> bool:
    """Whether the text holds a NIK-like digit run (once cleaned), for fields that must not hold one."""
    return any(_nik_like(run.group()) for run in _RUN.finditer(_fold_digits(clean_text(text))))
