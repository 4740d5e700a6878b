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
