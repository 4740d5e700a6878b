"""Webhook posts recorded together (bot.channels.grouped.GroupedWrites): the first at once, those that
arrive meanwhile in one write after it, each caller told when its item is written or why it is not."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.grouped import GroupedWrites


class Store:
    """A write that takes a moment, as a database transaction does, and remembers its batches."""

    def __init__(self, *, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.fail_on = fail_on

    async def write(self, items: list[str]) -> None:
        await asyncio.sleep(0.02)
        if self.fail_on in items:
            raise ConnectionError("database gone")
        self.batches.append(items)


async def test_the_first_goes_at_once_and_those_arriving_meanwhile_go_together_next():
    store = Store()
    writes = GroupedWrites(store.write)
    first = asyncio.create_task(writes.add("a"))
    await asyncio.sleep(0.005)  # "a" is being written
    await asyncio.gather(first, *(writes.add(item) for item in "bcd"))
    assert store.batches == [["a"], ["b", "c", "d"]]


async def test_a_batch_is_at_most_the_given_size():
    store = Store()
    writes = GroupedWrites(store.write, most=2)
    await asyncio.gather(*(writes.add(item) for item in "abcde"))
    assert store.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_failed_write_fails_each_of_its_callers_and_the_next_batch_still_goes():
    store = Store(fail_on="b")
    writes = GroupedWrites(store.write)
    first = asyncio.create_task(writes.add("a"))
    await asyncio.sleep(0.005)
    failed = [asyncio.create_task(writes.add(item)) for item in "bc"]
    await first
    for task in failed:
        with pytest.raises(ConnectionError):
            await task
    await writes.add("d")
    assert store.batches == [["a"], ["d"]]


async def test_a_caller_that_gives_up_leaves_its_item_to_be_written():
    store = Store()
    writes = GroupedWrites(store.write)
    impatient = asyncio.create_task(writes.add("a"))
    await asyncio.sleep(0.005)
    impatient.cancel()  # the HTTP client went away mid-write
    await writes.add("b")
    assert store.batches == [["a"], ["b"]]
