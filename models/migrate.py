"""Alembic, driven from code: `lanjutkan db upgrade`, and `run`/`demo` on a SQLite file."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from models.db import async_url, ensure_sqlite_dir

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would eat the % of URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return config


def is_current(database_url: str) -> bool:
    """Whether the database is at the latest migration. Call it outside a running event loop."""
    import asyncio

    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from models.db import create_engine

    heads = set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())

    async def current() -> set[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return set(
                    await connection.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
                )
        finally:
            await engine.dispose()

    return asyncio.run(current()) == heads


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``. Call it outside a running event loop."""
    ensure_sqlite_dir(async_url(database_url))
    command.upgrade(alembic_config(database_url), revision)
