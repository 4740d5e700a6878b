"""Registry rules: name matching tolerant of spelling, and the warnings carried to approvers."""

from __future__ import annotations

import pytest

from models.rules.candidate import FindingCode
from models.rules.registry import NameMatch, RegistryHit, name_match, registry_findings


@pytest.mark.parametrize(
    ("stated", "registered", "match"),
    [
        ("BUDI SANTOSO", "Budi  Santoso", NameMatch.SAME),  # case and spacing
        ("Soekarno", "SUKARNO", NameMatch.SAME),  # old spelling oe = u
        ("Djoko Tjahjono", "Joko Cahyono", NameMatch.SAME),  # dj = j, tj = c
        ("Siti Nur'aini", "SITI NURAINI", NameMatch.SIMILAR),  # an apostrophe splits a word
        ("Budi Santoso", "Budi Santosa", NameMatch.SIMILAR),  # a typo
        ("Maruli Sitanggang", "Maruli Tua Sitanggang", NameMatch.SIMILAR),  # a middle name missing
        ("Sitanggang Maruli", "Maruli Sitanggang", NameMatch.SIMILAR),  # another order
        ("Budi Santoso", "Rina Sitohang", NameMatch.DIFFERENT),
        ("", "Rina", NameMatch.DIFFERENT),
    ],
)
def test_name_match(stated, registered, match):
    """Same despite case, spacing and old spellings; similar for typos and missing names; else different."""
    assert name_match(stated, registered) is match


def codes(findings) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.code.value for f in findings]


def test_nothing_imported_means_no_warning():
    """Absence from registries nobody imported says nothing."""
    assert registry_findings([], imported=[], stated_name="Budi", desil_threshold=4) == []


def test_absent_from_every_imported_registry_is_a_warning_naming_them():
    [finding] = registry_findings([], imported=["dtsen", "dtks"], stated_name="Budi", desil_threshold=4)
    assert finding.code is FindingCode.NOT_IN_REGISTRY
    assert finding.params["sources"] == "DTSEN, DTKS"


@pytest.mark.parametrize(
    ("desils", "threshold", "warned"),
    [((5,), 4, True), ((4,), 4, False), ((6, 3), 4, False), ((None,), 4, False), ((9,), None, False)],
)
def test_desil_above_the_threshold_is_a_warning(desils, threshold, warned):
    """The lowest desil any registry gives counts; desil 4 with threshold 4 is fine."""
    hits = [RegistryHit("dtsen", "Budi", d) for d in desils]
    found = registry_findings(hits, imported=["dtsen"], stated_name="Budi", desil_threshold=threshold)
    assert (FindingCode.DESIL_ABOVE_THRESHOLD.value in codes(found)) is warned


def test_a_name_differing_in_every_registry_is_a_warning():
    """One registry with the same name is enough to trust the NIK."""
    differing = [RegistryHit("dtsen", "Rina Sitohang", 2)]
    assert codes(registry_findings(differing, imported=["dtsen"], stated_name="Budi", desil_threshold=4)) == [
        "registry_name_differs"
    ]
    mixed = [*differing, RegistryHit("dtks", "BUDI", None)]
    assert registry_findings(mixed, imported=["dtsen", "dtks"], stated_name="Budi", desil_threshold=4) == []
