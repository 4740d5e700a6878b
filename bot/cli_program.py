"""`lanjutkan program allocate`, and the intake-period options of `program set` / `program show`."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from bot.console import err, fail, load_settings, os_actor, out

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from models.regions import Kabupaten
    from models.rules.period import Period
    from models.tables import ProgramYear


class Basis(StrEnum):
    registry = "registry"
    active = "active"
    equal = "equal"


def period_figures(
    intake_open: str | None, intake_close: str | None, fix_close: str | None, current: Period | None = None
) -> dict[str, dt.date]:
    """The period columns ``program set`` writes (checked: open before close, fix-close not before it);
    a date not given keeps the year's ``current`` one."""
    from models.rules.period import PeriodError, checked

    given = {"--intake-open": intake_open, "--intake-close": intake_close, "--fix-close": fix_close}
    if all(v is None for v in given.values()):
        return {}
    dates: dict[str, dt.date | None] = {}
    for option, value in given.items():
        if value is None:
            dates[option] = None
            continue
        try:
            dates[option] = dt.date.fromisoformat(value)
        except ValueError:
            fail(f"{option}: not a date YYYY-MM-DD: {value!r}")
    open_ = dates["--intake-open"] or (current.open if current else None)
    close = dates["--intake-close"] or (current.close if current else None)
    if open_ is None or close is None:
        fail("give both --intake-open and --intake-close (the year has no intake period yet)")
    # A new close without --fix-close gets the default fix-close again (14 days after it).
    fix = dates["--fix-close"] or (current.fix_close if current and dates["--intake-close"] is None else None)
    try:
        period = checked(open_, close, fix)
    except PeriodError as exc:
        fail(str(exc))
    assert period.fix_close is not None
    return {"intake_open": open_, "intake_close": close, "fix_close": period.fix_close}


def period_line(program: ProgramYear) -> str:
    """The intake period as ``program show`` prints it."""
    if program.intake_open is None or program.intake_close is None:
        return "  intake period: not set (intake always open)"
    return (
        f"  intake period: {program.intake_open} to {program.intake_close}, "
        f"corrections until {program.fix_close or '-'}"
    )


def _read_file(path: Path, kabupaten: Kabupaten) -> dict[str, int]:
    """Quotas by kecamatan code from a CSV/XLSX; every bad line is reported and nothing is returned."""
    from models.tabular import (
        CellError,
        Column,
        TabularFileError,
        cell_text,
        int_cell,
        is_blank,
        locate,
        open_table,
        quoted,
    )

    columns = (
        Column("kecamatan", ("kode_kecamatan", "kecamatan_code", "kode", "nama_kecamatan", "kec"), True),
        Column("kuota", ("quota", "alokasi", "jumlah"), True),
    )
    by_name = {" ".join(k.name.lower().split()): k.code for k in kabupaten.kecamatan}
    quotas: dict[str, int] = {}
    problems: list[str] = []
    try:
        with open_table(path) as table:
            where = locate(table.header, columns, path.name)
            for line, cells in table:
                raw = cells[where["kecamatan"]] if where["kecamatan"] < len(cells) else None
                value = cells[where["kuota"]] if where["kuota"] < len(cells) else None
                name = cell_text(raw).strip() if not is_blank(raw) else ""
                found = kabupaten.kecamatan_by_code(name) if name else None
                code = found.code if found else by_name.get(" ".join(name.lower().split()))
                if code is None:
                    problems.append(
                        f"line {line}: kecamatan {quoted(name[:40])} tidak ada di {kabupaten.name}"
                    )
                    continue
                if code in quotas:
                    problems.append(f"line {line}: kecamatan {quoted(name[:40])} tertulis dua kali")
                    continue
                try:
                    quota = int_cell(value, "kuota") if not is_blank(value) else None
                except CellError as exc:
                    problems.append(f"line {line}: {exc}")
                    continue
                if quota is None:
                    problems.append(f"line {line}: kuota kosong")
                    continue
                if quota < 0:  # a number cell of a spreadsheet may hold one; text "-5" is refused above
                    problems.append(f"line {line}: kuota {quota} negatif")
                    continue
                quotas[code] = quota
    except TabularFileError as exc:
        fail(str(exc))
    if problems:
        for problem in problems[:50]:
            err.print(f"[yellow]{escape(problem)}[/]")
        fail(f"{path.name}: {len(problems)} bad line(s); nothing saved")
    if not quotas:
        fail(f"{path.name}: no kecamatan in the file; nothing saved")
    return quotas


def allocate(
    year: Annotated[int, typer.Option(help="Program year, e.g. 2026.", min=2000, max=2100)],
    file: Annotated[
        Path | None, typer.Argument(help="CSV or XLSX with kecamatan (code or name) and kuota.")
    ] = None,
    proportional_to: Annotated[
        Basis | None,
        typer.Option(
            "--proportional-to", help="Share the year's quota by DTSEN (desil), active, or equally."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the change without saving it.")] = False,
) -> None:
    """Share the year's new-participant quota among kecamatan: from a file, or in proportion."""
    from bot.console import prepare_database, with_session
    from models import program_year, store
    from models.regions import UnknownKabupaten, load_kabupaten
    from models.rules.allocation import changes, largest_remainder

    if (file is None) == (proportional_to is None):
        fail("give a FILE or --proportional-to registry|active|equal (one of them)")
    settings = load_settings()
    try:
        kabupaten = load_kabupaten(settings.kabupaten)
    except UnknownKabupaten as exc:
        fail(f"unknown kabupaten code: {exc}")
    prepare_database(settings.database_url)
    codes = [k.code for k in kabupaten.kecamatan]
    given = _read_file(file, kabupaten) if file is not None else None

    async def work(session: AsyncSession) -> tuple[dict[str, int], dict[str, int], int] | None:
        """(before, after, the year's quota); None: nothing to share by (no registry, no participants)."""
        program = await store.program_year(session, year=year, default_quota=settings.new_participant_quota)
        if given is not None:
            quotas = {**dict.fromkeys(codes, 0), **given}
        else:
            if proportional_to is Basis.registry:
                weights = await program_year.registry_weights(
                    session, desil_threshold=program.desil_threshold
                )
            elif proportional_to is Basis.active:
                weights = await program_year.active_weights(session)
            else:
                weights = {}
            if proportional_to is not Basis.equal and not any(weights.get(c) for c in codes):
                return None
            quotas = largest_remainder(program.new_quota, {c: weights.get(c, 0) for c in codes})
        before = {c: row.quota for c, row in (await program_year.allocations(session, year=year)).items()}
        if sum(quotas.values()) > program.new_quota:
            return before, quotas, program.new_quota
        if not dry_run:
            await store.set_program(
                session, year=year, default_quota=settings.new_participant_quota, figures={}
            )  # the year's row: the allocation's foreign key
            await program_year.set_allocations(session, year=year, quotas=quotas, actor=os_actor())
        return before, quotas, program.new_quota

    result = with_session(settings.database_url, work)
    if result is None:
        what = (
            "people of the active DTSEN import within the desil threshold"
            if (proportional_to is Basis.registry)
            else "active participants"
        )
        fail(f"no {what} in {kabupaten.name}: nothing to share by; nothing saved (import it, or use equal)")
    before, after, total = result
    if sum(after.values()) > total:
        fail(
            f"the allocations add up to {sum(after.values())}, above the {year} quota of {total}; "
            "nothing saved"
        )
    names = {k.code: k.name for k in kabupaten.kecamatan}
    table = RichTable(
        title=f"Allocation {year} (quota {total})" + (" — dry run, not saved" if dry_run else "")
    )
    for heading in ("kecamatan", "before", "after", "change"):
        table.add_column(heading, justify="left" if heading == "kecamatan" else "right")
    for code, old, new, change in changes(before, after):
        table.add_row(
            f"{code} {names.get(code, '')}", "-" if old is None else str(old), str(new), f"{change:+d}"
        )
    out.print(table)
    out.print(f"total {sum(after.values())} of {total}" + ("" if dry_run else "; saved"))
