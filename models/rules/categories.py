"""Worker categories of the program, exactly these and in this order."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """A category of vulnerable non-wage worker; the value is what the database stores."""

    PETANI = "petani"
    NELAYAN = "nelayan"
    SOPIR = "sopir"
    PEMULUNG = "pemulung"
    TUKANG_BECAK = "tukang_becak"
    JURU_PARKIR = "juru_parkir"
    BURUH_HARIAN = "buruh_harian"
    PEDAGANG_KAKI_LIMA = "pedagang_kaki_lima"
    PEDAGANG_KELILING = "pedagang_keliling"
    PEKERJA_SOSIAL_KEAGAMAAN = "pekerja_sosial_keagamaan"
    LAINNYA = "lainnya"

    @property
    def label(self) -> str:
        """The category as people say it: "tukang becak", "pekerja sosial keagamaan"."""
        return self.value.replace("_", " ")

    @property
    def needs_description(self) -> bool:
        """ "lainnya" is only accepted with a free-text description of the work."""
        return self is Category.LAINNYA


CATEGORIES: tuple[Category, ...] = tuple(Category)


def category_label(category: Category, description: str | None = None) -> str:
    """Label for display; "lainnya" shows its description."""
    if category.needs_description and description:
        return f"lainnya: {description}"
    return category.label
