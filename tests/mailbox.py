"""What both fake chat apps share: waiting for a person's messages to arrive."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar


class Shown(Protocol):
    @property
    def text(self) -> str: ...


M = TypeVar("M", bound=Shown)


async def wait_for_count(
    read: Callable[[], Sequence[M]], arrived: asyncio.Event, count: int, timeout: float, who: str
) -> list[M]:
    """Wait until ``read()`` holds at least ``count`` messages (``arrived`` is set at each new one);
    return them all, or raise TimeoutError naming ``who`` and what came."""
    deadline = time.monotonic() + timeout
    while len(read()) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            got = [m.text[:60] for m in read()]
            raise TimeoutError(f"{who}: wanted {count} messages, got {len(got)}: {got}")
        arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), remaining)
    return list(read())
