"""The update processor: parallel across users, in order per user, and no user can stall the others."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.channels.telegram.processor import PerUserUpdateProcessor


def update_from(user_id: int, update_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
                "text": "x",
            },
        },
        None,
    )


async def test_one_users_updates_run_in_arrival_order_one_at_a_time():
    processor = PerUserUpdateProcessor(8)
    log: list[tuple[str, int]] = []

    async def handle(i: int) -> None:
        log.append(("start", i))
        await asyncio.sleep(0.01 * (5 - i))  # earlier updates are slower: overtaking would show
        log.append(("end", i))

    await asyncio.gather(*(processor.process_update(update_from(1, i), handle(i)) for i in range(5)))

    assert log == [(kind, i) for i in range(5) for kind in ("start", "end")]


async def test_a_flooding_user_does_not_stall_another_user():
    processor = PerUserUpdateProcessor(2)
    release = asyncio.Event()
    other_done = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    async def other() -> None:
        other_done.set()

    # 50 updates of one user, the first of which blocks: the rest wait for it, not for a slot.
    flood = [asyncio.create_task(processor.process_update(update_from(1, i), slow())) for i in range(50)]
    await asyncio.sleep(0.01)
    second = asyncio.create_task(processor.process_update(update_from(2, 99), other()))
    await asyncio.wait_for(other_done.wait(), 1.0)

    release.set()
    await asyncio.gather(*flood, second)
    assert processor.max_concurrent_updates == 2


async def test_different_users_run_in_parallel_up_to_the_limit():
    processor = PerUserUpdateProcessor(3)
    running = 0
    peak = 0

    async def handle() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1

    await asyncio.gather(*(processor.process_update(update_from(u, u), handle()) for u in range(10)))
    assert peak == 3
