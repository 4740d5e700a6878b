"""What intake keeps a while (the year's figures, the imported registries) and the inbox's recording."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlmodel import select

from models import store
from models.db import create_engine, session_maker
from models.tables import InboundUpdate
from tests.conftest import create_schema


@pytest.fixture
async def sessions(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    yield session_maker(engine)
    await engine.dispose()


async def figures(sessions) -> store.IntakeFigures:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return await store.intake_figures(session, year=2026)


async def registries(sessions) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return await store.imported_registries(session)


async def set_program(sessions, **values: int) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        await store.set_program(session, year=2026, default_quota=320, figures=values)
        await session.commit()


async def activate(sessions, source: str) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        batch = await store.start_registry_batch(session, source=source, file_name=f"{source}.csv")
        await store.activate_registry_batch(session, source=source, batch_id=batch, rows=0)
        await session.commit()


async def as_another_process(database_url: str, sql: str) -> None:
    """A change this process's store functions do not see being made (another process's)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


async def test_a_year_never_set_has_no_figures_and_nothing_is_imported(sessions):
    assert await figures(sessions) == store.IntakeFigures(None, None, None)
    assert await registries(sessions) == ()


async def test_figures_set_in_this_process_are_seen_at_once(sessions):
    assert (await figures(sessions)).age_max is None  # kept from here on
    await set_program(sessions, age_min=15, age_max=30, desil_threshold=5)
    assert await figures(sessions) == store.IntakeFigures(15, 30, 5)
    await set_program(sessions, age_max=40)
    assert await figures(sessions) == store.IntakeFigures(15, 40, 5)


async def test_a_source_activated_in_this_process_is_seen_at_once(sessions):
    assert await registries(sessions) == ()
    await activate(sessions, "dtsen")
    assert await registries(sessions) == ("dtsen",)
    await activate(sessions, "dtks")
    await activate(sessions, "dtsen")  # a re-import: still one entry per source, by source
    assert await registries(sessions) == ("dtks", "dtsen")


async def test_another_process_s_change_is_seen_once_the_kept_reads_are_old(
    sessions, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    await set_program(sessions, age_min=15, age_max=30)
    assert (await figures(sessions)).age_max == 30
    assert await registries(sessions) == ()
    await as_another_process(database_url, "UPDATE programyear SET age_max = 50 WHERE year = 2026")
    await as_another_process(
        database_url,
        "INSERT INTO registrybatch (source, file_name, rows, started_at) "
        "VALUES ('p3ke', 'p3ke.csv', 0, CURRENT_TIMESTAMP)",
    )
    await as_another_process(
        database_url,
        "INSERT INTO registryactive (source, batch_id, activated_at) "
        "SELECT 'p3ke', id, CURRENT_TIMESTAMP FROM registrybatch WHERE source = 'p3ke'",
    )
    assert (await figures(sessions)).age_max == 30  # within INTAKE_CACHE_SECONDS: what was read
    assert await registries(sessions) == ()
    monkeypatch.setattr(store, "INTAKE_CACHE_SECONDS", 0.0)  # as if that many seconds had passed
    assert (await figures(sessions)).age_max == 50
    assert await registries(sessions) == ("p3ke",)


async def test_each_database_keeps_its_own(sessions, tmp_path):  # type: ignore[no-untyped-def]
    other_url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    await create_schema(other_url)
    engine = create_engine(other_url)
    try:
        other = session_maker(engine)
        await set_program(other, age_min=20, age_max=40)
        assert await figures(other) == store.IntakeFigures(20, 40, None)
        assert await figures(sessions) == store.IntakeFigures(None, None, None)
    finally:
        await engine.dispose()


async def test_a_read_overtaken_by_a_change_is_not_kept(sessions):
    """A change committed while a read was under way: that read's (older) value is used once, not kept."""
    async with sessions() as session:

        async def read_then_changed() -> str:
            store.forget_intake_reads()  # as set_program's commit would, in the middle of the read
            await asyncio.sleep(0)
            return "old"

        async def read_again() -> str:
            return "new"

        assert await store._kept(session, "k", read_then_changed) == "old"
        assert await store._kept(session, "k", read_again) == "new"
        assert await store._kept(session, "k", read_then_changed) == "new"  # kept now


async def test_record_inbound_adds_what_is_new_and_keeps_what_was_there(sessions):
    async with sessions() as session:
        assert await store.record_inbound(
            session, channel="telegram", updates=[("1", "a", "7"), ("2", "b", "7")]
        ) == [
            "1",
            "2",
        ]
        await session.commit()
    async with sessions() as session:
        assert await store.record_inbound(
            session,
            channel="telegram",
            updates=[("2", "B", "7"), ("3", "c", "8"), ("3", "again in one delivery", "8")],
        ) == ["3"]
        assert await store.record_inbound(
            session, channel="whatsapp", updates=[("wamid.2", "w", "ID.1")]
        ) == ["wamid.2"]
        await session.commit()
    async with sessions() as session:
        rows = (await session.exec(select(InboundUpdate).order_by(InboundUpdate.seq))).all()
        assert [(r.channel, r.update_id, r.payload, r.handled_at) for r in rows] == [
            ("telegram", "1", "a", None),
            ("telegram", "2", "b", None),
            ("telegram", "3", "c", None),
            ("whatsapp", "wamid.2", "w", None),
        ]
        assert all(r.received_at is not None for r in rows)
        assert [r.update_id for r in await store.pending_inbound(session, channel="telegram")] == [
            "1",
            "2",
            "3",
        ]
        assert await store.claim_inbound(session, channel="telegram", update_id="2")
        assert not await store.claim_inbound(session, channel="telegram", update_id="2")
