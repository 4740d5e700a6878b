"""What both fake chat apps share: a loopback HTTP server, and waiting for a person's messages."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from aiohttp import web


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


async def serve(app: web.Application, host: str) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host`` at a free port; the runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    server = site._server
    assert server is not None
    return runner, server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
