"""The kecamatan allocations as people see them: on cards, /rekap, the weekly summary, the refusal."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import texts
from handlers.context import Services, Turn
from models import program_year
from models.tables import KecamatanAllocation


async def card_line(turn: Turn, kecamatan_code: str) -> str | None:
    """ "Kuota Kec. Simanindo 2026: 12 dari 25 ditetapkan, sisa 13" (None: the year is not allocated)."""
    year = turn.services.today().year
    row = await program_year.allocation_of(turn.session, year=year, kecamatan_code=kecamatan_code)
    if row is None:
        return None
    return texts.allocation_line(
        turn.services.kabupaten.kecamatan_name(kecamatan_code), year, row.established, row.quota
    )


async def full_text(turn: Turn, kecamatan_code: str, year: int) -> str:
    """The refusal of a Tetapkan when the kecamatan's allocation is used up, with its figures."""
    return await _figures_text(turn, kecamatan_code, year, texts.kecamatan_full)


async def over_text(turn: Turn, kecamatan_code: str, year: int) -> str:
    """The note on a Tetapkan the dinas made over the kecamatan's allocation, with its figures."""
    return await _figures_text(turn, kecamatan_code, year, texts.over_allocation)


async def _figures_text(
    turn: Turn, kecamatan_code: str, year: int, text: Callable[[str, int, int, int], str]
) -> str:
    row = await program_year.allocation_of(turn.session, year=year, kecamatan_code=kecamatan_code)
    established, quota = (row.established, row.quota) if row else (0, 0)
    return text(turn.services.kabupaten.kecamatan_name(kecamatan_code), year, established, quota)


def lines(
    services: Services, rows: dict[str, KecamatanAllocation], year: int, kecamatan_code: str | None
) -> list[str]:
    """One kecamatan's line (a camat), or every kecamatan's (the dinas); nothing when not allocated."""
    if not rows:
        return []
    if kecamatan_code is not None:
        row = rows.get(kecamatan_code)
        if row is None:
            return []
        return [
            texts.allocation_line(
                services.kabupaten.kecamatan_name(kecamatan_code), year, row.established, row.quota
            )
        ]
    ordered = sorted(rows.values(), key=lambda r: services.kabupaten.kecamatan_name(r.kecamatan_code))
    return [texts.allocation_header(year)] + [
        texts.allocation_row(services.kabupaten.kecamatan_name(r.kecamatan_code), r.established, r.quota)
        for r in ordered
    ]


async def rekap_lines(session: AsyncSession, services: Services, *, kecamatan_code: str | None) -> list[str]:
    year = services.today().year
    return lines(services, await program_year.allocations(session, year=year), year, kecamatan_code)
