"""Concurrent across users, in order within a user (PTB's default lets a user's next message
overtake the previous one, which breaks a step-by-step conversation)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


def update_key(update: object) -> int | None:
    """Whose update this is: the user, else the chat; None for updates that belong to no one."""
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Runs different users' updates in parallel and each user's updates one after another."""

    __slots__ = ("_limit", "_running", "_tails")

    def __init__(self, max_concurrent_updates: int) -> None:
        # PTB takes its semaphore before do_process_update, so a user's queued updates would hold slots
        # while waiting for their own previous one, and one flooding user could stall everyone. Its
        # semaphore is therefore left unbounded and ours is taken only once it is this update's turn.
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be a positive integer")
        self._limit = sys.maxsize  # super() sizes its semaphore from the max_concurrent_updates property
        super().__init__(sys.maxsize)
        self._limit = max_concurrent_updates
        self._running = asyncio.Semaphore(max_concurrent_updates)
        self._tails: dict[int, asyncio.Future[None]] = {}

    @property
    def max_concurrent_updates(self) -> int:
        """How many updates run at once (across users; one at a time per user)."""
        return self._limit

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the same user's previous update to finish, then process this one."""
        key = update_key(update)
        if key is None:
            async with self._running:
                await coroutine
            return
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = done  # set before any await, so arrival order is the processing order
        try:
            if previous is not None:
                await previous
            async with self._running:
                await coroutine
        finally:
            done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""
