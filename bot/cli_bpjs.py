"""`lanjutkan bpjs import FILE`: record BPJS Ketenagakerjaan's result of the collective registration."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from bot.console import err, fail, load_settings, out
from bot.services import ConfigError, build_services

if TYPE_CHECKING:
    from models.bpjs import BpjsReport

bpjs_app = typer.Typer(help="BPJS Ketenagakerjaan's registration results.", no_args_is_help=True)

FILE_HELP = "CSV or XLSX with NIK, nomor kepesertaan, tanggal efektif, status, keterangan"
SKIP_BAD_HELP = (
    "Record the good rows and write the bad ones to <file>.ditolak.csv (it holds NIKs: keep it safe)."
)


@bpjs_app.command("import")
def bpjs_import(
    file: Annotated[Path, typer.Argument(help=FILE_HELP)],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", "--partial", help=SKIP_BAD_HELP)] = False,
) -> None:
    """Record BPJS's results on the established proposals; by default any bad row records nothing."""
    from bot.console import os_actor, prepare_database
    from handlers.bpjs import registered_notice
    from models.bpjs import import_bpjs
    from models.imports import ImportRefused
    from models.tabular import TabularFileError

    settings = load_settings()
    try:
        services = build_services(settings)
    except ConfigError as exc:
        fail(str(exc))
    if settings.whatsapp_token is not None:  # as the bot reaches officers bound nowhere: by template
        services = dataclasses.replace(services, reach_unbound="whatsapp")
    prepare_database(settings.database_url)

    async def work() -> BpjsReport:
        try:
            return await import_bpjs(
                services.sessions,
                services.vault,
                file,
                skip_bad=skip_bad,
                actor=os_actor(),
                notify=registered_notice(services),
            )
        finally:
            await services.close()

    try:
        report = asyncio.run(work())
    except (TabularFileError, ImportRefused) as exc:
        fail(str(exc))
    except Exception as exc:  # the database is down or its schema is old: one line, nothing recorded
        fail(f"cannot import into the database: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    for problem in report.rejected:
        err.print(f"[yellow]baris {problem.line}:[/] {escape(problem.reason)}")
    if report.rejected_count > len(report.rejected):
        err.print(f"[yellow]... and {report.rejected_count - len(report.rejected)} more rejected rows[/]")
    if report.rejected_file is not None:
        err.print(
            f"rejected rows written to {escape(str(report.rejected_file))} (it holds NIKs: keep it safe)"
        )
    if report.rows == 0:
        fail(f"{file.name}: no data rows under the header: nothing imported")
    counts = f"{report.rejected_count} rejected ({report.rows} rows in {escape(file.name)})"
    if report.rejected_count and not skip_bad:
        out.print(f"bpjs: nothing recorded, {counts}; fix them, or record the good rows with --skip-bad")
        raise typer.Exit(1)
    if report.imported == 0:
        out.print(f"bpjs: nothing changed: {report.unchanged} results recorded already, {counts}")
        raise typer.Exit(1 if report.rejected_count else 0)
    out.print(
        f"bpjs: {report.registered} registered ({report.participants_added} new active participants, "
        f"{report.notices} notices queued), {report.failed} failed, {report.unchanged} unchanged, {counts}"
    )
    if report.rejected_count:
        raise typer.Exit(1)
