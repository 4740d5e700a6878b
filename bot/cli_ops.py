"""Operations commands: `lanjutkan db backup FILE` and `lanjutkan secret rotate`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bot.console import err, fail, load_settings, out
from bot.services import ConfigError, build_services

secret_app = typer.Typer(help="The secret that encrypts and hashes NIKs.", no_args_is_help=True)

PG_DUMP_HINT = (
    "DATABASE_URL is PostgreSQL: back it up with pg_dump (e.g. pg_dump -Fc -f lanjutkan.dump DBNAME); "
    "keep the dump and LANJUTKAN_SECRET, without which its NIKs cannot be read"
)


def _size(size: int) -> str:
    """A file size as people read it: 224.0 KB."""
    if size < 1024:
        return f"{size} B"
    scaled = float(size)
    for unit in ("KB", "MB", "GB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GB":
            break
    return f"{scaled:.1f} {unit}"


def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the copy (a new file).")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Copy the SQLite database while the bot runs (SQLite's online backup), then check the copy."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress
    from sqlalchemy.engine import make_url

    from models.backup import backup_sqlite
    from models.db import is_sqlite

    settings = load_settings()
    if not is_sqlite(settings.database_url):
        fail(PG_DUMP_HINT)
    source = Path(make_url(settings.database_url).database or "")
    if not source.is_file():
        fail(f"no database at {source} (DATABASE_URL)")
    if file.exists() and not force:
        fail(f"{file} exists: choose another name, or replace it with --force")
    if file.resolve() == source.resolve():
        fail("FILE is the database itself")
    if not file.parent.is_dir():
        fail(f"no folder {file.parent} for the backup")
    bar = Progress("{task.description}", BarColumn(), MofNCompleteColumn(), console=err, transient=True)
    task = bar.add_task("pages", total=None)
    try:
        with bar:
            result = backup_sqlite(
                source, file, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    except Exception as exc:  # locked, unreadable, disk full: one line, no half copy under the name
        fail(f"backup failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
    if result.integrity != "ok":
        fail(f"the copy failed its integrity check ({result.integrity[:120]}): nothing written", code=1)
    out.print(f"backup written to {escape(str(result.path))} ({_size(result.size)}), integrity check: ok")
    err.print("keep it with LANJUTKAN_SECRET (stored apart): without the secret its NIKs cannot be read")


@secret_app.command("rotate")
def secret_rotate(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 500,
    stop_after: Annotated[int | None, typer.Option(hidden=True, min=0)] = None,
) -> None:
    """Re-encrypt and re-hash every stored NIK and payload under LANJUTKAN_SECRET (resumable, online)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID

    from models.db import is_sqlite
    from models.migrate import is_current, upgrade
    from models.rotation import RotationError, RotationReport, rotate_secret

    settings = load_settings()
    if settings.secret is None:
        fail("LANJUTKAN_SECRET is not set: set it to the new secret")
    if settings.secret_old is None:
        fail("LANJUTKAN_SECRET_OLD is not set: set it to the previous secret (LANJUTKAN_SECRET is the new)")
    try:
        services = build_services(settings)
    except ConfigError as exc:
        fail(str(exc))
    try:
        if is_sqlite(settings.database_url):
            upgrade(settings.database_url)
        elif not is_current(settings.database_url):
            fail("the database schema is not up to date: run `lanjutkan db upgrade` first")
    except typer.Exit:
        raise
    except Exception as exc:
        fail(f"cannot open the database (DATABASE_URL): {type(exc).__name__}")
    bar = Progress("{task.description}", BarColumn(), MofNCompleteColumn(), console=err)
    tasks: dict[str, TaskID] = {}

    def progress(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = bar.add_task(table, total=total)
        bar.update(tasks[table], completed=done, total=total)

    async def work() -> RotationReport:
        try:
            return await rotate_secret(
                services.sessions, services.vault, batch=batch, stop_after=stop_after, progress=progress
            )
        finally:
            await services.close()

    try:
        with bar:
            report = asyncio.run(work())
    except RotationError as exc:
        fail(str(exc))
    except Exception as exc:  # the database went away: what is done stays done, a new run resumes
        fail(f"rotation stopped: {type(exc).__name__}; run it again to resume")
    changed = ", ".join(f"{table} {count}" for table, count in report.changed.items())
    if not report.finished:
        out.print(f"rotation stopped after {stop_after} batches (rows rewritten: {changed}); run it again")
        raise typer.Exit(1)
    out.print(f"every NIK and payload is under LANJUTKAN_SECRET (rows rewritten: {changed})")
    if report.stale_registries:
        stale = ", ".join(f"{r.source} ({r.rows} rows)" for r in report.stale_registries)
        out.print(
            f"registries hashed under the old secret: {stale}. Their NIKs are not stored, so they cannot be "
            "re-keyed: import them again (`lanjutkan registry import`), then run this again; until then "
            "keep LANJUTKAN_SECRET_OLD"
        )
        raise typer.Exit(1)
    out.print("LANJUTKAN_SECRET_OLD can now be removed (then restart the bot)")
