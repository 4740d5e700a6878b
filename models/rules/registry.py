"""What the social registries say about a candidate: found or not, desil, whether the name matches.

Pure rules: the caller looks the NIK up (by its keyed hash) and hands the matches in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

from models.rules.candidate import Finding, FindingCode, Severity

SOURCE_LABEL = {"dtsen": "DTSEN", "dtks": "DTKS", "p3ke": "P3KE"}

# Old spellings that name the same person (before EYD 1972: dj = j, tj = c, oe = u, j = y, ch = kh).
# Both names are brought to one form; y and j become one letter last, so Tjahjono = Cahyono, Djoko = Joko.
_SPELLINGS = (("dj", "j"), ("tj", "c"), ("oe", "u"), ("ch", "kh"), ("y", "j"))
SIMILAR = 0.85  # SequenceMatcher ratio from which two differing names are "similar" (a typo, a letter)


class NameMatch(StrEnum):
    SAME = "same"
    SIMILAR = "similar"
    DIFFERENT = "different"


@dataclass(frozen=True, slots=True)
class RegistryHit:
    """One registry's row for the NIK (the caller's lookup result)."""

    source: str
    name: str
    desil: int | None


def _canonical(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z ]+", " ", text)
    for old, new in _SPELLINGS:
        text = text.replace(old, new)
    return " ".join(text.split())


def name_match(stated: str, registered: str) -> NameMatch:
    """SAME despite case, spacing, punctuation and old spellings (Soekarno = Sukarno, Djoko = Joko);
    SIMILAR for a typo, a missing or extra name, or another order; else DIFFERENT."""
    a, b = _canonical(stated), _canonical(registered)
    if not a or not b:
        return NameMatch.DIFFERENT
    if a == b:
        return NameMatch.SAME
    words_a, words_b = set(a.split()), set(b.split())
    if words_a == words_b or words_a <= words_b or words_b <= words_a:
        return NameMatch.SIMILAR
    if SequenceMatcher(None, a, b).ratio() >= SIMILAR:
        return NameMatch.SIMILAR
    return NameMatch.DIFFERENT


def registry_findings(
    hits: Sequence[RegistryHit],
    *,
    imported: Sequence[str],
    stated_name: str | None,
    desil_threshold: int | None,
) -> list[Finding]:
    """Warnings for the approvers: absent from every imported registry, desil above the threshold (the
    lowest desil any registry gives counts), or a registry naming someone else."""
    if not imported:
        return []  # nothing imported yet: absence says nothing
    if not hits:
        sources = ", ".join(SOURCE_LABEL.get(s, s) for s in imported)
        return [Finding(Severity.WARNING, FindingCode.NOT_IN_REGISTRY, {"sources": sources})]
    found: list[Finding] = []
    desils = [h.desil for h in hits if h.desil is not None]
    if desils and desil_threshold is not None and min(desils) > desil_threshold:
        found.append(
            Finding(
                Severity.WARNING,
                FindingCode.DESIL_ABOVE_THRESHOLD,
                {"desil": str(min(desils)), "threshold": str(desil_threshold)},
            )
        )
    if stated_name:
        differing = [h for h in hits if name_match(stated_name, h.name) is NameMatch.DIFFERENT]
        if differing and len(differing) == len(hits):
            labels = ", ".join(SOURCE_LABEL.get(h.source, h.source) for h in differing)
            found.append(Finding(Severity.WARNING, FindingCode.REGISTRY_NAME_DIFFERS, {"sources": labels}))
    return found
