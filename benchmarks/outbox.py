"""Outbox benchmark: 10.000 queued messages to 2.000 chats through the real delivery worker, against a fake
Telegram that enforces Telegram's limits.

What runs (all in this one process, one event loop):

* **Our worker**: :class:`scheduler.outbox.Outbox` and its ``run()`` loop as ``lanjutkan run`` starts it, with
  the production limits (``scheduler.outbox.Limits()``: at most 30 messages overall in any second plus the
  round trip, evenly spaced (29/s at most); 1.1 s between two messages to one chat; 64 in flight), on a SQLite
  file in a temp dir (WAL, the production ``models.db.create_engine``; services from
  ``tests.conftest.make_services``, tables from ``create_schema``). It sends through the production
  :class:`bot.channels.telegram.TelegramCourier`: a PTB ``Bot`` with the production Bot API client
  (:class:`bot.channels.telegram.http.AiohttpRequest`). The garbage collector is set up as the bot's
  start-up does (frozen start-up objects, ``GC_THRESHOLDS``).
* **Telegram**: :class:`tests.fakebotapi.FakeBotApi` on loopback HTTP with ``enforce_limits=True``: at most
  30 sendMessage calls accepted in any sliding one-second window and one per chat per second, checked when
  a call arrives; beyond them it answers 429 with ``retry_after`` (whole seconds, >= 1) and records nothing.
  Every call is answered after a simulated round trip (``--latency``, 20 ms by default).

The queue: ``--messages`` messages (10.000) to ``--chats`` chats (2.000), the same number to each chat,
numbered per chat, in a random (seeded) order as many conversations' changes interleave: each chat's
messages in their order, at random places in the queue. They are queued with
:func:`models.store.queue_message` in transactions of 100, all before the worker starts, and the
doorbell is rung as a handler's commit does.

Measurements:

* **msg/s**: sustained delivery rate, from the first to the last message the fake accepted:
  (accepted - 1) / (time of the last - time of the first), arrival times at the fake.
* **429s**: the 429 answers the fake gave (target 0: the worker keeps below the limits by itself).
* **lost**: messages queued but never accepted by the fake (target 0); duplicates (accepted more than
  once) and chats that received their messages out of order are reported too, and the database's final
  count of sent / failed / pending rows.
* As a check of the fake's enforcement, the most messages accepted in any one-second window and the
  shortest gap between two messages to one chat.
* **Start to arrival**: for each message, the time from the worker's pacer counting its start to the fake
  receiving the call (p50, p99, max, and the spread max - min). Telegram (and the fake) count the limit at
  arrival, the pacer at the start: this is the delay the pacer must allow for.

``--load N`` starts N CPU-bound processes (busy loops) beside the benchmark for its whole run and stops
them at the end, as on a shared machine where other work competes for the cores.

The last line printed is exactly ``outbox: <msg/s> msg/s, <n> 429s, <n> lost``.

Run: ``.venv/bin/python benchmarks/outbox.py`` (about 6 minutes at full size; ``--messages 1000
--chats 200`` for a quick run, ``--load 2`` beside two busy processes, ``--help`` for the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import logging
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402
from telegram import Bot  # noqa: E402

import models.tables  # noqa: E402,F401  (tables on the metadata)
from bot.channels.telegram import CHANNEL, TelegramCourier  # noqa: E402
from bot.channels.telegram.http import AiohttpRequest  # noqa: E402
from bot.runtime import GC_THRESHOLDS  # noqa: E402
from handlers.context import Services  # noqa: E402
from models import store  # noqa: E402
from models.tables import ChatAccount, Delivery, OutboundMessage  # noqa: E402
from scheduler.outbox import Limits, Outbox, Start  # noqa: E402
from tests.conftest import create_schema, make_services  # noqa: E402
from tests.fakebotapi import TOKEN, FakeBotApi  # noqa: E402

TARGET_RATE = 28.5  # 95% of Telegram's 30 messages/s
TELEGRAM_PER_SECOND = 30
TELEGRAM_CHAT_INTERVAL = 1.0
FIRST_CHAT = 100_000
PROGRESS_EVERY = 30.0  # seconds
PENDING = Delivery.PENDING


def plan(messages: int, chats: int, seed: int) -> list[tuple[int, int]]:
    """(chat, k) for every message, in queue order: each chat's k = 0, 1, ... in order, chats interleaved
    at random."""
    per_chat, extra = divmod(messages, chats)
    slots = [FIRST_CHAT + c for c in range(chats) for _ in range(per_chat + (1 if c < extra else 0))]
    random.Random(seed).shuffle(slots)
    seen: dict[int, int] = defaultdict(int)
    order = []
    for chat in slots:
        order.append((chat, seen[chat]))
        seen[chat] += 1
    return order


def body(chat: int, k: int) -> str:
    return f"Pemberitahuan {k + 1} untuk chat {chat}: usulan U-{chat % 100_000:05d} menunggu keputusan."


async def queue_all(services: Services, order: list[tuple[int, int]]) -> None:
    for start in range(0, len(order), 100):
        async with services.sessions() as session:
            for chat, k in order[start : start + 100]:
                account = ChatAccount(channel=CHANNEL, external_id=str(chat), chat_id=str(chat))
                await store.queue_message(session, account=account, text=body(chat, k), buttons=[])
            await session.commit()
    services.doorbell.ring()


# A busy loop that ends by itself after ``seconds``, so even a benchmark killed hard leaves none behind.
BUSY_LOOP = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
)


@contextlib.contextmanager
def cpu_load(processes: int, seconds: float) -> Iterator[None]:
    """``processes`` CPU-bound processes beside the block while it runs (``seconds`` at most)."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(seconds)], stdin=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait(timeout=10)


def start_to_arrival(starts: list[tuple[float, tuple[str, str]]], api: FakeBotApi) -> list[float]:
    """Seconds from each start the pacer counted to its call's arrival at the fake, matched per chat in
    order (each chat has one message in flight at a time, so its k-th start is its k-th arrival)."""
    arrivals: dict[int, list[float]] = defaultdict(list)
    for a in api.arrivals:
        if a.chat_id is not None:
            arrivals[a.chat_id].append(a.at)
    seen: dict[int, int] = defaultdict(int)
    delays = []
    for at, (_, chat_id) in starts:
        chat = int(chat_id)
        k = seen[chat]
        seen[chat] += 1
        if k < len(arrivals[chat]):
            delays.append(arrivals[chat][k] - at)
    return delays


def busiest_second(times: list[float]) -> int:
    """The most accepted messages in any window of one second."""
    best = 0
    for i, t in enumerate(times):
        best = max(best, bisect.bisect_left(times, t + 1.0) - i)
    return best


async def progress(api: FakeBotApi, total: int, started: float) -> None:
    last_count, last_at = 0, started
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        now = time.monotonic()
        count = len(api.sent)
        recent = (count - last_count) / (now - last_at)
        print(
            f"  {now - started:5.0f} s: {count:6d} of {total} delivered, {recent:5.1f} msg/s over the last "
            f"{now - last_at:.0f} s, {api.too_many} 429s so far",
            flush=True,
        )
        last_count, last_at = count, now


async def pending_count(services: Services) -> int:
    async with services.sessions() as session:
        statement = select(func.count()).select_from(OutboundMessage).where(OutboundMessage.status == PENDING)
        return (await session.exec(statement)).one()


async def until_settled(
    services: Services, api: FakeBotApi, total: int, worker: asyncio.Task[None], deadline: float
) -> None:
    """Until nothing is pending in the outbox (or the deadline: the run is broken). Watches the fake
    Telegram, and reads the database only now and then, to disturb the worker's timing as little as
    possible."""
    checked = time.monotonic()
    while time.monotonic() < deadline and not worker.done():
        if len(api.sent) >= total or time.monotonic() - checked > 15.0:
            checked = time.monotonic()
            if not await pending_count(services):
                return
        await asyncio.sleep(0.5)


async def main(args: argparse.Namespace) -> str:
    logging.basicConfig(level=logging.WARNING)
    limits = Limits()
    print(
        f"outbox benchmark: {args.messages} messages to {args.chats} chats; worker {limits.per_second:g} "
        f"in a second plus the round trip ({limits.rate:.2f}/s at most), {limits.chat_interval:g} s a chat; "
        f"fake Telegram {TELEGRAM_PER_SECOND}/s, "
        f"{TELEGRAM_CHAT_INTERVAL:g} s per chat, round trip {args.latency * 1000:.0f} ms; "
        f"{args.load} CPU-bound processes beside it",
        flush=True,
    )
    with cpu_load(args.load, seconds=args.messages / 20 + 600):
        return await measure(args, limits)


async def measure(args: argparse.Namespace, limits: Limits) -> str:
    """Queue, deliver, and check what the fake Telegram received."""
    order = plan(args.messages, args.chats, args.seed)
    starts: list[tuple[float, tuple[str, str]]] = []
    with tempfile.TemporaryDirectory(prefix="lanjutkan-bench-") as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        await create_schema(url)
        services = make_services(url)
        api = FakeBotApi(
            latency=args.latency,
            enforce_limits=True,
            per_second=TELEGRAM_PER_SECOND,
            chat_interval=TELEGRAM_CHAT_INTERVAL,
        )
        api.record_calls = False
        await api.start()
        bot = Bot(
            TOKEN, base_url=api.base_url, request=AiohttpRequest(connection_pool_size=limits.max_in_flight)
        )
        try:
            await bot.initialize()
            began = time.perf_counter()
            await queue_all(services, order)
            print(f"  queued {len(order)} messages in {time.perf_counter() - began:.1f} s", flush=True)
            outbox = Outbox(services, CHANNEL, TelegramCourier(bot), limits=limits)
            take = outbox.pacer.take

            def counted(chat: tuple[str, str]) -> Start:
                starts.append((time.monotonic(), chat))
                return take(chat)

            outbox.pacer.take = counted  # type: ignore[method-assign]
            gc.collect()
            gc.freeze()  # as the bot's start-up does (bot.runtime.tune_memory)
            gc.set_threshold(*GC_THRESHOLDS)
            cpu, started = time.process_time(), time.monotonic()
            worker = asyncio.create_task(outbox.run())
            reporter = asyncio.create_task(progress(api, len(order), started))
            await until_settled(services, api, len(order), worker, deadline=started + len(order) / 20 + 120)
            wall, cpu = time.monotonic() - started, time.process_time() - cpu
            reporter.cancel()
            worker.cancel()
            for task in (reporter, worker):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            async with services.sessions() as session:
                statement = select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
                rows = {str(status): n for status, n in (await session.exec(statement)).all()}
        finally:
            await bot.shutdown()
            await api.stop()
            await services.close()

    accepted = [a for a in api.arrivals if a.status == 200]
    times = [a.at for a in accepted]
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    texts = [m.text for m in api.sent]
    distinct = set(texts)
    lost = len(order) - len(distinct & {body(chat, k) for chat, k in order})
    duplicates = len(texts) - len(distinct)
    by_chat: dict[int, list[str]] = defaultdict(list)
    for message in api.sent:
        by_chat[message.chat_id].append(message.text)
    expected: dict[int, list[str]] = defaultdict(list)
    for chat, k in sorted(order):
        expected[chat].append(body(chat, k))
    # A chat is out of order when what it received (first copies) is not the start of what was queued for it.
    out_of_order = sum(
        1 for chat, got in by_chat.items() if list(dict.fromkeys(got)) != expected[chat][: len(set(got))]
    )
    gaps: dict[int, float] = {}
    last: dict[int, float] = {}
    for a in accepted:
        if a.chat_id is not None:
            if a.chat_id in last:
                gaps[a.chat_id] = min(gaps.get(a.chat_id, 1e9), a.at - last[a.chat_id])
            last[a.chat_id] = a.at
    print(
        f"  delivered {len(distinct)} of {len(order)} in {wall:.1f} s (first to last accepted: "
        f"{times[-1] - times[0] if times else 0:.1f} s); worker CPU {cpu:.1f} s "
        f"({cpu / max(len(texts), 1) * 1000:.2f} ms per message, fake Telegram included)",
        flush=True,
    )
    print(
        f"  {duplicates} duplicates, {out_of_order} chats out of order; database: {rows}; "
        f"worker counted {outbox.sent} sent, {outbox.retried} retried, {outbox.failed} failed",
        flush=True,
    )
    print(
        f"  check of the limits at the fake: busiest second {busiest_second(times)} messages "
        f"(limit {TELEGRAM_PER_SECOND}), shortest gap in one chat {min(gaps.values(), default=0):.3f} s "
        f"(limit {TELEGRAM_CHAT_INTERVAL:g})",
        flush=True,
    )
    delays = sorted(start_to_arrival(starts, api))
    if delays:
        cuts = statistics.quantiles(delays, n=100) if len(delays) > 1 else delays * 99
        print(
            f"  start to arrival at the fake: p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms, "
            f"max {delays[-1] * 1000:.1f} ms, spread {(delays[-1] - delays[0]) * 1000:.1f} ms "
            f"({len(delays)} matched)",
            flush=True,
        )
    print(
        f"  targets: rate {rate:.1f} >= {TARGET_RATE} {'ok' if rate >= TARGET_RATE else 'MISSED'}; "
        f"429s {api.too_many} == 0 {'ok' if api.too_many == 0 else 'MISSED'}; "
        f"lost {lost} == 0 {'ok' if lost == 0 else 'MISSED'}",
        flush=True,
    )
    return f"outbox: {rate:.1f} msg/s, {api.too_many} 429s, {lost} lost"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=10_000, help="messages to queue")
    parser.add_argument("--chats", type=int, default=2_000, help="chats they go to, the same number each")
    parser.add_argument("--latency", type=float, default=0.02, help="Bot API round trip, seconds")
    parser.add_argument("--seed", type=int, default=1, help="of the random interleaving")
    parser.add_argument("--load", type=int, default=0, help="CPU-bound processes to run beside it")
    args = parser.parse_args(argv)
    if not 0 < args.chats <= args.messages:
        parser.error("--chats must be between 1 and --messages")
    return args


if __name__ == "__main__":
    print(asyncio.run(main(parse())))
