"""Worker categories: exactly these eleven, in this order."""

from __future__ import annotations

import pytest

from models.rules.categories import CATEGORIES, Category, category_label

PROGRAM_ORDER = [
    "petani",
    "nelayan",
    "sopir",
    "pemulung",
    "tukang becak",
    "juru parkir",
    "buruh harian",
    "pedagang kaki lima",
    "pedagang keliling",
    "pekerja sosial keagamaan",
    "lainnya",
]


def test_exactly_the_eleven_categories_in_design_order():
    assert [c.label for c in CATEGORIES] == PROGRAM_ORDER


def test_stored_values_are_the_labels_with_underscores():
    assert [c.value for c in CATEGORIES] == [label.replace(" ", "_") for label in PROGRAM_ORDER]
    assert len({c.value for c in CATEGORIES}) == 11
    assert all(len(c.value) <= 32 for c in CATEGORIES)  # Proposal.category is VARCHAR(32)


def test_only_lainnya_needs_a_description():
    assert [c for c in CATEGORIES if c.needs_description] == [Category.LAINNYA]


@pytest.mark.parametrize(
    ("category", "description", "label"),
    [
        (Category.TUKANG_BECAK, None, "tukang becak"),
        (Category.PETANI, "penenun ulos", "petani"),  # a description only shows for "lainnya"
        (Category.LAINNYA, "penenun ulos", "lainnya: penenun ulos"),
        (Category.LAINNYA, None, "lainnya"),
    ],
)
def test_category_label(category, description, label):
    assert category_label(category, description) == label


def test_a_stored_value_reads_back_as_its_category():
    assert Category("pekerja_sosial_keagamaan") is Category.PEKERJA_SOSIAL_KEAGAMAAN
    with pytest.raises(ValueError, match="tukang becak"):
        Category("tukang becak")
