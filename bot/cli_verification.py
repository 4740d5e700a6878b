"""`lanjutkan verification start|show|close|export`: re-verification of the active participants."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape

from bot.console import err, fail, load_settings, out, prepare_database
from bot.services import ConfigError, build_services

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from handlers.context import Services

T = TypeVar("T")

verification_app = typer.Typer(
    help="Re-verification of the active participants (penyesuaian data).", no_args_is_help=True
)


def _services() -> Services:
    settings = load_settings()
    try:
        services = build_services(settings)
    except ConfigError as exc:
        fail(str(exc))
    prepare_database(settings.database_url)
    return services


def _run(services: Services, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``work(session)`` in one committed write transaction; a database failure is one line."""
    from models import store

    async def run() -> T:
        try:
            return await store.write_transaction(services.sessions, work)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except (LookupError, typer.Exit):
        raise
    except Exception as exc:
        fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")


def _date(text: str) -> dt.date:
    for layout in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, layout).date()
        except ValueError:
            continue
    fail(f"--due {text!r}: not a date (YYYY-MM-DD or DD-MM-YYYY)")


@verification_app.command("start")
def start(
    year: Annotated[int, typer.Option(min=2000, max=2100, help="The program year the round is for.")],
    due: Annotated[str, typer.Option(help="When the operators must be done (YYYY-MM-DD).")],
) -> None:
    """Start a round over every active participant; each desa's operators are told how many wait."""
    from bot.console import os_actor
    from handlers import verifikasi
    from models import verification as vstore

    day = _date(due)
    services = _services()
    if day < services.today():
        fail(f"--due {day.isoformat()} is in the past")

    async def work(session: AsyncSession) -> tuple[int, int, int] | None:
        try:
            round_, desa, queued = await verifikasi.start(
                session, services, year=year, due=day, officer_id=None, actor=os_actor()
            )
        except vstore.RoundOpen:
            return None
        return round_.items, desa, queued

    started = _run(services, work)
    if started is None:
        fail(f"a verification round of {year} is already open: see `lanjutkan verification show`")
    items, desa, queued = started
    if not items:
        out.print(f"verification {year}: no active participants (import them: lanjutkan participants import)")
        return
    out.print(
        f"verification {year} started: {items} participants in {desa} desa, due {day.isoformat()}; "
        f"{queued} messages to operators queued"
    )


@verification_app.command("show")
def show(
    year: Annotated[int | None, typer.Option(help="The program year (default: the open round's).")] = None,
) -> None:
    """Progress per kecamatan and desa, the decisions so far, and the places removals free."""
    from models import verification as vstore
    from models.rules.verification import ItemStatus

    services = _services()

    async def work(session: AsyncSession) -> tuple[object, list[vstore.DesaProgress], dict[str, int]] | None:
        round_ = (
            await vstore.round_of_year(session, year=year)
            if year is not None
            else await vstore.open_round(session)
        )
        if round_ is None or round_.id is None:
            return None
        rows = await vstore.progress(session, round_id=round_.id)
        return round_, rows, await vstore.status_counts(session, round_id=round_.id)

    found = _run(services, work)
    if found is None:
        fail(f"no verification round{'' if year is None else f' of {year}'}")
    round_, rows, counts = found
    from models.tables import VerificationRound

    assert isinstance(round_, VerificationRound)
    kabupaten = services.kabupaten
    total = sum(counts.values())
    done = total - counts.get(ItemStatus.MENUNGGU.value, 0)
    state = "open" if round_.closed_at is None else "closed"
    out.print(f"verification {round_.year} ({state}), due {round_.due.isoformat()}: {done}/{total} checked")
    per: dict[str, list[vstore.DesaProgress]] = {}
    for row in rows:
        per.setdefault(row.kecamatan_code, []).append(row)
    for code, desas in sorted(per.items()):
        k_done, k_total = sum(d.done for d in desas), sum(d.total for d in desas)
        out.print(f"  Kec. {escape(kabupaten.kecamatan_name(code))}: {k_done}/{k_total}")
        for d in desas:
            desa = kabupaten.desa_by_code(d.desa_code)
            mark = "done" if d.done == d.total else "open"
            out.print(f"    {escape(desa.name if desa else d.desa_code)}: {d.done}/{d.total} {mark}")
    labels = (
        ("still qualify", ItemStatus.LANJUT),
        ("waiting at the operator", ItemStatus.MENUNGGU),
        ("removal waiting for the camat", ItemStatus.USUL_KELUAR),
        ("removal waiting for the dinas", ItemStatus.KELUAR_CAMAT),
        ("removed", ItemStatus.KELUAR),
        ("removal refused (continue)", ItemStatus.TETAP),
    )
    for label, status in labels:
        out.print(f"  {label}: {counts.get(status.value, 0)}")
    removed = counts.get(ItemStatus.KELUAR.value, 0)
    out.print(
        f"places freed: {removed} (raise {round_.year}'s new quota by as many with "
        f"`lanjutkan program set --year {round_.year} --new-quota N` if the budget allows)"
    )


@verification_app.command("export")
def export(
    year: Annotated[int, typer.Option(min=2000, max=2100, help="The program year of the round.")],
    continuing: Annotated[
        Path | None, typer.Option(help="Write the continuing participants here (XLSX, full NIKs).")
    ] = None,
    removed: Annotated[
        Path | None, typer.Option(help="Write the removed participants with reasons here (XLSX, full NIKs).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that exist.")] = False,
) -> None:
    """Export the continuing and/or removed lists; each file is audited and readable by its owner only."""
    from bot.console import os_actor
    from handlers.verifikasi import build_export
    from models import store
    from models.private_files import private_file

    targets = [
        (kind, path) for kind, path in (("lanjut", continuing), ("keluar", removed)) if path is not None
    ]
    if not targets:
        fail("choose --continuing FILE and/or --removed FILE")
    for _, path in targets:
        if path.suffix.lower() != ".xlsx":
            fail(f"{path}: the export is XLSX, name it .xlsx")
        if path.exists() and not force:
            fail(f"{path} exists: choose another name, or replace it with --force")
        if not path.parent.is_dir():
            fail(f"no folder {path.parent} for {path.name}")
    services = _services()

    async def work(session: AsyncSession) -> list[tuple[Path, bytes, int]]:
        made = []
        for kind, path in targets:
            content, rows = await build_export(session, services, year=year, removed=kind == "keluar")
            await store.record_export(
                session,
                officer_id=None,
                actor=os_actor(),
                kind=f"verif_{kind}",  # as /ekspor records the same lists
                rows=rows,
                channel="cli",
            )
            made.append((path, content, rows))
        return made

    try:
        made = _run(services, work)
    except LookupError:
        fail(f"no verification round of {year}")
    for path, content, rows in made:
        with private_file(path) as sink:  # full NIKs: a new file readable by this user only
            sink.write(content)
        out.print(f"{rows} rows written to {escape(str(path))}")
    err.print("these files hold full NIKs: keep them private, delete them once used")


@verification_app.command("close")
def close(
    year: Annotated[int, typer.Option(min=2000, max=2100, help="The program year of the open round.")],
) -> None:
    """Close the year's open round: nothing more is decided in it; its lists can still be exported."""
    from bot.console import os_actor
    from models import verification as vstore

    services = _services()

    async def work(session: AsyncSession) -> bool:
        return await vstore.close_round(session, year=year, actor=os_actor()) is not None

    if not _run(services, work):
        fail(f"no open verification round of {year}")
    out.print(f"verification {year} closed")
