"""Webhook posts recorded together: what arrives while one write is in flight goes in the next one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupedWrites(Generic[T]):
    """Items written in batches (a group commit): the first goes at once; those that arrive while a write
    is in flight wait for it and go together in the next. Under load, one transaction records many webhook
    posts, as one long poll's batch does; no post waits longer than the write before its own."""

    def __init__(self, write: Callable[[list[T]], Awaitable[None]], *, most: int = 100) -> None:
        self._write = write
        self._most = most
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        """Return once ``item`` is written; raise what its write raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        done.add_done_callback(_retrieved)  # a caller that gave up never reads it
        self._waiting.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain())
        await asyncio.shield(done)  # a caller that gives up leaves the item to be written all the same

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
            try:
                await self._write([item for item, _ in batch])
            except BaseException as error:  # stopped too (the process stops): nobody is left waiting
                for _, done in batch:
                    done.set_exception(error if isinstance(error, Exception) else ConnectionAbortedError())
                if not isinstance(error, Exception):
                    raise
            else:
                for _, done in batch:
                    done.set_result(None)


def _retrieved(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()
