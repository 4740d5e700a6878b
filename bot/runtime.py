"""The running bot: the configured chat apps, the HTTP server, an outbox per chat app, the scheduled
messages and SQLite's checkpoints, in one process and one event loop, stopped cleanly by SIGTERM.

A channel (``bot/channels/<app>/``) brings its receiver (polling, or routes on the HTTP server), its courier
and its pacer; this module composes them and owns what serves every channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
import socket
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any, Protocol, TypeVar

import uvicorn
from fastapi import FastAPI

from bot.health import Health, health_of
from bot.metrics import Metrics
from bot.server import Observability, build_server
from handlers import chart
from handlers.context import Services
from models.db import checkpoint_periodically
from scheduler.jobs import Schedule, Timetable
from scheduler.outbox import Courier, Outbox, Pacer
from scheduler.replies import DirectReplies

log = logging.getLogger(__name__)
T = TypeVar("T")

# Young collections every 5.000 allocations (not 700) and a full one only after 1.000 middle ones (not 10):
# measured in benchmarks/intake.py, p99 148 ms with Python's defaults, 36 ms with these.
GC_THRESHOLDS = (5000, 20, 1000)
STOP_GRACE = 10.0  # seconds a stop waits for what is in flight


class Channel(Protocol):
    """A chat app as the runtime sees it."""

    @property
    def name(self) -> str:
        """ "telegram", "whatsapp": the ``channel`` of its accounts, inbox and outbox rows."""

    @property
    def courier(self) -> Courier:
        """Its way out, shared by the direct replies and the outbox."""

    @property
    def direct(self) -> DirectReplies:
        """Its direct replies (their pacer is the outbox's: one flood state per chat app account)."""

    @property
    def window(self) -> dt.timedelta | None:
        """How long after a person's last message free-form messages may reach them (None: always)."""

    def mount(self, server: FastAPI) -> None:
        """Add its routes (webhooks) to the HTTP server."""

    async def start(self) -> None:
        """Replay its inbox and start receiving."""

    async def stop(self) -> None:
        """Stop receiving and finish what is in flight."""


class Workers:
    """What runs beside the channels: an outbox per channel, the scheduled messages, checkpoints."""

    def __init__(
        self, services: Services, channels: Sequence[Channel], *, holder: str, timetable: Timetable | None
    ) -> None:
        self.services = services
        self.channels = list(channels)
        self.timetable = timetable  # None: no scheduled messages from this process
        self.outboxes = [_outbox(services, channel, holder) for channel in self.channels]
        self.schedule: Schedule | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def prepare(self) -> None:
        """Before anyone is answered: each outbox's heartbeat and lease, a dead process's replies taken
        over, a 429's pause still running."""
        for outbox in self.outboxes:
            await outbox.prepare()

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(checkpoint_periodically(self.services.database_url)))
        self._tasks += [asyncio.create_task(outbox.run()) for outbox in self.outboxes]
        self._tasks.append(asyncio.create_task(asyncio.to_thread(chart.warm_up)))
        if self.timetable is not None:
            self.schedule = Schedule(self.services, self.timetable)
            self.schedule.start()

    async def stop(self) -> None:
        """The replies sent recorded (not sent again next start), the schedule stopped, each outbox's lease
        given back."""
        for channel in self.channels:
            await channel.direct.receipts.drain()
        if self.schedule is not None:
            await self.schedule.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _outbox(services: Services, channel: Channel, holder: str) -> Outbox:
    pacer: Pacer = channel.direct.pacer
    return Outbox(
        services,
        channel.name,
        channel.courier,
        limits=pacer.limits,
        holder=holder,
        pacer=pacer,
        window=channel.window,
    )


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the bot's event loop until ``main`` returns: uvloop where it is installed (Linux, macOS: less CPU
    per update for the sockets of the webhooks, the database and the chat apps), asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:  # Windows
        return asyncio.run(main)
    return uvloop.run(main)


def tune_memory() -> None:
    """What start-up loaded (regions, modules, caches) lives as long as the process: keep it out of every
    later full garbage collection, whose pauses otherwise show as latency spikes; and collect less often
    than Python's defaults, whose full collections show as 100+ ms pauses."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def bind(host: str, port: int, *, shared: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``shared``: with other processes, SO_REUSEPORT); OSError when
    the port is taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the runtime stops the server with everything else."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Runtime:
    """One bot process: channels, HTTP server and workers, until SIGTERM or SIGINT."""

    def __init__(
        self,
        services: Services,
        channels: Sequence[Channel],
        *,
        holder: str,
        host: str,
        port: int,
        timetable: Timetable | None = None,
        observability: Observability | None = None,
    ) -> None:
        self.services = services
        self.channels = list(channels)
        self.workers = Workers(services, channels, holder=holder, timetable=timetable)
        self.app = self._server(observability or Observability())
        for channel in self.channels:
            channel.mount(self.app)
        self.host = host
        self.port = port
        self.stopping = asyncio.Event()
        self.bound_port: int | None = None  # the port listened on (LANJUTKAN_PORT=0: the one chosen)

    def _server(self, options: Observability) -> FastAPI:
        """The HTTP server with /readyz reading the channels' health and /metrics this process's
        registry (its events attached to the services, which the engine and the workers report to)."""
        marks = [h for channel in self.channels if (h := health_of(channel)) is not None]
        self.health = Health(marks, stale_after=options.stale_after)
        self.metrics = Metrics(self.services, [c.name for c in self.channels]) if options.metrics else None
        self.services.events.attach(self.metrics)
        return build_server(self.services, health=self.health, metrics=self.metrics, observability=options)

    def listen(self, *, shared: bool = False) -> socket.socket:
        """Bind the HTTP port now, so a port in use is a clear error before anything starts; ``shared``:
        with the other workers of ``run --workers`` (the kernel spreads the connections among them)."""
        sock = bind(self.host, self.port, shared=shared)
        self.bound_port = sock.getsockname()[1]
        return sock

    async def run(self, sock: socket.socket) -> None:
        """Serve until asked to stop; then stop taking requests, finish what is in flight (bounded) and
        give the outbox leases back."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests)
                loop.add_signal_handler(signum, self.stopping.set)
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off")
        server = _Server(config)
        await self.workers.prepare()  # before any update is answered
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        started: list[Channel] = []
        try:
            while not server.started:
                if serving.done():
                    serving.result()  # the server failed to start: its error
                    return
                await asyncio.sleep(0.01)
            for channel in self.channels:
                await channel.start()
                started.append(channel)
            self.workers.start()
            tune_memory()
            log.info(
                "bot running for %s: %s; HTTP on %s:%s",
                self.services.kabupaten.name,
                ", ".join(c.name for c in self.channels),
                self.host,
                self.bound_port,
            )
            await self.stopping.wait()
            log.info("stopping")
        finally:
            server.should_exit = True  # no new requests; those in flight are finished
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_GRACE):
                    await asyncio.gather(serving, return_exceptions=True)
            for channel in reversed(started):
                try:
                    async with asyncio.timeout(STOP_GRACE):
                        await channel.stop()
                except Exception as error:
                    log.warning("%s did not stop cleanly: %s", channel.name, type(error).__name__)
            await self.workers.stop()
            await self.services.close()
