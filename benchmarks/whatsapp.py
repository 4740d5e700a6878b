"""WhatsApp benchmark: 1.000 simulated officers each complete a proposal through `lanjutkan run` on WhatsApp.

What runs:

* **Our bot**: the real ``lanjutkan run`` as a subprocess (``python -m bot run``) with WhatsApp only, on a
  SQLite file in a temp dir, with the environment the end-to-end tests give it
  (``tests/e2e/test_whatsapp.py``: ``WHATSAPP_PHONE_ID``, ``WHATSAPP_TOKEN``, ``WHATSAPP_APP_SECRET``,
  ``WHATSAPP_VERIFY_TOKEN``, ``WHATSAPP_API_URL`` pointing at the fake, ``LANJUTKAN_PORT`` a free port,
  ``LANJUTKAN_SCHEDULED_MESSAGES=false``, ``LANJUTKAN_LOG_LEVEL=WARNING``; every other setting its
  default), and a synthetic roster imported
  with ``lanjutkan officers import``: ``--officers`` operators (0812-1xxx-xxxx numbers) spread over all
  desa of Kabupaten Samosir (12.17), and a camat (0812-9xxx-xxxx) for each of its kecamatan, so every
  Kirim also queues a card for the camat. The camats never wrote, so their cards wait behind one template
  each, sent by the outbox: that load is on the machine, it is not measured.
* **Echo bot** (the stack's ceiling): :mod:`benchmarks.echo_whatsapp` as a subprocess the same way, with the
  same environment: FastAPI + uvicorn, the signature checked with pywa's utils, 200 at once, and one
  handler reading the message with pywa's types and sending one text through pywa_async (the bot's own
  ``build_client``). It receives the same updates from the same simulated officers; a press carries a
  button id of our own (``echo``) and the context of the last message it sent.
* **Meta**: :class:`tests.fakewhatsapp.FakeWhatsApp` in this process with ``latency=0.02``: every Graph API
  call is answered after a simulated 20 ms round trip. Its limits are kept (the pair rate, 45 at once then
  one per 6 s to one person; the 24-hour window) except the business number's throughput, raised from
  Meta's 80 to ``--fake-per-second`` (100.000) messages per second: at 80 the benchmark would measure
  Meta's limit, not the bot (each update is answered with one or more messages; see below).
* **The officers** (the load generator, in this process): signed webhooks built by the fake
  (``text_update``, ``button_reply``, ``list_reply``) POSTed to the bot's ``/whatsapp`` over loopback HTTP
  (aiohttp, up to ``--connections`` connections). Each officer's first message ("Halo") is recognised by
  their number; then a proposal: "daftar", a synthetic unique NIK of their own kecamatan, a name, press
  "Benar", pick "Petani" from the category lists, an address, press "Lewati", press "Kirim". Buttons and
  rows are the ones the bot sent to that number. An officer sends the next step only when every message
  the previous one causes has arrived (a person waits for the answer): the closed loop.

Measured:

* **Handled** (one update's latency) = from just before its webhook is POSTed until the fake has accepted
  the *last* message it causes to that officer's number (matched by recipient and order: the k-th message
  to a number after the post), the simulated 20 ms of that call included; the webhook's 200 must have come
  back too. Our bot answers each step with a known number of messages (1 for the first message: the
  welcome; 2 for "Benar": the eleven categories are two lists; 1 otherwise); the echo bot with 1.
  At the end, every officer's count must be exactly what was expected: a missing or extra message fails
  the run.
* **Throughput** (the saturating phase): ``--concurrency`` (16) officers at work at any time, each
  closed-loop, the next officer starting when one has finished, until all of them have sent their 9
  updates (the first message and a proposal); updates handled / wall time from the first post to the last
  message. More at once is slower, not faster, for both bots (measured with 200 officers on the 2-core
  machine while another job used it: the echo bot 393/s at 16, 247/s at 32, 135/s at 64, its CPU per
  update 1.8, 3.7, 6.0 ms; ours 105/s at 16 and at 32, 84/s at 64, both then on httpx's own pool): the
  sends a bot cannot start at once queue in the client's pool. With all 1.000 officers at once, replies
  waited more than a minute in both bots.
* **Latency** (the paced phase): an open-loop generator offers ``--rate`` (100) updates/s on a fixed
  schedule (update k at t0 + k/rate), round-robin over the officers that are free, each making a second
  proposal (8 updates: "daftar" to "Kirim") with new NIKs; p50/p99 of "handled" over the phase.
  Updates that went out more than 5 ms late (no officer free, or this process busy) are counted.

Targets (SQLite): throughput >= 200 updates/s, ratio (our throughput / the echo bot's) >= 0.25, and p99 at
100 updates/s <= 3x the echo bot's p99 in the same run. Each is printed with ok or MISSED; as
``benchmarks/intake.py``, a missed target is reported, not an exit status (``make bench`` goes on to the
next benchmark); a broken run (a message missing, a proposal not in the database) raises.

What bounds it on a 2-core machine: the load generator (webhooks built, signed and POSTed, with aiohttp),
the fake (aiohttp, 20 ms answered by a timer) and the bot share the cores, and each phase prints the CPU
per update of the bot's process (from /proc) and of this one. Our bot is one Python process, one event loop
(SQLite's calls on aiosqlite's thread), so at most about one core: measured, 5.3 ms of CPU per update
(parsing and checking the webhook, the inbox commit before the 200, the engine's turn, the reply's send and
its receipt: two write transactions per update), so about 200-230 updates/s at most, whatever the load
generator does. The echo bot needs 0.8-1.3 ms. The generator and the fake need about 0.5-1 ms per update,
on the other core. Three changes measured here brought ours from 143 to 224 updates/s (ratio 0.25 to
0.39) in one run each: aiohttp's pool under pywa's httpx client (httpx-aiohttp: httpcore 1.0.9 walked
every connection for every queued request, a fifth of the bot's time), the inbox insert as one statement
(ON CONFLICT DO NOTHING RETURNING), and a person's window not written again within 30 s. In a cProfile
of ours (``--profile``; the event loop's thread only) SQLAlchemy's statement building and execution is
the largest part, then h11 and the ASGI stack; our own modules a few percent.

The last line printed is exactly ``whatsapp: <updates/s> updates/s, p99 <ms> ms (echo <ms> ms), ratio <r>``.

Run: ``.venv/bin/python benchmarks/whatsapp.py`` (``--help`` for sizes; ``--quick`` for 24 officers and
96 paced updates, as the smoke test runs it). ``--keep DIR`` keeps the database and the bots' logs;
``--profile DIR`` runs each bot under cProfile (``DIR/ours.prof``, ``DIR/echo.prof``, the whole run of
each: start-up, both phases, stop).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import intake  # noqa: E402
from intake import _letters, nik_for  # noqa: E402  (the same names and NIKs as the Telegram benchmarks)

from models.regions import Desa, load_kabupaten  # noqa: E402
from tests.e2e.test_run import base_env, cli  # noqa: E402
from tests.fakewhatsapp import (  # noqa: E402
    APP_SECRET,
    PHONE_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeWhatsApp,
    SentMessage,
    Webhook,
)
from tests.pgcluster import free_port  # noqa: E402

SECRET = "wabench-secret-" + "w" * 17  # 32 characters, synthetic
KABUPATEN = "12.17"
START_TIMEOUT = 60.0  # the interpreter, the migrations, on a busy machine
STEP_TIMEOUT = 60.0  # one update not answered within this: the run is broken, not slow
CATEGORY = "Petani"
CONCURRENCY = 16  # officers at work at once in the saturating phase (see the module's docstring)
KEEPALIVE = 2.0  # seconds the officers' client keeps an idle connection (uvicorn's timeout_keep_alive: 5)
LATE = 0.005  # seconds behind schedule that count an update of the paced phase as late

TARGET_RATE = 200.0
TARGET_RATIO = 0.25
TARGET_P99_FACTOR = 3.0


# ----------------------------------------------------------------------------------------------- the fake


@dataclass
class Waiter:
    """One update in flight for one number: the message count that completes it, and who waits."""

    until: int
    posted: float
    done: asyncio.Future[float]


class BenchWhatsApp(FakeWhatsApp):
    """The fake Cloud API, plus per number: how many messages arrived, the last few, and a signal when an
    update's last message has been accepted. One number has at most one update in flight (closed loop)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.count: dict[str, int] = defaultdict(int)
        self.recent: dict[str, deque[SentMessage]] = defaultdict(lambda: deque(maxlen=4))
        self.waiting: dict[str, Waiter] = {}

    async def _send(self, node: str, payload: dict[str, Any], person: str | None) -> dict[str, Any]:
        result = await super()._send(node, payload, person)
        message = self.sent.pop()  # appended just now (no await in between); keep memory flat
        now = time.monotonic()
        self.count[message.to] += 1
        self.recent[message.to].append(message)
        waiter = self.waiting.get(message.to)
        if waiter is not None and self.count[message.to] >= waiter.until:
            del self.waiting[message.to]
            if not waiter.done.done():
                waiter.done.set_result(now)
        return result


# ---------------------------------------------------------------------------------------------- officers

Step = Callable[[BenchWhatsApp], tuple[Webhook, int]]  # the webhook, and how many messages answer it


@dataclass
class Officer:
    index: int
    wa_id: str  # 62812...
    desa: Desa
    proposals: int = 0
    steps: deque[Step] = field(default_factory=deque)


def roster(count: int) -> tuple[list[Officer], str]:
    """``count`` operators over every desa of Samosir and a camat per kecamatan: the officers and the CSV."""
    kabupaten = load_kabupaten(KABUPATEN)
    desa = kabupaten.all_desa()
    officers = []
    lines = ["nama,peran,kode_wilayah,no_hp"]
    for i in range(count):
        d = desa[i % len(desa)]
        phone = f"0812{10_000_000 + i:08d}"
        officers.append(Officer(i, "62" + phone[1:], d))
        lines.append(f"Operator {_letters(i)},operator,{d.code},{phone}")
    for k, code in enumerate(sorted({d.kecamatan_code for d in desa})):
        lines.append(f"Camat {_letters(k)},camat,{code},0812{90_000_000 + k:08d}")
    return officers, "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BotKind:
    name: str
    module: list[str]  # what to run after the interpreter
    real_buttons: bool  # press the bot's own buttons and rows (ours) or forge them (echo)
    welcome: int  # messages answering the first message
    categories: int  # messages answering "Benar" (the category lists)


OURS = BotKind("ours", ["-m", "bot", "run"], real_buttons=True, welcome=1, categories=2)
ECHO = BotKind("echo", [str(ROOT / "benchmarks" / "echo_whatsapp.py")], real_buttons=False, welcome=1,
               categories=1)  # fmt: skip


def plan(officer: Officer, kind: BotKind, serial: int, *, first: bool) -> None:
    """Queue one officer's updates: the first message (``first``), then one whole proposal."""
    wa = officer.wa_id

    def text(value: str, count: int = 1) -> Step:
        return lambda fake: (fake.text_update(wa, value, name=f"Operator {officer.index}"), count)

    def press(label: str, count: int = 1) -> Step:
        """Press the reply button, or pick the list row, whose title has ``label`` (as a person taps it)."""

        def build(fake: BenchWhatsApp) -> tuple[Webhook, int]:
            recent = fake.recent[wa]
            if not kind.real_buttons:
                return fake.button_reply(wa, "echo", label, recent[-1].wamid), count
            for message in reversed(recent):
                for button in message.buttons:
                    if label.lower() in button.title.lower():
                        return fake.button_reply(wa, button.id, button.title, message.wamid), count
                for row in message.rows:
                    if label.lower() in row.title.lower():
                        return fake.list_reply(wa, row.id, row.title, message.wamid), count
            raise RuntimeError(f"officer {officer.index}: nothing to tap {label!r} in "
                               f"{[m.text[:40] for m in recent]}")  # fmt: skip

        return build

    def pick(label: str, count: int = 1) -> Step:
        """Pick a row of a list (the echo bot: a forged row of its last message)."""
        if kind.real_buttons:
            return press(label, count)
        return lambda fake: (fake.list_reply(wa, "echo", label, fake.recent[wa][-1].wamid), count)

    if first:
        officer.steps.append(text("Halo", kind.welcome))
    officer.steps.extend(
        [
            text("daftar"),
            text(nik_for(officer, serial)),
            text(f"Pekerja {_letters(serial)} Sitorus"),
            press("Benar", kind.categories),
            pick(CATEGORY),
            text(f"Dusun {1 + serial % 7} RT 00{1 + serial % 5} RW 00{1 + serial % 3}"),
            press("Lewati"),
            press("Kirim"),
        ]
    )
    officer.proposals += 1


# --------------------------------------------------------------------------------------------- the bots


class Bot:
    """One bot subprocess on its port, and the officers' HTTP client to it."""

    def __init__(
        self, kind: BotKind, root: Path, fake: BenchWhatsApp, connections: int, profile: Path | None = None
    ) -> None:
        self.profile = profile  # run the bot under cProfile, its stats written here when it stops
        self.kind = kind
        self.root = root
        self.fake = fake
        self.db = root / "bot.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/whatsapp"
        self.env = base_env() | {
            "WHATSAPP_PHONE_ID": PHONE_ID,
            "WHATSAPP_TOKEN": TOKEN,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_API_URL": fake.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.db}",
            "LANJUTKAN_SECRET": SECRET,
            "LANJUTKAN_PORT": str(self.port),
            "LANJUTKAN_SCHEDULED_MESSAGES": "false",
            "LANJUTKAN_LOG_LEVEL": "WARNING",
        }
        self.log = root / f"{kind.name}.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.connections = connections
        self.http: aiohttp.ClientSession | None = None

    async def import_roster(self, csv_text: str) -> None:
        path = self.root / "roster.csv"
        path.write_text(csv_text, encoding="utf-8")
        result = await cli("officers", "import", str(path), env=self.env, cwd=self.root, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"roster import failed: {result.stdout}{result.stderr}")

    async def start(self) -> None:
        profile = ["-m", "cProfile", "-o", str(self.profile)] if self.profile else []
        with self.log.open("wb") as sink:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, *profile, *self.kind.module, cwd=self.root, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        self.http = aiohttp.ClientSession(
            # uvicorn closes a connection idle for 5 s; aiohttp would keep it 15 s and post on it as it closes
            connector=aiohttp.TCPConnector(limit=self.connections, keepalive_timeout=KEEPALIVE),
            timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT),
        )
        # Ready when a signed empty delivery is answered 200 (ours answers 503 until its inbox is replayed)
        empty = self.fake.webhook({"object": "whatsapp_business_account", "entry": []})
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.returncode is not None:
                raise RuntimeError(f"{self.kind.name} exited at start: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with self.http.post(self.url, data=empty.body, headers=empty.headers) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind.name} not ready after {START_TIMEOUT:.0f} s")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def cpu(self) -> float | None:
        """The bot process's CPU seconds so far (user and system), where /proc tells."""
        if self.proc is None:
            return None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def post(self, webhook: Webhook) -> None:
        assert self.http is not None
        async with self.http.post(self.url, data=webhook.body, headers=webhook.headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{self.kind.name}: webhook answered {response.status}")

    async def deliver(self, officer: Officer) -> float:
        """Post the officer's next update; seconds until its last message was accepted by the fake."""
        wa = officer.wa_id
        if wa in self.fake.waiting:
            raise RuntimeError(f"officer {officer.index} already has an update in flight")
        build = officer.steps.popleft()
        webhook, count = build(self.fake)
        loop = asyncio.get_running_loop()
        waiter = Waiter(self.fake.count[wa] + count, time.monotonic(), loop.create_future())
        self.fake.waiting[wa] = waiter
        await self.post(webhook)
        try:
            arrived = await asyncio.wait_for(waiter.done, STEP_TIMEOUT)
        except TimeoutError:
            self.fake.waiting.pop(wa, None)
            raise RuntimeError(
                f"{self.kind.name}: officer {officer.index}: {waiter.until - self.fake.count[wa]} of {count} "
                f"messages still missing after {STEP_TIMEOUT:.0f} s"
            ) from None
        return arrived - waiter.posted


# ------------------------------------------------------------------------------------------------ phases


@dataclass
class Result(intake.Result):
    """intake.py's figures of a phase, and the bot process's CPU seconds in it (Linux: /proc)."""

    bot_cpu: float | None = None


async def saturate(bot: Bot, officers: list[Officer], concurrency: int) -> Result:
    """``concurrency`` officers at work at any time (the next starts when one has finished), each sending its
    next update as soon as the previous one was answered."""
    latencies: list[float] = []
    at_work = asyncio.Semaphore(concurrency)

    async def run(officer: Officer) -> None:
        async with at_work:
            while officer.steps:
                latencies.append(await bot.deliver(officer))

    cpu, bot_cpu, start = time.process_time(), bot.cpu(), time.monotonic()
    await asyncio.gather(*(run(o) for o in officers))
    return Result(len(latencies), time.monotonic() - start, latencies, time.process_time() - cpu,
                  intake.minus(bot.cpu(), bot_cpu))  # fmt: skip


async def paced(bot: Bot, officers: list[Officer], rate: float, total: int) -> tuple[Result, int]:
    """Open loop: offer ``rate`` updates/s on a fixed schedule, round-robin over officers that are free."""
    ready: deque[Officer] = deque(o for o in officers if o.steps)
    freed = asyncio.Event()
    latencies: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    late = 0

    async def one(officer: Officer) -> None:
        latencies.append(await bot.deliver(officer))
        if officer.steps:
            ready.append(officer)
            freed.set()

    cpu, bot_cpu, start = time.process_time(), bot.cpu(), time.monotonic()
    for k in range(total):
        due = start + k / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -LATE:
            late += 1
        while not ready:
            freed.clear()
            await freed.wait()
        task = asyncio.create_task(one(ready.popleft()))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    offered_for = time.monotonic() - start
    await asyncio.gather(*tasks)
    result = Result(
        len(latencies), offered_for, latencies, time.process_time() - cpu, intake.minus(bot.cpu(), bot_cpu)
    )
    return result, late


@dataclass
class BotFigures:
    throughput: Result
    latency: Result
    late: int


def show(name: str, phase: str, result: Result, extra: str = "") -> None:
    bot_cpu = "?" if result.bot_cpu is None else f"{result.bot_cpu / result.updates * 1000:.2f}"
    print(
        f"  {name:4} {phase:10} {result.updates:6d} updates in {result.seconds:6.2f} s = "
        f"{result.rate:7.1f}/s   handled p50 {result.pct(50):7.1f} ms  p90 {result.pct(90):7.1f} ms  "
        f"p99 {result.pct(99):7.1f} ms  max {max(result.latencies) * 1000:7.1f} ms  "
        f"cpu: bot {bot_cpu} ms/update, load+fake {result.cpu / result.updates * 1000:.2f}{extra}",
        flush=True,
    )


async def run_bot(kind: BotKind, args: argparse.Namespace, workdir: Path) -> BotFigures:
    root = workdir / kind.name
    root.mkdir()
    officers, csv_text = roster(args.officers)
    fake = BenchWhatsApp(latency=args.latency, per_second=args.fake_per_second)
    await fake.start()
    try:
        profile = args.profile / f"{kind.name}.prof" if args.profile else None
        bot = Bot(kind, root, fake, args.connections, profile)
        if kind is OURS:
            started = time.monotonic()
            await bot.import_roster(csv_text)
            print(f"  roster: {args.officers} operators and the camats imported in "
                  f"{time.monotonic() - started:.1f} s", flush=True)  # fmt: skip
        try:
            await bot.start()
            expected: dict[str, int] = {}
            for o in officers:
                plan(o, kind, serial=o.index, first=True)
            gc.collect()
            tp = await saturate(bot, officers, args.concurrency)
            show(kind.name, "saturating", tp, f"   ({len(officers)} officers, {args.concurrency} at once)")
            pool = officers[: args.latency_updates // 8]
            for o in pool:
                plan(o, kind, serial=len(officers) + o.index, first=False)
            gc.collect()
            lat, late = await paced(bot, pool, args.rate, args.latency_updates)
            show(kind.name, "paced", lat,
                 f"   (offered {args.latency_updates / lat.seconds:.1f}/s over {len(pool)} officers, "
                 f"{late} late)")  # fmt: skip
            await asyncio.sleep(0.5)  # a message too many would arrive now
            for o in officers:
                per_proposal = 7 + kind.categories  # 8 updates, "Benar" answered with `categories`
                expected[o.wa_id] = kind.welcome + per_proposal * o.proposals
            wrong = {wa: (fake.count[wa], n) for wa, n in expected.items() if fake.count[wa] != n}
            if wrong:
                sample = dict(list(wrong.items())[:5])
                raise RuntimeError(f"{kind.name}: {len(wrong)} officers got another count of messages "
                                   f"(got, expected): {sample}")  # fmt: skip
            refused = [a for a in fake.arrivals if a.status != 200]
            if refused:
                codes = sorted({(a.status, a.code) for a in refused}, key=str)
                print(f"  {kind.name:4} Graph API calls refused: {len(refused)} {codes}", flush=True)
        finally:
            await bot.stop()
            if args.keep:  # a failed run's too
                shutil.copytree(root, Path(args.keep) / kind.name, dirs_exist_ok=True)
        if kind is OURS:
            verify(bot, args.officers + len(pool))
    finally:
        await fake.stop()
    return BotFigures(tp, lat, late)


def verify(bot: Bot, expected: int) -> None:
    """Every proposal in the database, sent to the camat; no NIK in the log."""
    with contextlib.closing(sqlite3.connect(bot.db)) as connection:
        counts = dict(connection.execute("SELECT status, count(*) FROM proposal GROUP BY status").fetchall())
        outbox = dict(connection.execute(
            "SELECT status, count(*) FROM outboundmessage WHERE NOT reply GROUP BY status"
        ).fetchall())  # fmt: skip
    print(f"  ours proposals in the database: {counts}; outbox (not replies): {outbox}", flush=True)
    if counts.get("menunggu_camat", 0) != expected:
        raise RuntimeError(
            f"ours: {counts.get('menunggu_camat', 0)} proposals sent to the camat, expected {expected}"
        )
    log = bot.log.read_text(errors="replace")
    if "Traceback" in log or "ERROR" in log:
        print(f"  ours log (tail):\n{log[-3000:]}", flush=True)


async def main(args: argparse.Namespace) -> str:
    print(
        f"whatsapp benchmark: {args.officers} officers x 9 updates, Graph API round trip "
        f"{args.latency * 1000:.0f} ms, paced load {args.rate:.0f} updates/s x {args.latency_updates}, "
        f"fake's throughput limit {args.fake_per_second}/s, {args.connections} connections",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="lanjutkan-wabench-") as workdir:
        echo = await run_bot(ECHO, args, Path(workdir))
        ours = await run_bot(OURS, args, Path(workdir))
    ratio = ours.throughput.rate / echo.throughput.rate
    p99, echo_p99 = ours.latency.pct(99), echo.latency.pct(99)
    bound = TARGET_P99_FACTOR * echo_p99
    print(
        f"  targets: rate {ours.throughput.rate:.0f} >= {TARGET_RATE:.0f} "
        f"{'ok' if ours.throughput.rate >= TARGET_RATE else 'MISSED'}; ratio {ratio:.2f} >= {TARGET_RATIO} "
        f"{'ok' if ratio >= TARGET_RATIO else 'MISSED'}; p99 {p99:.1f} <= {TARGET_P99_FACTOR:.0f} x echo "
        f"{echo_p99:.1f} = {bound:.1f} ms {'ok' if p99 <= bound else 'MISSED'}",
        flush=True,
    )
    return (
        f"whatsapp: {ours.throughput.rate:.0f} updates/s, p99 {p99:.1f} ms (echo {echo_p99:.1f} ms), "
        f"ratio {ratio:.2f}"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--officers", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02, help="Graph API round trip, seconds")
    parser.add_argument("--rate", type=float, default=100.0, help="paced offered load, updates/s")
    parser.add_argument("--latency-updates", type=int, default=2000, help="updates in the paced phase")
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="officers at once, saturating phase"
    )
    parser.add_argument("--connections", type=int, default=256, help="the officers' HTTP connections")
    parser.add_argument("--fake-per-second", type=int, default=100_000,
                        help="the fake's throughput limit, messages/s (Meta's: 80)")  # fmt: skip
    parser.add_argument(
        "--quick",
        action="store_true",
        help="24 officers, 96 paced updates (the smoke test; or WABENCH_QUICK=1)",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="run both bots under cProfile: DIR/ours.prof, echo.prof"
    )
    parser.add_argument("--keep", help="copy the databases and the bots' logs to this directory")
    args = parser.parse_args(argv)
    args.profile = Path(args.profile).resolve() if args.profile else None
    if args.quick or os.environ.get("WABENCH_QUICK"):
        args.officers, args.latency_updates = 24, 96
    # Whole proposals only, by officers of the roster: each officer of the paced pool sends 8 updates.
    args.latency_updates = max(8, min(8 * args.officers, math.ceil(args.latency_updates / 8) * 8))
    return args


if __name__ == "__main__":
    print(asyncio.run(main(parse())))
