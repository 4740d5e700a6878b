"""What every command of the CLI shares: the two consoles, a one-line failure, the settings read, the
database brought up to date and one transaction run, and who runs it (for the audit)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from bot.settings import Settings

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from handlers.context import Services

T = TypeVar("T")

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: no traceback for a configuration mistake."""
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def load_settings() -> Settings:
    """The settings, or one line naming the first one that is wrong."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        fail(f"{name}: {first['msg']}")
    return settings


def upgrade_database(url: str) -> None:
    """Bring the database to the latest schema, or one line saying why it cannot be."""
    from models.migrate import upgrade

    try:
        upgrade(url)
    except Exception as exc:  # a wrong URL, an unreachable server: one line, not a traceback
        fail(f"cannot upgrade the database: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")


def prepare_database(url: str) -> None:
    """Bring a SQLite file to the latest schema (PostgreSQL is upgraded by `lanjutkan db upgrade`)."""
    from models.db import is_sqlite

    if is_sqlite(url):
        upgrade_database(url)


def with_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one committed transaction; a database failure is one line."""
    from models.db import create_engine, session_maker

    async def run() -> T:
        engine = create_engine(url)
        try:
            async with session_maker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except Exception as exc:
        fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")


def os_actor() -> str:
    """Who runs this command, for the audit: OS user and host (``uid 1000`` when there is no login name)."""
    import getpass
    import os
    import socket

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # a container's uid without a passwd entry nor LOGNAME/USER
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"[:120]


def ready_services() -> tuple[Settings, Services]:
    """The settings and the services of a command that works on the database (a SQLite file brought to
    the latest schema first), or one line saying what is wrong."""
    from bot.services import ConfigError, build_services

    settings = load_settings()
    try:
        services = build_services(settings)
    except ConfigError as exc:
        fail(str(exc))
    prepare_database(settings.database_url)
    return settings, services
