"""A person's updates are answered one after another in the order they arrived, whichever receiver got
them; different people at the same time (handlers.engine.PersonQueue, which every channel goes through)."""

from __future__ import annotations

import asyncio

import pytest

from handlers.engine import PersonQueue


async def test_one_persons_turns_follow_their_arrival_even_when_the_first_is_slow():
    queue, order = PersonQueue(), []

    async def update(name: str, work: float) -> None:
        async with queue.turn("telegram", "1001"):
            order.append(f"{name} starts")
            await asyncio.sleep(work)
            order.append(f"{name} ends")

    tasks = [asyncio.create_task(update(name, work)) for name, work in (("a", 0.05), ("b", 0.0), ("c", 0.0))]
    await asyncio.gather(*tasks)

    assert order == ["a starts", "a ends", "b starts", "b ends", "c starts", "c ends"]
    assert not queue._tails  # nothing kept once everyone is answered


async def test_different_people_and_channels_do_not_wait_for_each_other():
    queue, inside = PersonQueue(), asyncio.Event()

    async def slow() -> None:
        async with queue.turn("telegram", "1001"):
            await asyncio.wait_for(inside.wait(), 1.0)  # held until the others got in

    async def other(channel: str, user: str) -> None:
        async with queue.turn(channel, user):
            pass

    holding = asyncio.create_task(slow())
    await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(other("telegram", "1002"), other("whatsapp", "1001")), 0.5)
    inside.set()
    await holding


async def test_a_turn_that_fails_lets_the_next_one_in():
    queue, order = PersonQueue(), []

    async def failing() -> None:
        async with queue.turn("telegram", "1001"):
            raise RuntimeError("the turn broke")

    async def next_one() -> None:
        async with queue.turn("telegram", "1001"):
            order.append("next")

    first = asyncio.create_task(failing())
    second = asyncio.create_task(next_one())
    with pytest.raises(RuntimeError):
        await first
    await asyncio.wait_for(second, 0.5)
    assert order == ["next"]


# ---------------------------------------------------------------------------- several processes (PostgreSQL)


async def _bound_operator(services) -> None:  # type: ignore[no-untyped-def]
    """Rina (tests.conftest.ROSTER) bound on Telegram as user 1001, straight in the database."""
    from sqlmodel import select

    from models.tables import ChatAccount, Officer, utcnow
    from tests.conftest import OPERATOR_PHONE

    async with services.sessions() as session:
        officer = (await session.exec(select(Officer).where(Officer.phone == OPERATOR_PHONE))).one()
        session.add(
            ChatAccount(
                channel="telegram",
                external_id="1001",
                chat_id="1001",
                officer_id=officer.id,
                bound_at=utcnow(),
            )
        )
        await session.commit()


async def _received(services, *updates: tuple[str, str]) -> list:  # type: ignore[no-untyped-def]
    """Updates (id, text) of user 1001 recorded in the inbox in this order, as a receiver does."""
    from handlers.messages import Inbound
    from models import store

    async with services.sessions() as session:
        rows = [(update_id, "", "1001") for update_id, _ in updates]
        await store.record_inbound(session, channel="telegram", updates=rows)
        await session.commit()
    return [
        Inbound.from_text(channel="telegram", user_id="1001", chat_id="1001", text=text, update_id=update_id)
        for update_id, text in updates
    ]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_an_update_at_one_process_waits_for_the_earlier_one_at_another(services, database_url):
    """Two engines on one PostgreSQL database, as two worker processes: the person's second update,
    reaching the second process first, is applied only after the first."""
    from handlers.engine import Engine
    from tests.conftest import make_services, synthetic_nik

    await _bound_operator(services)
    other = make_services(database_url)
    first, second = Engine(services), Engine(other)
    assert first.ordered_in_database
    assert second.ordered_in_database
    nik = synthetic_nik(serial=31)
    daftar, typed_nik = await _received(services, ("101", "/daftar"), ("102", nik))
    try:
        late = asyncio.create_task(second.handle(typed_nik))  # the NIK, at the other process, first
        await asyncio.sleep(0.3)
        assert not late.done()  # waiting for /daftar, received before it
        started = await first.handle(daftar)
        assert "Usulan baru" in started[0].text
        read_back = await asyncio.wait_for(late, 5)
        assert f"NIK {nik} terbaca" in read_back[0].text  # applied after /daftar, as sent
    finally:
        await other.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_an_earlier_update_nobody_handles_holds_the_next_only_a_while(
    services, database_url, monkeypatch
):
    """The process holding the earlier update died: the next one goes after the wait (the replay at the
    next start handles the earlier one), nothing blocks for good."""
    from handlers import engine as engine_module
    from handlers.engine import Engine

    monkeypatch.setattr(engine_module, "ORDER_PAUSES", (0.05, 0.05))
    await _bound_operator(services)
    _, later = await _received(services, ("201", "/bantuan"), ("202", "/daftar"))
    started = asyncio.get_running_loop().time()
    replies = await asyncio.wait_for(Engine(services).handle(later), 5)
    assert asyncio.get_running_loop().time() - started >= 0.1  # it did wait for the earlier one first
    assert "Usulan baru" in replies[0].text


@pytest.mark.postgres
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_after_the_database_dropped_every_connection_the_next_message_is_answered(
    services, database_url
):
    """PostgreSQL restarted (or failed over) and the bot's pooled connections are dead: the next turn
    fails on one, the pool replaces them all, and the turn runs again and is answered (no ping on every
    checkout to find out first)."""
    import asyncpg

    from handlers.engine import Engine

    await _bound_operator(services)
    engine = Engine(services)
    help_asked, daftar = await _received(services, ("301", "/bantuan"), ("302", "/daftar"))
    await engine.handle(help_asked)  # the pool holds a connection that worked
    admin = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert dropped >= 1

    replies = await asyncio.wait_for(engine.handle(daftar), 10)

    assert "Usulan baru" in replies[0].text
