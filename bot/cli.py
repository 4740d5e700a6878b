"""`lanjutkan` command line: run the bot, the terminal demo, migrations, roster and program-data imports."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TextIO

import typer
from rich.markup import escape

from bot.cli_bpjs import bpjs_app
from bot.cli_ops import backup, secret_app
from bot.cli_program import allocate, period_figures, period_line
from bot.cli_verification import verification_app
from bot.cli_whatsapp import whatsapp_app
from bot.console import (
    err,
    fail,
    load_settings,
    os_actor,
    out,
    prepare_database,
    ready_services,
    upgrade_database,
    with_session,
)
from bot.services import ConfigError, build_services
from bot.settings import Settings

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.runtime import Channel
    from handlers.context import Services
    from handlers.engine import Engine
    from models.imports import ImportReport, Progress
    from models.regions import Kabupaten
    from models.roster import RosterRow
    from models.store import RosterChange
    from models.tables import ProgramYear


app = typer.Typer(help="LANJUTKAN: usulan peserta BPJS Ketenagakerjaan pekerja rentan.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
officers_app = typer.Typer(help="The officer roster.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(officers_app, name="officers")
program_app = typer.Typer(
    help="The program's figures per year (quota, budget, contributions).", no_args_is_help=True
)
app.add_typer(program_app, name="program")
program_app.command("allocate")(allocate)
registry_app = typer.Typer(
    help="Social registries (DTSEN, DTKS, P3KE) for intake checks.", no_args_is_help=True
)
app.add_typer(registry_app, name="registry")
participants_app = typer.Typer(help="The program's active participants.", no_args_is_help=True)
app.add_typer(participants_app, name="participants")
app.add_typer(whatsapp_app, name="whatsapp")
app.add_typer(secret_app, name="secret")
app.add_typer(bpjs_app, name="bpjs")
app.add_typer(verification_app, name="verification")
db_app.command("backup")(backup)

# soft_wrap: a message stays one line when stderr is a pipe or a log file, not cut at 80 columns.

DEMO_DIR = Path("data")


def setup_logging(level: str, stream: TextIO | None = None, *, json_lines: bool = False) -> None:
    """Log through lokal-id's PII filter, and keep libraries that dump payloads out of DEBUG.

    Our code never logs a NIK; at DEBUG, python-telegram-bot logs every Bot API call's parameters (the
    intake's read-back holds a NIK) and aiosqlite every SQL parameter, so those stay at INFO/WARNING
    whatever the level, and the filter masks anything that still looks like a NIK or a phone number.
    The filter runs before the formatter, JSON lines included.
    """
    from lokal.samaran.logging import SamaranFilter

    handler = logging.StreamHandler(stream)
    handler.addFilter(SamaranFilter(types=["NIK", "KK", "PHONE"]))
    if json_lines:  # LANJUTKAN_LOG_FORMAT=json: one object per line, with the update being handled
        from bot.logs import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name, floor in QUIET_LOGGERS.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(floor, logging.getLogger().getEffectiveLevel()))


# Loggers whose DEBUG output carries request payloads or SQL parameters; httpx logs URLs with the token.
QUIET_LOGGERS = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "asyncpg": logging.WARNING,
    "apscheduler": logging.INFO,
    "alembic": logging.WARNING,
}


@app.command()
def run(
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, max=64, help="Processes serving the bot on one port (PostgreSQL only)."
        ),
    ] = 1,
) -> None:
    """Run the bot: every chat app configured (Telegram, WhatsApp) and the HTTP server, until SIGTERM."""
    settings = load_settings()
    setup_logging(settings.log_level, json_lines=settings.log_format == "json")
    channels = settings.channels()
    if not channels:
        fail(
            "no chat app is configured: set TELEGRAM_BOT_TOKEN (from @BotFather) or WHATSAPP_TOKEN "
            "with the other WHATSAPP_ settings in .env (see .env.example)"
        )
    if missing := settings.whatsapp_missing():
        fail(f"WhatsApp is half configured: {', '.join(missing)} not set (see .env.example)")
    if problem := settings.telegram_webhook_problem():
        fail(problem)
    from models.db import is_sqlite

    if workers > 1 and is_sqlite(settings.database_url):
        fail("--workers needs PostgreSQL (DATABASE_URL): SQLite lets one process write at a time")
    if workers > 1 and settings.port == 0:
        fail("--workers needs a fixed LANJUTKAN_PORT: the workers share it")
    try:
        services = build_services(settings)
    except ConfigError as exc:
        fail(str(exc))
    if is_sqlite(settings.database_url):
        upgrade_database(settings.database_url)
    else:
        check_schema(settings.database_url)

    from bot.supervisor import WORKER_ENV

    if workers > 1:
        _supervise(settings, workers)
    worker = os.environ.get(WORKER_ENV)

    from bot.runtime import Runtime, run_loop
    from scheduler.liveness import process_name

    holder = process_name()
    if "whatsapp" in channels:  # officers who never wrote are reached there, with a template
        services = dataclasses.replace(services, reach_unbound="whatsapp")
    # Of several workers, the first polls Telegram (it allows one getUpdates at a time) or sets its webhook
    first = worker is None or worker == "0"
    built = asyncio.run(_channels(settings, services, channels, holder, first=first))
    runtime = Runtime(
        services,
        built,
        holder=holder,
        host=settings.host,
        port=settings.port,
        timetable=settings.timetable() if settings.scheduled_messages else None,
        observability=settings.observability(),
    )
    try:
        sock = runtime.listen(shared=worker is not None)
    except OSError as exc:
        fail(f"cannot listen on {settings.host}:{settings.port} (LANJUTKAN_HOST/PORT): {exc.strerror}")
    logging.getLogger(__name__).info("bot starting for %s", services.kabupaten.name)
    run_loop(runtime.run(sock))


def _supervise(settings: Settings, count: int) -> NoReturn:
    """Run ``count`` workers of this bot until SIGTERM (the schema checked once, here)."""
    from bot.runtime import bind
    from bot.supervisor import Supervisor

    try:  # a port in use: one line, not N workers failing one after the other
        bind(settings.host, settings.port, shared=True).close()
    except OSError as exc:
        fail(f"cannot listen on {settings.host}:{settings.port} (LANJUTKAN_HOST/PORT): {exc.strerror}")
    logging.getLogger(__name__).info("starting %d workers on %s:%s", count, settings.host, settings.port)
    raise typer.Exit(asyncio.run(Supervisor(count, dict(os.environ)).run()))


async def _channels(
    settings: Settings, services: Services, names: list[str], holder: str, *, first: bool = True
) -> list[Channel]:
    """The configured channels, each checked once (a wrong token is one line, not a traceback)."""
    from handlers.engine import Engine

    engine = Engine(services)
    built: list[Channel] = []
    if "telegram" in names:
        built.append(await _telegram(settings, engine, first=first))
    if "whatsapp" in names:
        from bot.channels.whatsapp import build_channel

        built.append(build_channel(engine, settings, holder=holder))
    return built


async def _telegram(settings: Settings, engine: Engine, *, first: bool) -> Channel:
    from telegram.error import InvalidToken, NetworkError

    from bot.channels.telegram import TelegramService, Webhook, build_application

    assert settings.telegram_bot_token is not None
    application = build_application(
        engine,
        token=settings.telegram_bot_token.get_secret_value().strip(),
        base_url=settings.telegram_api_url,
        max_concurrent_updates=settings.max_concurrent_updates,
        outbox_limits=settings.outbox_limits(),
    )
    try:
        await application.bot.initialize()  # asks for the bot itself once
    except InvalidToken:  # never echo the token: it would land in the service's log
        fail("Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather")
    except NetworkError as exc:
        fail(f"cannot reach the Bot API at {settings.telegram_api_url}: {type(exc).__name__}")
    finally:
        await application.bot.shutdown()  # the requests were opened even when get_me failed
    webhook = None
    if settings.telegram_webhook_url is not None and settings.telegram_webhook_secret is not None:
        webhook = Webhook(
            settings.telegram_webhook_url,
            settings.telegram_webhook_secret.get_secret_value(),
            settings.telegram_webhook_max_connections,
        )
    return TelegramService(application, webhook=webhook, receives=first)


def check_schema(url: str) -> None:
    """On a shared database the schema is upgraded on purpose, by `lanjutkan db upgrade`, never implicitly."""
    from models.migrate import is_current

    try:
        current = is_current(url)
    except Exception as exc:
        fail(f"cannot open the database (DATABASE_URL): {type(exc).__name__}")
    if not current:
        fail("the database schema is not up to date: run `lanjutkan db upgrade` first")


@app.command()
def demo(
    database: Annotated[Path, typer.Option(help="SQLite file for the demo.")] = DEMO_DIR / "demo.db",
) -> None:
    """Talk to the bot in this terminal as a demo operator, camat or dinas officer (no token, no network)."""
    from bot.demo import run_demo

    settings = load_settings()
    setup_logging("WARNING")
    url = f"sqlite+aiosqlite:///{database}"
    secret_file = database.with_name(database.stem + "-secret")
    if not secret_file.exists():  # the demo's own secret, made locally on first run, never committed
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.touch(mode=0o600)
        secret_file.write_text(secrets.token_urlsafe(32))
    upgrade_database(url)
    try:
        services = build_services(
            settings.model_copy(update={"database_url": url}), secret=secret_file.read_text().strip()
        )
    except ConfigError as exc:
        fail(str(exc))
    asyncio.run(run_demo(services))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (DATABASE_URL) up to the latest schema."""
    settings = load_settings()
    upgrade_database(settings.database_url)
    out.print("database is up to date")


PARTIAL_HELP = "The file lists some officers only: add and update them, deactivate nobody."
DRY_RUN_HELP = "Show who would be added, updated and deactivated; save nothing."


@officers_app.command("import")
def officers_import(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX with header nama,peran,kode_wilayah,no_hp")],
    partial: Annotated[bool, typer.Option("--partial", help=PARTIAL_HELP)] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=DRY_RUN_HELP)] = False,
) -> None:
    """Make the roster the file's: add and update its officers, deactivate those absent from it.

    Bad rows are reported by line while good rows import; a file with bad rows deactivates nobody.
    """
    from models.regions import UnknownKabupaten, load_kabupaten
    from models.roster import RosterFileError, read_roster

    settings = load_settings()
    try:
        kabupaten = load_kabupaten(settings.kabupaten)
    except UnknownKabupaten:
        fail(f"LANJUTKAN_KABUPATEN={settings.kabupaten} is not a kabupaten/kota code")
    try:
        rows, problems = read_roster(file, kabupaten)
    except RosterFileError as exc:
        fail(str(exc))
    if not rows and not problems:
        fail(f"{file.name}: no officers under the header: nothing imported")
    # Whoever a rejected row meant to keep might be deactivated by mistake: only a clean file is the
    # whole roster.
    authoritative = not partial and not problems
    prepare_database(settings.database_url)
    try:
        changes = asyncio.run(
            _save_roster(settings.database_url, rows, kabupaten, authoritative=authoritative, dry_run=dry_run)
        )
    except Exception as exc:  # the database is down or its schema is old: one line, nothing half-saved
        fail(
            f"cannot save the roster to the database: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        )
    for problem in problems:
        err.print(f"[yellow]line {problem.line}:[/] {escape(problem.reason)}")  # reasons quote cells
    if problems and not partial:
        err.print("nobody deactivated: fix the rejected rows and import the file again")
    counts = {kind: 0 for kind in ("added", "updated", "reactivated", "unchanged", "deactivated")}
    for kind, line in changes:
        counts[kind] += 1
        if kind != "unchanged":
            out.print(f"{kind}: {escape(line)}")
    prefix = "dry run, nothing saved: " if dry_run else ""
    out.print(
        f"{prefix}officers: {counts['added']} added, {counts['updated'] + counts['reactivated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['deactivated']} deactivated, {len(problems)} rejected "
        f"({len(rows) + len(problems)} rows in {escape(file.name)})"
    )
    if problems:
        raise typer.Exit(1)


def _officer_line(kabupaten: Kabupaten, change: RosterChange) -> str:
    """Who, and what the change does to them: "Jonson Simbolon, camat, Kec. Simanindo (12.17.01),
    0812••••0201; name, role changed; 1 chat account(s) unbound: ..."."""
    from handlers.onboarding import region_label

    officer = change.officer
    where = f"{region_label(kabupaten, officer)} ({officer.region_code})"
    line = f"{officer.name}, {officer.role.value}, {where}, {_masked_phone(officer.phone)}"
    if change.changed:
        words = {"name": "name", "role": "role", "region_code": "region"}
        line += f"; {', '.join(words[f] for f in change.changed)} changed"
    if change.unbound:
        line += f"; {change.unbound} chat account(s) unbound: they share their number with the bot again"
    return line


def _masked_phone(e164: str) -> str:
    """+6281200000201 -> 0812••••0201: enough to tell two officers apart, in a terminal or a log."""
    from handlers.texts import nomor_hp

    digits = nomor_hp(e164).replace("-", "")
    return digits[:4] + "••••" + digits[-4:] if len(digits) > 8 else digits


async def _save_roster(
    database_url: str, rows: list[RosterRow], kabupaten: Kabupaten, *, authoritative: bool, dry_run: bool
) -> list[tuple[str, str]]:
    """Apply the rows in one transaction, committed, or rolled back for a dry run (which so shows exactly
    what the import would do); returns each officer's change and its line of output."""
    from models import store
    from models.db import create_engine, session_maker
    from models.tables import OfficerCreate

    engine = create_engine(database_url)
    try:
        async with session_maker(engine)() as session:
            await store.begin_write(session)
            data = [
                OfficerCreate(name=row.name, role=row.role, region_code=row.region_code, phone=row.phone)
                for row in rows
            ]
            changes = await store.apply_roster(session, rows=data, authoritative=authoritative)
            # Before the rollback of a dry run expires (or forgets) the officers read
            lines = [(change.kind, _officer_line(kabupaten, change)) for change in changes]
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
    finally:
        await engine.dispose()
    return lines


@officers_app.command("deactivate")
def officers_deactivate(
    phone: Annotated[str, typer.Argument(help="The officer's phone number, in any Indonesian form.")],
) -> None:
    """Take one officer off the roster now: unknown to the bot on every channel, their chats unbound."""
    from lokal import parse_phone

    from models.regions import UnknownKabupaten, load_kabupaten

    settings = load_settings()
    try:
        kabupaten = load_kabupaten(settings.kabupaten)
    except UnknownKabupaten:
        fail(f"LANJUTKAN_KABUPATEN={settings.kabupaten} is not a kabupaten/kota code")
    parsed = parse_phone(phone)
    if not parsed.valid or parsed.e164 is None:
        fail(f"{phone!r} is not an Indonesian phone number")
    e164 = parsed.e164
    prepare_database(settings.database_url)
    from models import store

    async def work(session: AsyncSession) -> str | None:
        officer = await store.officer_by_phone(session, phone=e164)
        if officer is None:
            return None
        if not officer.active:
            return f"already inactive: {_officer_line(kabupaten, store.RosterChange(officer, 'unchanged'))}"
        change = await store.deactivate_officer(session, officer=officer)
        return f"deactivated: {_officer_line(kabupaten, change)}"

    done = with_session(settings.database_url, work)
    if done is None:
        fail(f"no officer with phone {_masked_phone(e164)} on the roster", code=1)
    out.print(escape(done))


def _rupiah(value: str | None) -> int | None:
    """Rp395.904.000, 395904000, 395.904.000 -> 395904000."""
    if value is None:
        return None
    from lokal import parse_rupiah

    try:
        parsed = parse_rupiah(value)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.approximate or parsed.amount < 0:
        fail(f"not an amount in Rupiah: {value!r} (write e.g. Rp395.904.000)")
    return int(parsed.amount)


@program_app.command("set")
def program_set(
    year: Annotated[int, typer.Option(help="Program year, e.g. 2026.", min=2000, max=2100)],
    budget: Annotated[str | None, typer.Option(help="Allocation, e.g. Rp395.904.000.")] = None,
    target: Annotated[int | None, typer.Option(help="Participants the budget is for.", min=0)] = None,
    quota: Annotated[
        int | None, typer.Option(help="New participants that may be established.", min=0)
    ] = None,
    jkk: Annotated[
        str | None, typer.Option(help="JKK contribution per person per month, e.g. Rp10.000.")
    ] = None,
    jkm: Annotated[
        str | None, typer.Option(help="JKM contribution per person per month, e.g. Rp6.800.")
    ] = None,
    coverage_start: Annotated[str | None, typer.Option(help="First day of coverage, YYYY-MM-DD.")] = None,
    income: Annotated[str | None, typer.Option(help="Declared monthly income, e.g. Rp1.000.000.")] = None,
    age_min: Annotated[int | None, typer.Option(min=0, max=120)] = None,
    age_max: Annotated[int | None, typer.Option(min=0, max=120)] = None,
    desil: Annotated[int | None, typer.Option(help="Highest desil without a warning.", min=1, max=10)] = None,
    intake_open: Annotated[str | None, typer.Option(help="First day of intake, YYYY-MM-DD.")] = None,
    intake_close: Annotated[str | None, typer.Option(help="Last day of intake, YYYY-MM-DD.")] = None,
    fix_close: Annotated[
        str | None, typer.Option(help="Last day to correct returned proposals (default: close + 14 days).")
    ] = None,
) -> None:
    """Set a year's figures; what is not given stays as it was."""
    import datetime as dt

    start = None
    if coverage_start is not None:
        try:
            start = dt.date.fromisoformat(coverage_start)
        except ValueError:
            fail(f"--coverage-start: not a date YYYY-MM-DD: {coverage_start!r}")
    figures = {
        "budget": _rupiah(budget),
        "target": target,
        "new_quota": quota,
        "jkk_per_month": _rupiah(jkk),
        "jkm_per_month": _rupiah(jkm),
        "coverage_start": start,
        "declared_income": _rupiah(income),
        "age_min": age_min,
        "age_max": age_max,
        "desil_threshold": desil,
    }
    given = {k: v for k, v in figures.items() if v is not None}
    settings = load_settings()
    prepare_database(settings.database_url)
    from models import program_year, store

    if intake_open or intake_close or fix_close:
        current = with_session(settings.database_url, lambda s: program_year.period_of(s, year=year))
        given |= period_figures(intake_open, intake_close, fix_close, current)
    if not given:
        fail("nothing to set: give at least one figure (see --help)")

    program = with_session(
        settings.database_url,
        lambda session: store.set_program(
            session, year=year, default_quota=settings.new_participant_quota, figures=given
        ),
    )
    _print_program(program)


@program_app.command("show")
def program_show() -> None:
    """Print every year's figures."""
    settings = load_settings()
    prepare_database(settings.database_url)
    from models import store

    for program in with_session(settings.database_url, store.program_years):
        _print_program(program)


def _print_program(program: ProgramYear) -> None:
    from lokal import format_rupiah

    def money(value: int | None) -> str:
        return format_rupiah(value) if value is not None else "-"

    ages = f"{program.age_min}-{program.age_max}" if program.age_min is not None else "-"
    out.print(
        f"{program.year}: budget {money(program.budget)}, target {program.target or '-'}, "
        f"new-participant quota {program.new_quota} ({program.new_established} established), "
        f"JKK {money(program.jkk_per_month)} + JKM {money(program.jkm_per_month)} per month, "
        f"coverage from {program.coverage_start or '-'}, declared income {money(program.declared_income)}, "
        f"ages {ages}, desil threshold {program.desil_threshold or '-'}"
    )
    out.print(period_line(program))


class RegistrySourceOption(StrEnum):
    dtsen = "dtsen"
    dtks = "dtks"
    p3ke = "p3ke"


SKIP_BAD_HELP = (
    "Import the good rows and write the bad ones to <file>.ditolak.csv (it holds NIKs: keep it safe)."
)


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX with at least the columns NIK and nama")],
    source: Annotated[RegistrySourceOption, typer.Option(help="Which registry the file is.")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help=SKIP_BAD_HELP)] = False,
) -> None:
    """Replace a registry's rows with a file's; by default a file with any bad row imports nothing."""
    from models.imports import import_registry
    from models.tables import RegistrySource

    label = f"registry {source.value}"
    _run_import(
        label,
        file,
        skip_bad,
        lambda services, progress: import_registry(
            services.sessions, services.vault, services.kabupaten, file,
            source=RegistrySource(source.value), skip_bad=skip_bad, progress=progress,
        ),
    )  # fmt: skip


@participants_app.command("import")
def participants_import(
    file: Annotated[Path, typer.Argument(help="CSV or XLSX with NIK, nama, desa, kategori, mulai")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help=SKIP_BAD_HELP)] = False,
) -> None:
    """Replace the list of active participants with a file's; by default any bad row imports nothing."""
    from models.imports import import_participants

    _run_import(
        "participants",
        file,
        skip_bad,
        lambda services, progress: import_participants(
            services.sessions, services.vault, services.kabupaten, file, skip_bad=skip_bad, progress=progress
        ),
    )


def _run_import(
    label: str, file: Path, skip_bad: bool, start: Callable[[Services, Progress], Awaitable[ImportReport]]
) -> None:
    """Run an import with a progress bar on stderr; bad rows by line, then one summary line on stdout."""
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    from models.imports import ImportRefused
    from models.tabular import TabularFileError

    _, services = ready_services()
    unit_column = DownloadColumn() if file.suffix.lower() == ".csv" else MofNCompleteColumn()
    bar = Bar(
        "{task.description}", BarColumn(), unit_column, TimeRemainingColumn(), console=err, transient=True
    )
    task = bar.add_task(escape(file.name), total=None)

    def progress(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    async def work() -> ImportReport:
        try:
            return await start(services, progress)
        finally:
            await services.close()

    try:
        with bar:
            report = asyncio.run(work())
    except TabularFileError as exc:
        fail(str(exc))
    except ImportRefused as exc:
        fail(str(exc))
    except Exception as exc:  # the database is down or its schema is old: one line, nothing switched
        fail(f"cannot import into the database: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    for problem in report.rejected:
        err.print(f"[yellow]line {problem.line}:[/] {escape(problem.reason)}")
    if report.rejected_count > len(report.rejected):
        err.print(f"[yellow]... and {report.rejected_count - len(report.rejected)} more rejected rows[/]")
    if report.rejected_file is not None:
        err.print(
            f"rejected rows written to {escape(str(report.rejected_file))} (it holds NIKs: keep it safe)"
        )
    counts = f"{report.rejected_count} rejected ({report.rows} rows in {escape(file.name)})"
    if report.rows == 0:
        fail(f"{file.name}: no data rows under the header: nothing imported")
    if report.imported == 0:
        hint = "; fix them, or import the good rows with --skip-bad" if report.rejected_count else ""
        out.print(f"{label}: nothing imported, {counts}{hint}")
        raise typer.Exit(1)
    replaced = f", {report.replaced} old rows replaced" if report.replaced else ""
    out.print(f"{label}: {report.imported} imported{replaced}, {counts}")
    if report.rejected_count:
        raise typer.Exit(1)


@app.command("export")
def export(
    kind: Annotated[
        str,
        typer.Argument(
            help="bpjs (XLSX for BPJS), lampiran (XLSX for the decree), usulan (CSV), or verif_lanjut / "
            "verif_keluar (the latest verification round's lists, XLSX)."
        ),
    ],
    folder: Annotated[Path, typer.Option("--out", help="Folder to write the file in.")] = Path("."),
) -> None:
    """Write one export file; it is audited like an export from the chat."""
    from handlers.ekspor import KINDS, Export, build
    from models import store

    if kind not in KINDS:
        fail(f"unknown export {kind!r}: choose {', '.join(KINDS)}")
    settings, services = ready_services()

    from models.private_files import private_file

    async def work(session: AsyncSession) -> Export:
        made = await build(session, services, kind)
        await store.record_export(
            session, officer_id=None, actor=os_actor(), kind=kind, rows=made.rows, channel="cli"
        )
        return made

    made = with_session(settings.database_url, work)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / made.file_name
    with private_file(path) as sink:  # full NIKs (bpjs, lampiran): a new file readable by this user only
        sink.write(made.content)
    out.print(f"{kind}: {made.rows} rows written to {escape(str(path))}")


def main() -> None:
    """Console script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
