"""SQLite on the event loop: a lock held by another process never blocks the loop, and the turn retries."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import time
from pathlib import Path

from sqlmodel import select

import handlers.engine
from handlers.engine import Engine
from handlers.messages import Inbound
from models.db import checkpoint_in_thread, create_engine, is_busy
from models.tables import Officer
from tests.conftest import OPERATOR_PHONE, create_schema, make_services, seed_roster


async def _services(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await create_schema(url)
    services = make_services(url)
    await seed_roster(services)
    return services, tmp_path / "bot.db"


def contact(user: str = "1001") -> Inbound:
    return Inbound("telegram", user, user, handlers.engine.Kind.CONTACT, contact_phone=OPERATOR_PHONE,
                   contact_user_id=user)  # fmt: skip


async def test_a_lock_held_by_another_process_delays_the_turn_without_blocking_the_loop(tmp_path):
    services, path = await _services(tmp_path)
    other = sqlite3.connect(path, isolation_level=None)  # e.g. `lanjutkan officers import` running
    other.execute("BEGIN EXCLUSIVE")
    asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    started = time.monotonic()
    replies = await Engine(services).handle(contact())
    elapsed = time.monotonic() - started
    beat.cancel()

    assert "Rina Sitohang" in replies[-1].text  # the turn was redone once the lock was gone
    assert elapsed >= 0.3
    assert ticks >= 15  # the loop kept running while the database was locked
    other.close()
    await services.close()


async def test_a_lock_that_never_ends_gives_the_try_again_answer(tmp_path, monkeypatch):
    services, path = await _services(tmp_path)
    monkeypatch.setattr(handlers.engine, "BUSY_PAUSES", (0.01, 0.02))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        replies = await Engine(services).handle(contact())
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert "terjadi gangguan" in replies[0].text
    await services.close()


def test_is_busy_recognises_only_lock_errors():
    assert is_busy(sqlite3.OperationalError("database is locked"))
    assert not is_busy(sqlite3.OperationalError("no such table: proposal"))
    assert not is_busy(ValueError("1217011508900001"))


async def test_checkpoints_move_the_wal_into_the_database_file(tmp_path):
    services, path = await _services(tmp_path)
    async with services.sessions() as session:
        assert len((await session.exec(select(Officer))).all()) == 5
    wal = path.with_name(path.name + "-wal")
    assert wal.stat().st_size > 0  # the bot's connection never checkpoints on the event loop

    def officers_in_the_database_file() -> int:
        # immutable: read the main file only, as if the WAL did not exist
        with contextlib.closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as file_only:
            return int(file_only.execute("SELECT count(*) FROM officer").fetchone()[0])

    assert officers_in_the_database_file() == 0
    await asyncio.to_thread(checkpoint_in_thread, f"sqlite+aiosqlite:///{path}")
    assert officers_in_the_database_file() == 5
    await services.close()


async def test_a_session_is_one_transaction_on_sqlite(sqlite_url):
    """What a session wrote and did not commit is gone after a rollback: a turn's change, its inbox
    claim and its outbox messages commit together or not at all (the driver itself is in autocommit)."""
    from sqlmodel import SQLModel, select

    from models.db import create_engine, session_maker
    from models.rules.status import Role
    from models.tables import Officer

    engine = create_engine(sqlite_url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    sessions = session_maker(engine)
    async with sessions() as session:
        session.add(
            Officer(name="Rina", role=Role.OPERATOR, region_code="12.17.01.2001", phone="+6281200000101")
        )
        await session.flush()
        await session.rollback()
    async with sessions() as session:
        assert (await session.exec(select(Officer))).all() == []
    await engine.dispose()


async def test_the_database_and_its_wal_and_shm_are_readable_by_their_owner_only(tmp_path):
    """They hold names, birth dates, addresses and phones: 0600 whatever the umask, old files tightened."""
    old = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(old)) as connection:  # made 0644 before this version
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (x)")
    old.chmod(0o644)
    umask = os.umask(0o022)
    try:
        services, path = await _services(tmp_path)  # a new database, written to
        async with services.sessions() as session:
            session.add(
                Officer(name="Rina", role="operator", region_code="12.17.01.2001", phone="+6281200000999")
            )
            await session.commit()
            files = [path, path.with_name("bot.db-wal"), path.with_name("bot.db-shm")]
            assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600, 0o600, 0o600]
        await services.close()
        engine = create_engine(f"sqlite+aiosqlite:///{old}")
        async with engine.connect() as connection:
            await connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        await engine.dispose()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
