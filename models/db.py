"""The async database engine: SQLite file by default, PostgreSQL by URL; never blocks the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")

SessionMaker = async_sessionmaker[AsyncSession]


def async_url(url: str) -> str:
    """Give plain URLs an async driver: sqlite -> aiosqlite, postgresql -> asyncpg."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file (``data/`` by default) so a fresh clone just works, and the file
    itself readable by its owner only (see :func:`keep_private`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        keep_private(path)


def keep_private(path: Path) -> None:
    """Make a SQLite database file 0600 before SQLite does, and tighten it and its -wal/-shm if they exist.

    It holds names, birth dates, addresses and phone numbers; SQLite creates its -wal and -shm files with
    the database file's mode, so a database file created 0600 keeps all three private.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(file.stat().st_mode) & 0o077:
                file.chmod(0o600)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine: asyncpg for PostgreSQL; for SQLite, one connection in WAL mode, run inline.

    SQLite has one writer at a time anyway; one pooled connection makes concurrent turns queue in the
    pool instead of failing with "database is locked", and transactions stay short because handlers never
    do network I/O inside one. See :class:`InlineSqliteConnection` for why its calls run on the loop.
    """
    url = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        path = make_url(url).database or ":memory:"
        ensure_sqlite_dir(url)
        # reset_on_return: the session always ends its transaction itself.
        kwargs.update(
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            pool_reset_on_return=None,
            async_creator=lambda: InlineSqliteConnection.open(path),
        )
    else:
        # No pool_pre_ping: its round trips on every checkout were a fifth of a turn's. A connection the
        # server dropped (a restart, a failover) fails its transaction instead, the pool drops them all,
        # and the transaction is run again on a new one (see is_busy). Eight connections a process: a
        # transaction never waits on the network, so a few keep a worker busy, and more transactions at
        # once only contend in the server (benchmarks/scale.py: its CPU per update a third lower than
        # with twenty).
        kwargs.update(pool_size=4, max_overflow=4)
    # hide_parameters: SQL errors in logs must not carry NIK hashes, names or phone numbers.
    engine = create_async_engine(url, hide_parameters=True, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(connection: Any) -> None:
    """Start SQLite's transaction when SQLAlchemy starts one.

    The driver runs in autocommit mode (``isolation_level=None``, so it never issues a BEGIN of its own
    at surprising moments); without this every statement would commit by itself and a turn's change, its
    inbox claim and its outbox messages would not be one transaction. ``BEGIN`` is deferred (the write
    lock is taken at the first write); a bulk import asks for ``IMMEDIATE`` with the ``sqlite_begin``
    execution option (see ``models.store.begin_write``).
    """
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit writes the log, no fsync
    cursor.execute("PRAGMA foreign_keys=ON")
    # Never wait for another process's lock on the event loop: fail at once, and the engine retries the
    # turn after an asynchronous pause (see is_busy).
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def is_busy(error: BaseException) -> bool:
    """Whether a transaction that failed is worth running again after a pause: SQLite's "database is
    locked", or a connection the server dropped (PostgreSQL restarted; the pool replaced them all)."""
    if getattr(error, "connection_invalidated", False):
        return True
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "database table is locked" in text


# Pauses between attempts while another process holds SQLite's write lock (~3 s in all)
BUSY_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


async def when_free(operation: Callable[[], Awaitable[T]], pauses: Sequence[float] = BUSY_PAUSES) -> T:
    """Run ``operation`` (a whole transaction), and again after each pause while SQLite says another
    process holds its write lock or the connection was lost (the transaction was rolled back; waiting
    blocks no one); any other error, or the last attempt's, is raised."""
    for pause in pauses:
        try:
            return await operation()
        except Exception as error:
            if not is_busy(error):
                raise
        await asyncio.sleep(pause)
    return await operation()


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once, right here."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Any]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is not None and not future.done():
                future.set_exception(error)
        else:
            if future is not None and not future.done():
                future.set_result(result)


class InlineSqliteConnection(aiosqlite.Connection):
    """aiosqlite's connection, but each SQLite call runs on the event loop instead of a worker thread.

    Measured in benchmarks/intake.py: aiosqlite's thread hop (about four per statement, twenty per
    conversation step) held the single connection ~8 ms per step under load and capped the bot at
    ~125 steps/s; inline it is ~1-2 ms of CPU and the bot reaches its targets. The calls that could
    block stay off the loop: a lock held by another process fails at once (busy_timeout=0) and the engine
    retries after an asyncio pause; WAL checkpoints (the only fsyncs with synchronous=NORMAL) are disabled
    on this connection and run in a thread by :func:`checkpoint_in_thread`.
    """

    @classmethod
    async def open(cls, path: str) -> InlineSqliteConnection:
        connection = cls(lambda: sqlite3.connect(path, isolation_level=None, check_same_thread=False), 64)
        connection._tx = _RunNow()  # type: ignore[assignment]
        connection._connection = connection._connector()
        connection._connection.execute("PRAGMA wal_autocheckpoint=0")
        return connection

    async def _connect(self) -> InlineSqliteConnection:
        return self

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("no active connection")
        return fn(*args, **kwargs)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def checkpoint_periodically(url: str, every: float = 30.0) -> None:
    """Run :func:`checkpoint_in_thread` every ``every`` seconds, off the event loop, until cancelled."""
    while True:
        await asyncio.sleep(every)
        await asyncio.to_thread(checkpoint_in_thread, url)


def checkpoint_in_thread(url: str) -> None:
    """Copy the SQLite WAL into the database file (PASSIVE: never waits for readers or writers).

    Blocking (it fsyncs): call it through ``asyncio.to_thread``. No-op for PostgreSQL.
    """
    if not is_sqlite(url):
        return
    path = make_url(async_url(url)).database
    if not path or path == ":memory:":
        return
    connection = sqlite3.connect(path, timeout=0)
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.OperationalError:
        pass  # busy: the next round will do it
    finally:
        connection.close()


def session_maker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
