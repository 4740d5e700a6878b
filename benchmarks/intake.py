"""Intake benchmark: 1.000 simulated officers each complete a proposal through the real Telegram application.

What runs (all in this one process, one event loop):

* **Our bot**: the production application from :func:`bot.channels.telegram.build_application` (the
  ``PerUserUpdateProcessor``, the production Bot API client (aiohttp): 256 connections for Bot API calls,
  one for getUpdates), the real :class:`handlers.engine.Engine` on a SQLite file in a temp dir (WAL, the
  production ``models.db.create_engine``), services from ``tests.conftest.make_services``.
* **Echo bot** (the framework's ceiling): a bare PTB ``Application`` with PTB's default concurrent processor
  (``concurrent_updates(True)``, 256 at once), one ``MessageHandler`` that answers every message with one
  ``send_message``, and one ``CallbackQueryHandler`` that answers the query and sends one message (both
  at once, like ours). It receives the same update mix from the same simulated officers.
* **Telegram**: :class:`tests.fakebotapi.FakeBotApi` (aiohttp on loopback) with ``latency=0.02``: every Bot
  API call except getUpdates is answered after a simulated 20 ms round trip.

Update path (the same for both bots): **real long polling**. Each simulated officer's update is pushed into
the fake Bot API; the bot's ``Updater.start_polling`` fetches it with getUpdates over loopback HTTP (up to
100 updates per call, not delayed) exactly as ``lanjutkan run`` does (``allowed_updates=message,
callback_query``), and the bot's replies (sendMessage; for a button press also answerCallbackQuery and, for
our bot, editMessageReplyMarkup to retire the old keyboard) go over loopback HTTP to the fake Bot API.

One officer's proposal is 10 updates: /start, own contact, /daftar, NIK, name, press "Benar", press a
category, address, press "Lewati", press "Kirim". Buttons are pressed with the callback_data of the last
message with buttons the bot sent to that chat. An officer sends its next update only when the bot has
answered the previous one (closed loop).

Measurements:

* **Handled** (one update's latency) = from the moment the update is pushed into the fake Bot API (a
  person's message reaching Telegram) until the fake Bot API has *answered* every Bot API call the update
  causes (1 for a message; 3 for a press in our bot, 2 in the echo bot; our Kirim 6, as it also deletes
  the typed NIK and masks the read-back and the summary, all at once) -- i.e. the simulated 20 ms
  round trip of the last call is included, the HTTP response bytes travelling back to the bot are not.
  This includes the getUpdates fetch, PTB's dispatch, our engine and the database.
* **Throughput**: all officers at once, each closed-loop; updates handled / wall time from the first push
  to the last answer.
* **Latency**: an open-loop generator offers 100 updates/s on a fixed schedule (update k at t0 + k/100 s),
  spread over a pool of officers taken round-robin from a ready queue, so each officer still waits for
  its previous answer; p50/p99 of "handled" over all updates of the phase. In our bot these officers
  are already bound (from the throughput phase) and make a second proposal with new NIKs.

The last line printed is exactly ``intake: <updates/s> updates/s, p99 <ms> ms, ratio <ratio>`` (ratio =
our throughput / the echo bot's throughput).

The latency phase of a bot that cannot keep up with 100 updates/s falls behind its schedule: the line says
how many updates went out late (no officer free, or the event loop busy) and the offered rate achieved.

Run: ``.venv/bin/python benchmarks/intake.py`` (``--help`` for sizes; ``--profile FILE`` writes a cProfile
of our bot's throughput phase). Both bots use the production Bot API client
(:class:`bot.channels.telegram.http.AiohttpRequest`, as `lanjutkan run`); ``--http httpx`` gives both PTB's
default HTTPXRequest instead, to see what the HTTP client costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import math
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

import models.tables  # noqa: E402,F401  (tables on the metadata)
from bot.channels.telegram import Lifecycle, TelegramService, build_application  # noqa: E402
from bot.channels.telegram.http import AiohttpRequest  # noqa: E402
from bot.runtime import Workers, tune_memory  # noqa: E402
from handlers import texts  # noqa: E402
from handlers.engine import Engine  # noqa: E402
from models.regions import Desa, load_kabupaten  # noqa: E402
from models.rules.categories import CATEGORIES  # noqa: E402
from models.rules.status import Role, Status  # noqa: E402
from models.tables import OfficerCreate, Proposal  # noqa: E402
from tests.conftest import create_schema, make_services, seed_roster, synthetic_nik  # noqa: E402
from tests.fakebotapi import TOKEN, FakeBotApi, SentMessage  # noqa: E402

ALLOWED_UPDATES = ["message", "callback_query"]  # as `lanjutkan run`
STEP_TIMEOUT = 60.0  # one update not answered within this: the run is broken, not slow

TARGET_RATE = 200.0
TARGET_RATIO = 0.15
TARGET_P99_MS = 40.0


# ----------------------------------------------------------------------------------------- the fake API


@dataclass
class Waiter:
    """One update in flight for one chat: how many Bot API answers are still due, and who waits."""

    pending: int
    pushed: float
    done: asyncio.Future[float]


class BenchApi(FakeBotApi):
    """The fake Bot API, plus: per chat, the last message (with buttons) and a signal when an update's
    last Bot API call has been answered. One chat has at most one update in flight (closed loop)."""

    def __init__(self, *, latency: float) -> None:
        super().__init__(latency=latency)
        self.record_calls = False
        self.last_message: dict[int, SentMessage] = {}
        self.last_with_buttons: dict[int, SentMessage] = {}
        self.waiting: dict[int, Waiter] = {}
        self.query_chat: dict[str, int] = {}
        self.unexpected = 0  # Bot API calls for a chat that had nothing in flight (a wrong reply count)
        self.calls_by_method: dict[str, int] = {}

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        try:
            return await super().call(method, params)
        finally:  # an error is an answer too (Kirim's edits of messages this fake no longer keeps)
            self._answered(method, params)

    def _answered(self, method: str, params: dict[str, Any]) -> None:
        if method in {"getUpdates", "getMe", "deleteWebhook", "setMyCommands"}:
            return
        self.calls_by_method[method] = self.calls_by_method.get(method, 0) + 1
        chat: int | None
        if method == "answerCallbackQuery":
            chat = self.query_chat.pop(str(params.get("callback_query_id")), None)
        else:
            chat = int(params["chat_id"]) if "chat_id" in params else None
        waiter = self.waiting.get(chat) if chat is not None else None
        if waiter is None:
            self.unexpected += 1
            return
        waiter.pending -= 1
        if waiter.pending == 0:
            del self.waiting[chat]  # type: ignore[arg-type]
            if not waiter.done.done():
                waiter.done.set_result(time.perf_counter() - waiter.pushed)

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        result = await super()._api_sendMessage(params)
        message = self.sent.pop()  # appended just now (no await in between); keep memory flat
        self.last_message[message.chat_id] = message
        if message.buttons:
            self.last_with_buttons[message.chat_id] = message
        return result

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        # Same semantics as the parent, without rebuilding the whole pending list on every poll.
        offset = int(params.get("offset") or 0)
        pending = self._updates
        drop = 0
        while drop < len(pending) and pending[drop]["update_id"] < offset:
            drop += 1
        if drop:
            del pending[:drop]
        if not pending and float(params.get("timeout") or 0):
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), min(float(params["timeout"]), 1.0))
        return self._updates[: int(params.get("limit") or 100)]

    async def deliver(self, chat: int, update: dict[str, Any], expected_calls: int) -> float:
        """Push one update and wait until every Bot API call it causes has been answered; seconds."""
        if chat in self.waiting:
            raise RuntimeError(f"chat {chat} already has an update in flight")
        waiter = Waiter(expected_calls, time.perf_counter(), asyncio.get_running_loop().create_future())
        self.waiting[chat] = waiter
        if "callback_query" in update:
            self.query_chat[update["callback_query"]["id"]] = chat
        self.push(update)
        try:
            return await asyncio.wait_for(waiter.done, STEP_TIMEOUT)
        except TimeoutError:
            raise RuntimeError(
                f"chat {chat}: {waiter.pending} of {expected_calls} Bot API calls still missing after "
                f"{STEP_TIMEOUT:.0f} s (did the bot's number of replies per update change?)"
            ) from None


# --------------------------------------------------------------------------------------------- officers


@dataclass
class Officer:
    index: int
    user_id: int
    phone: str
    desa: Desa
    proposals: int = 0  # how many proposals this officer has started (for fresh NIKs)
    steps: deque[Callable[[BenchApi], tuple[dict[str, Any], int]]] = field(default_factory=deque)


def roster(count: int) -> tuple[list[Officer], list[OfficerCreate]]:
    """``count`` operators spread over all desa of kabupaten 12.17, with synthetic +62812 numbers."""
    desa = load_kabupaten("12.17").all_desa()
    officers, rows = [], []
    for i in range(count):
        phone = f"+62812{10_000_000 + i:08d}"
        d = desa[i % len(desa)]
        officers.append(Officer(i, 500_000_000 + i, phone, d))
        rows.append(OfficerCreate(name=f"Operator {_letters(i)}", role=Role.OPERATOR, region_code=d.code,
                                  phone=phone))  # fmt: skip
    return officers, rows


def _letters(n: int) -> str:
    """A name-like word from a number (names must be letters): 0 -> "Aa", 27 -> "Bb"..."""
    word = ""
    for _ in range(3):
        n, r = divmod(n, 26)
        word += chr(ord("a") + r)
    return word.capitalize()


def nik_for(officer: Officer, serial: int) -> str:
    """A unique, valid NIK from the officer's own kecamatan (no warnings), aged 27-56 on coverage start."""
    district = officer.desa.kecamatan_code.replace(".", "")
    return synthetic_nik(
        district=district,
        day=1 + serial % 28,
        month=1 + (serial // 28) % 12,
        year=1970 + serial % 30,
        female=serial % 2 == 1,
        serial=serial % 9999 + 1,
    )


@dataclass(frozen=True)
class BotKind:
    name: str
    press_calls: int  # Bot API calls a button press causes: answer + (retire keyboard) + reply
    real_buttons: bool  # press the bot's own buttons (ours) or forge a press on its last message (echo)
    # Kirim's more: the typed NIK deleted, the read-back and the summary masked (ours, at once)
    send_calls: int = 0


OURS = BotKind("ours", press_calls=3, real_buttons=True, send_calls=3)
ECHO = BotKind("echo", press_calls=2, real_buttons=False)


def plan_proposal(officer: Officer, kind: BotKind, serial: int) -> None:
    """Queue the 10 updates of one complete proposal for ``officer``."""
    uid = officer.user_id
    category = CATEGORIES[officer.index % len(CATEGORIES)]
    if category.needs_description:  # "lainnya" needs one more answer; keep every proposal 10 updates
        category = CATEGORIES[0]

    def text(value: str) -> Callable[[BenchApi], tuple[dict[str, Any], int]]:
        return lambda api: (api.text_update(uid, value), 1)

    def contact() -> Callable[[BenchApi], tuple[dict[str, Any], int]]:
        return lambda api: (api.contact_update(uid, officer.phone, uid), 1)

    def press(label: str, more: int = 0) -> Callable[[BenchApi], tuple[dict[str, Any], int]]:
        def build(api: BenchApi) -> tuple[dict[str, Any], int]:
            if kind.real_buttons:
                message = api.last_with_buttons.get(uid)
                if message is None:
                    raise RuntimeError(f"officer {officer.index}: no buttons to press {label!r}")
                data = message.button(label)["callback_data"]
            else:
                message = api.last_message[uid]
                data = "echo"
            return api.press_update(uid, message, data), kind.press_calls + more

        return build

    officer.steps.extend(
        [
            text("/start"),
            contact(),
            text("/daftar"),
            text(nik_for(officer, serial)),
            text(f"Pekerja {_letters(serial)} Sitorus"),
            press(texts.BIRTH_OK),
            press(category.label.capitalize()),
            text(f"Dusun {1 + serial % 7} RT 00{1 + serial % 5} RW 00{1 + serial % 3}"),
            press(texts.SKIP),
            press(texts.SEND, kind.send_calls),
        ]
    )
    officer.proposals += 1


async def step(api: BenchApi, officer: Officer) -> float:
    update, calls = officer.steps.popleft()(api)
    return await api.deliver(officer.user_id, update, calls)


# ------------------------------------------------------------------------------------------------ phases


@dataclass
class Result:
    updates: int
    seconds: float
    latencies: list[float]
    cpu: float = 0.0  # process CPU seconds (all threads) during the phase

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    def pct(self, p: float) -> float:
        """Nearest-rank percentile of the handling latencies, in ms."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


def minus(after: float | None, before: float | None) -> float | None:
    """A counter's growth over a phase, when both readings exist (/proc may not tell)."""
    return after - before if after is not None and before is not None else None


async def throughput(api: BenchApi, officers: list[Officer]) -> Result:
    """Every officer at once, each sending its next update as soon as the previous one was answered."""
    latencies: list[float] = []

    async def run(officer: Officer) -> None:
        while officer.steps:
            latencies.append(await step(api, officer))

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(run(o) for o in officers))
    return Result(len(latencies), time.perf_counter() - start, latencies, time.process_time() - cpu)


async def steady(api: BenchApi, officers: list[Officer], rate: float, total: int) -> tuple[Result, int]:
    """Open loop: offer ``rate`` updates/s on a fixed schedule, round-robin over officers that are free."""
    ready: deque[Officer] = deque(o for o in officers if o.steps)
    freed = asyncio.Event()
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    late = 0  # updates that could not go out on schedule (no free officer, or the loop was busy)

    async def one(officer: Officer) -> None:
        latencies.append(await step(api, officer))
        if officer.steps:
            ready.append(officer)
            freed.set()

    cpu, start = time.process_time(), time.perf_counter()
    for k in range(total):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            late += 1
        while not ready:
            freed.clear()
            await freed.wait()
        task = asyncio.create_task(one(ready.popleft()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    offered_for = time.perf_counter() - start
    await asyncio.gather(*tasks)
    return Result(len(latencies), offered_for, latencies, time.process_time() - cpu), late


# -------------------------------------------------------------------------------------------------- bots


def requests(http: str) -> dict[str, Any]:
    """The Bot API request objects for ``--http``: the production client, or PTB's httpx for comparison."""
    if http.startswith("httpx"):
        from telegram.request import HTTPXRequest

        size = int(http[5:] or 256)
        return {
            "request": HTTPXRequest(connection_pool_size=size, pool_timeout=30.0),
            "get_updates_request": HTTPXRequest(),
        }
    # what `lanjutkan run` uses
    return {
        "request": AiohttpRequest(connection_pool_size=256),
        "get_updates_request": AiohttpRequest(connection_pool_size=1, read_timeout=30.0),
    }


def echo_application(base_url: str, http: str) -> Application:  # type: ignore[type-arg]
    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        await context.bot.send_message(update.effective_chat.id, update.effective_message.text or "ok")

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and update.effective_chat is not None
        await asyncio.gather(query.answer(), context.bot.send_message(update.effective_chat.id, "ok"))

    builder = ApplicationBuilder().token(TOKEN).base_url(base_url).concurrent_updates(True)
    stack = requests(http)
    if "request" in stack:
        builder = builder.request(stack["request"])
    if "get_updates_request" in stack:
        builder = builder.get_updates_request(stack["get_updates_request"])
    app = builder.build()
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & ~filters.UpdateType.EDITED, on_message))
    return app


_RUNNING: dict[int, Workers] = {}  # ours: the runtime's workers beside the application


async def start(app: Application) -> None:  # type: ignore[type-arg]
    """Ours as `lanjutkan run` starts it (bot.runtime: the outbox prepared, the channel started, the
    workers and the garbage collector's tuning); the echo bot as ``run_polling`` does."""
    if isinstance(getattr(app.post_init, "__self__", None), Lifecycle):
        service = TelegramService(app)
        workers = Workers(
            service.lifecycle.inbox.services, [service], holder=service.lifecycle.holder, timetable=None
        )
        await workers.prepare()
        await service.start()
        workers.start()
        tune_memory()
        _RUNNING[id(app)] = workers
        return
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(allowed_updates=ALLOWED_UPDATES)


async def stop(app: Application) -> None:  # type: ignore[type-arg]
    workers = _RUNNING.pop(id(app), None)
    if workers is not None:
        await TelegramService(app).stop()
        await workers.stop()
        return
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


@dataclass
class BotFigures:
    throughput: Result
    latency: Result
    late: int


def show(name: str, phase: str, result: Result, extra: str = "") -> None:
    print(
        f"  {name:4} {phase:10} {result.updates:6d} updates in {result.seconds:6.2f} s = "
        f"{result.rate:7.1f}/s   handled p50 {result.pct(50):7.1f} ms  p90 {result.pct(90):7.1f} ms  "
        f"p99 {result.pct(99):7.1f} ms  max {max(result.latencies) * 1000:7.1f} ms  "
        f"cpu {result.cpu / result.updates * 1000:.2f} ms/update{extra}",
        flush=True,
    )


async def run_bot(
    kind: BotKind,
    app_factory: Callable[[str], Awaitable[tuple[Application, Callable[[], Awaitable[None]]]]],  # type: ignore[type-arg]
    args: argparse.Namespace,
    profile: Any = None,
) -> BotFigures:
    officers, _ = roster(args.officers)
    api = BenchApi(latency=args.latency)
    await api.start()
    try:
        app, verify = await app_factory(api.base_url)
        await start(app)
        try:
            for o in officers:
                plan_proposal(o, kind, serial=o.index)
            gc.collect()
            if profile is not None:
                profile.enable()
            tp = await throughput(api, officers)
            if profile is not None:
                profile.disable()
            show(kind.name, "throughput", tp, f"   ({len(officers)} officers at once)")
            pool = officers[: args.latency_updates // 10]
            for o in pool:
                plan_proposal(o, kind, serial=len(officers) + o.index)
            gc.collect()
            lat, late = await steady(api, pool, args.rate, args.latency_updates)
            show(kind.name, "latency", lat,
                 f"   (offered {args.latency_updates / lat.seconds:.1f}/s over {len(pool)} officers, "
                 f"{late} late)")  # fmt: skip
        finally:
            await stop(app)
        await verify()
        if api.unexpected:
            raise RuntimeError(f"{kind.name}: {api.unexpected} Bot API calls nobody waited for")
        print(f"  {kind.name:4} Bot API calls: {dict(sorted(api.calls_by_method.items()))}", flush=True)
    finally:
        await api.stop()
    return BotFigures(tp, lat, late)


async def ours_factory(args: argparse.Namespace, workdir: Path) -> Callable[[str], Awaitable[Any]]:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await create_schema(url)
    services = make_services(url)
    started = time.perf_counter()
    await seed_roster(services, roster(args.officers)[1])
    print(f"  roster: {args.officers} operators seeded in {time.perf_counter() - started:.1f} s", flush=True)

    async def factory(base_url: str) -> tuple[Application, Callable[[], Awaitable[None]]]:  # type: ignore[type-arg]
        app = build_application(Engine(services), token=TOKEN, base_url=base_url, **requests(args.http))

        async def verify() -> None:
            async with services.sessions() as session:
                statement = select(Proposal.status, func.count()).group_by(Proposal.status)
                counts = {status: n for status, n in (await session.exec(statement)).all()}
            await services.close()
            sent = counts.get(Status.MENUNGGU_CAMAT, 0)
            expected = args.officers + args.latency_updates // 10
            print(f"  ours proposals in the database: { {str(k): v for k, v in counts.items()} }", flush=True)
            if sent != expected:
                raise RuntimeError(f"ours: {sent} proposals sent to the camat, expected {expected}")

        return app, verify

    return factory


def echo_factory(args: argparse.Namespace) -> Callable[[str], Awaitable[Any]]:
    async def factory(base_url: str) -> tuple[Application, Callable[[], Awaitable[None]]]:  # type: ignore[type-arg]
        async def verify() -> None:
            return None

        return echo_application(base_url, args.http), verify

    return factory


async def main(args: argparse.Namespace) -> str:
    logging.basicConfig(level=logging.WARNING)
    print(
        f"intake benchmark: {args.officers} officers x 10 updates, Bot API round trip "
        f"{args.latency * 1000:.0f} ms, steady load {args.rate:.0f} updates/s x {args.latency_updates}, "
        f"HTTP client {args.http}",
        flush=True,
    )
    profile = None
    if args.profile:
        import cProfile

        profile = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="lanjutkan-bench-") as workdir:
        echo = await run_bot(ECHO, echo_factory(args), args)
        ours = await run_bot(OURS, await ours_factory(args, Path(workdir)), args, profile)
    if profile is not None:
        profile.dump_stats(args.profile)
        print(f"  profile of our throughput phase written to {args.profile}")
    ratio = ours.throughput.rate / echo.throughput.rate
    p99 = ours.latency.pct(99)
    print(
        f"  targets: rate {ours.throughput.rate:.0f} >= {TARGET_RATE:.0f} "
        f"{'ok' if ours.throughput.rate >= TARGET_RATE else 'MISSED'}; ratio {ratio:.2f} >= {TARGET_RATIO} "
        f"{'ok' if ratio >= TARGET_RATIO else 'MISSED'}; p99 {p99:.1f} <= {TARGET_P99_MS:.0f} ms "
        f"{'ok' if p99 <= TARGET_P99_MS else 'MISSED'}",
        flush=True,
    )
    return f"intake: {ours.throughput.rate:.0f} updates/s, p99 {p99:.1f} ms, ratio {ratio:.2f}"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--officers", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02, help="Bot API round trip, seconds")
    parser.add_argument("--rate", type=float, default=100.0, help="steady offered load, updates/s")
    parser.add_argument("--latency-updates", type=int, default=2000, help="updates in the latency phase")
    parser.add_argument(
        "--http", default="aiohttp", metavar="STACK",
        help="Bot API client of both bots: aiohttp (default: bot.channels.telegram.http, as in production), "
        "httpx or httpxN (PTB's HTTPXRequest with 256 or N connections)",
    )  # fmt: skip
    parser.add_argument("--profile", help="write a cProfile of our throughput phase to this file")
    args = parser.parse_args(argv)
    # Whole proposals only, by officers of the roster: each officer of the latency pool sends 10 updates.
    args.latency_updates = max(10, min(10 * args.officers, math.ceil(args.latency_updates / 10) * 10))
    return args


if __name__ == "__main__":
    print(asyncio.run(main(parse())))
