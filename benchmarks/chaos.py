"""Chaos benchmark: officers propose through `lanjutkan run` while it is killed and Telegram fails.

What runs:

* **The bot**: the real ``lanjutkan run`` as a subprocess (``python -m bot run``), long polling a fake Bot API
  on loopback, on a SQLite file in a temp dir, with the environment the end-to-end tests give it
  (``tests/e2e/test_run.py``: ``TELEGRAM_API_URL``, ``LANJUTKAN_SECRET``, ``DATABASE_URL``,
  ``LANJUTKAN_SCHEDULED_MESSAGES=false``), plus ``LANJUTKAN_UNBOUND_REPLY_INTERVAL=0`` (a /start resent
  before binding is answered, as every update must be), and a synthetic roster imported with ``lanjutkan
  officers import``: ``--officers`` operators spread over Samosir's desa, and a camat for each kecamatan
  they are in (bound before the chaos starts), so every Kirim also queues a card in the outbox.
* **Telegram**: :class:`tests.fakebotapi.FakeBotApi` in this process, with random faults
  (``inject_faults``): ``--faults`` of every sendMessage, editMessageText, editMessageReplyMarkup and
  answerCallbackQuery fail, evenly among 429 (retry_after 1-2 s), 5xx, and no answer before the client's
  timeout (half of those carried out, the answer lost on the way back). getUpdates keeps working.
* **The killer**: once the officers are at work, kills the bot with SIGKILL after a random time
  (``--uptime``, uniform, from its start: some kills land in the start-up and the inbox replay, most in the
  middle of the work) and starts a new one at once, ``--kills`` times.
* **The officers**: each reads what the bot last asked and answers it, as a person does: /start, share
  their contact, then whole proposals (/daftar, a synthetic unique NIK, a name, Benar, a category, an
  address, Lewati, Kirim), one after another while the killer is at work, and then finish the one in hand.
  An officer waits for the bot's reply before the next step; one who hears nothing within their patience
  (``--patience``, uniform) sends the same answer again (the same text, or presses the same button again),
  which is how a reply lost shows up. A question already answered for this proposal is not answered twice
  (the reply to a resent answer asks it again, until the first answer's reply arrives), unless the bot says
  the answer was not saved. After Kirim with no "terkirim" reply and a resend that finds the draft gone,
  the officer looks for the proposal in /daftarku.

When the killer is done: the last bot keeps running, the officers finish the proposal in hand (faults still
on, ``--budget`` seconds at most), then the faults stop and the outbox drains (messages ``pending``, and
replies left ``direct`` by their process): it is stuck when no message goes out for ``--settle`` seconds (a
message waiting out a retry's backoff is given until it is due). Then the bot is stopped and the database
read.

Counted:

* **proposals**: proposals in the database waiting for the camat (``menunggu_camat``).
* **lost**: proposals an officer pressed Kirim for that are not in the database as sent, by NIK hash.
* **duplicated**: a NIK in more than one sent proposal; a sent proposal its officer never made (by NIK
  hash); a sent proposal whose name, category or address is not what its officer answered (an answer
  applied to the wrong question, as a resent one could be); more than one ``submit`` audit event for one
  proposal (an answer applied twice).
* **stuck**: officers who could not finish within the budget; outbox messages still ``pending`` or
  ``direct`` after the settle time; inbox updates never handled; conversations left open by officers who
  finished.
* **replies lost**: a reply is part of the turn (a row of ``outboundmessage`` with ``reply = 1`` and the
  ``update_id`` it answers, written with the change), so every officer update handled must end with one,
  ``sent`` or ``superseded`` (not sent: a later reply for the chat was recorded first). Counted, by update
  id (an update redelivered after a crash counts once), over the update ids each officer and camat pushed:
  updates handled (``inboundupdate.handled_at`` set) with no reply row; reply rows of their chats left
  ``direct``, ``pending`` or ``failed``; and, from the fake's side, for each chat, the reply rows ``sent``
  beyond the messages the fake accepted for it (sendMessage, plus editMessageText).
* **sends in 429 windows**: message calls (sendMessage, editMessageText, sendPhoto; to any chat, whatever
  their fate) that arrived at the fake at ``a`` with ``t + 0.25 < a < t + retry_after`` for a 429 it answered
  at ``t`` (``FakeBotApi.sends_in_flood_windows``). The 0.25 s spare the calls already on their way when the
  429 was answered: sent before the bot could know, they are not its fault.
* Reported, not failing: the updates of an operator that no message of their chat answered (the fake's
  record: those to injected faults and the rest, lost in a crash), the replies superseded and those sent
  after a hand-over to the outbox (``sent`` with ``attempts > 0``: the history is not kept), the approval
  cards the camats received (a card sent twice is the outbox's documented crash window) and their delay
  from the row's ``created_at`` to the arrival at the fake (median, max, and how many arrived while the
  killer was at work), resends, and the kills that found the bot already dead.

The last line printed is exactly ``chaos: <k> kills, <p> proposals, <l> lost, <d> duplicated, <s> stuck,
<r> replies lost, <w> sends in 429 windows``; the exit status is 1 when lost, duplicated, stuck, replies lost
or sends in 429 windows is not 0, or a NIK shows in the bots' logs.

Run: ``.venv/bin/python benchmarks/chaos.py`` (40 officers, 100 kills, 30 % faults: about ten minutes;
``--officers 5 --kills 3`` for a quick run; ``--help`` for the rest). ``--keep DIR`` keeps the database and
the bot's logs there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import math
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from handlers import texts  # noqa: E402
from models.crypto import NikVault  # noqa: E402
from models.regions import Desa, load_kabupaten  # noqa: E402
from models.rules.categories import CATEGORIES  # noqa: E402
from tests.conftest import synthetic_nik  # noqa: E402
from tests.fakebotapi import TOKEN, FakeBotApi, RandomFaults, SentMessage  # noqa: E402

SECRET = "chaos-secret-" + "c" * 19  # 32 characters, synthetic
KABUPATEN = "12.17"
START_TIMEOUT = 60.0  # the first bot's first reply: the interpreter, the migrations, on a busy machine
QUESTION = re.compile(r"([1-6])/6 ·")
CARD = re.compile(r"📋 Usulan (U-\d{5}) — menunggu persetujuan camat")
MAX_SETTLE = 900.0  # seconds: however the outbox drains, the benchmark ends
FIRST_OPERATOR = 600_000_000
FIRST_CAMAT = 700_000_000
# A call already on its way when a 429 was answered is not the bot's fault: it could not know yet.
FLOOD_MARGIN = 0.25


# ----------------------------------------------------------------------------------------------- the fake


class ChaosApi(FakeBotApi):
    """The fake Bot API, plus each chat's messages in order and a signal when one arrives."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.record_calls = False  # thousands of updates: keep only what the officers read
        self.chats: dict[int, list[SentMessage]] = defaultdict(list)
        self.arrived: dict[int, asyncio.Event] = defaultdict(asyncio.Event)

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        result = await super()._api_sendMessage(params)
        message = self.sent[-1]  # appended just now, with no await in between
        self.chats[message.chat_id].append(message)
        self.arrived[message.chat_id].set()
        return result

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        # The parent's semantics without rebuilding the pending list on every poll.
        offset = int(params.get("offset") or 0)
        drop = 0
        while drop < len(self._updates) and self._updates[drop]["update_id"] < offset:
            drop += 1
        del self._updates[:drop]
        if not self._updates and float(params.get("timeout") or 0):
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), min(float(params["timeout"]), 1.0))
        return self._updates[: int(params.get("limit") or 100)]


# ---------------------------------------------------------------------------------------------- officers


@dataclass
class Planned:
    """One proposal as its officer means it."""

    serial: int
    nik: str
    name: str
    category: int  # index in CATEGORIES
    address: str
    answered: set[str] = field(default_factory=set)  # the questions answered (1-6, "summary")
    kirim: bool = False  # Kirim pressed at least once
    confirmed: bool = False  # the officer saw it sent ("terkirim", or in /daftarku)
    checking: bool = False  # /daftarku sent to find out whether it was sent
    vanished: bool = False  # Kirim pressed, the draft gone, and not in /daftarku

    @property
    def category_label(self) -> str:
        return CATEGORIES[self.category].label.capitalize()


Action = Callable[["ChaosApi"], dict[str, Any]]


@dataclass
class Officer:
    """A simulated operator (or a camat, who only binds and then receives cards)."""

    index: int
    user_id: int
    name: str
    phone: str
    region: str  # desa code (operator) or kecamatan code (camat)
    rng: random.Random
    patience: tuple[float, float]
    proposes: bool = True  # an operator; a camat only binds
    proposals: list[Planned] = field(default_factory=list)
    bound: bool = False
    finished: bool = False
    seen: int = 0  # messages of the chat read so far
    updates: int = 0  # updates sent (each deserves one reply)
    update_ids: list[int] = field(default_factory=list)  # their ids at the fake, in order
    resends: int = 0
    last: Action | None = None

    @property
    def current(self) -> Planned | None:
        return self.proposals[-1] if self.proposals and not self.proposals[-1].confirmed else None

    def send(self, api: ChaosApi, action: Action) -> None:
        self.last = action
        self.updates += 1
        self.update_ids.append(api.push(action(api)))

    def resend(self, api: ChaosApi) -> None:
        if self.last is not None:
            self.resends += 1
            self.updates += 1
            self.update_ids.append(api.push(self.last(api)))

    def text(self, api: ChaosApi, value: str) -> None:
        self.send(api, lambda a: a.text_update(self.user_id, value))

    def press(self, api: ChaosApi, message: SentMessage, label: str) -> None:
        data = message.button(label)["callback_data"]
        self.send(api, lambda a: a.press_update(self.user_id, message, data))

    async def next_message(self, api: ChaosApi, timeout: float) -> SentMessage | None:
        """The next message of the chat not read yet, or None when none arrives within ``timeout``."""
        chat = api.chats[self.user_id]
        if self.seen >= len(chat):
            event = api.arrived[self.user_id]
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        if self.seen >= len(chat):
            return None
        self.seen += 1
        return chat[self.seen - 1]

    async def run(self, api: ChaosApi, more: Callable[[], bool], plan: Callable[[Officer], Planned]) -> None:
        """Bind, then propose while ``more()`` says so, until the officer is finished (or cancelled)."""
        self.text(api, "/start")
        while not self.finished:
            message = await self.next_message(api, self.rng.uniform(*self.patience))
            if message is None:
                self.resend(api)
                continue
            self.react(api, message, more, plan)

    def react(
        self,
        api: ChaosApi,
        message: SentMessage,
        more: Callable[[], bool],
        plan: Callable[[Officer], Planned],
    ) -> None:
        """What a person does on reading ``message``."""
        text = message.text
        markup = message.reply_markup or {}
        if not self.bound:
            if any(b.get("request_contact") for row in markup.get("keyboard", []) for b in row):
                self.send(api, lambda a: a.contact_update(self.user_id, self.phone, self.user_id))
            elif text.startswith(f"Terima kasih, {self.name}."):
                self.bound = True
                if self.proposes:
                    self.next_proposal(api, more, plan)
            return
        proposal = self.current
        if proposal is None:
            return  # a late reply to something finished
        if texts.TRY_AGAIN_LATER in text:  # the last answer was not saved: the bot asks for it again
            proposal.answered.clear()
        name = proposal.name.upper()  # as the bot writes it, like the KTP
        if f"terkirim: {name}" in text or (proposal.checking and f"— {name} —" in text):
            proposal.confirmed = True
            self.next_proposal(api, more, plan)
            return
        if proposal.checking and text.startswith(("Usulan Anda (", texts.NO_PROPOSALS)):
            proposal.vanished, proposal.confirmed = True, True  # as the officer sees it: gone
            self.next_proposal(api, more, plan)
            return
        if "Ringkasan usulan" in text and message.buttons:
            if "summary" not in proposal.answered:
                proposal.answered.add("summary")
                proposal.kirim = True
                self.press(api, message, texts.SEND)
            return
        if proposal.kirim and texts.STALE_BUTTON in text and not QUESTION.search(text):
            # Kirim again, and the draft is gone: was it sent? The officer looks in /daftarku.
            if not proposal.checking:
                proposal.checking = True
                self.text(api, "/daftarku")
            return
        asked = QUESTION.findall(text)
        if not asked or asked[-1] in proposal.answered:
            return
        step = asked[-1]
        proposal.answered.add(step)
        match step:
            case "1":
                self.text(api, proposal.nik)
            case "2":
                self.text(api, proposal.name)
            case "3":
                self.press(api, message, texts.BIRTH_OK)
            case "4":
                self.press(api, message, proposal.category_label)
            case "5":
                self.text(api, proposal.address)
            case "6":
                self.press(api, message, texts.SKIP)

    def next_proposal(
        self, api: ChaosApi, more: Callable[[], bool], plan: Callable[[Officer], Planned]
    ) -> None:
        if self.proposals and not more():
            self.finished = True
            return
        self.proposals.append(plan(self))
        self.text(api, "/daftar")


def letters(n: int) -> str:
    """A name-like word from a number (names must be letters): 0 -> "Aaa", 1 -> "Baa"..."""
    word = ""
    for _ in range(3):
        n, r = divmod(n, 26)
        word += chr(ord("a") + r)
    return word.capitalize()


# The categories an officer picks: any but "lainnya" (one more question)
PLAIN_CATEGORIES = [i for i, c in enumerate(CATEGORIES) if not c.needs_description]


class Plans:
    """Unique proposals: one serial per proposal, a NIK from the officer's kecamatan, aged 26-55."""

    def __init__(self) -> None:
        self.serial = 0

    def __call__(self, officer: Officer) -> Planned:
        self.serial += 1
        s = self.serial
        assert s < 9999, "synthetic NIK serials are 4 digits"
        district = officer.region[:8].replace(".", "")
        nik = synthetic_nik(
            district=district,
            day=1 + s % 28,
            month=1 + s % 12,
            year=1970 + s % 30,
            female=s % 2 == 1,
            serial=s,
        )
        address = f"Dusun {1 + s % 7} RT 00{1 + s % 5} RW 00{1 + s % 3}"
        category = PLAIN_CATEGORIES[s % len(PLAIN_CATEGORIES)]
        return Planned(s, nik, f"Pekerja {letters(s)} Sitorus", category, address)


def roster(count: int, seed: int, patience: tuple[float, float]) -> tuple[list[Officer], list[Officer]]:
    """``count`` operators over Samosir's desa (spread across kecamatan) and a camat for each kecamatan."""
    desa: list[Desa] = load_kabupaten(KABUPATEN).all_desa()
    stride = max(1, len(desa) // max(count, 1))
    operators = []
    for i in range(count):
        d = desa[(i * stride + i // len(desa)) % len(desa)]
        operators.append(
            Officer(
                i,
                FIRST_OPERATOR + i,
                f"Operator {letters(i)}",
                f"+62812{20_000_000 + i:08d}",
                d.code,
                random.Random(seed * 1000 + i),
                patience,
            )
        )
    kecamatan = sorted({o.region[:8] for o in operators})
    camats = [
        Officer(
            i,
            FIRST_CAMAT + i,
            f"Camat {letters(i)}",
            f"+62812{30_000_000 + i:08d}",
            code,
            random.Random(-seed * 1000 - i),
            patience,
            proposes=False,
        )
        for i, code in enumerate(kecamatan)
    ]
    return operators, camats


def roster_csv(operators: list[Officer], camats: list[Officer]) -> str:
    lines = ["nama,peran,kode_wilayah,no_hp"]
    lines += [f"{o.name},operator,{o.region},{o.phone}" for o in operators]
    lines += [f"{c.name},camat,{c.region},{c.phone}" for c in camats]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------------- bot


def bot_env(api: ChaosApi, db: Path) -> dict[str, str]:
    """As tests/e2e/test_run.py sets it: the caller's environment without the bot's settings, plus ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "WHATSAPP_", "LANJUTKAN_"))
        and k not in {"DATABASE_URL", "TZ", "COLUMNS", "LINES"}
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_COLOR"] = "1"
    return env | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "LANJUTKAN_SECRET": SECRET,
        "LANJUTKAN_PORT": "0",  # each process its own free port
        "LANJUTKAN_SCHEDULED_MESSAGES": "false",
        # Every update gets its reply: a stranger is otherwise answered once per 5 minutes on purpose, and a
        # /start resent before binding would rightly go unanswered.
        "LANJUTKAN_UNBOUND_REPLY_INTERVAL": "0",
    }


class Bots:
    """The bot processes, one at a time: started, killed, restarted; every one stopped at the end."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.current: asyncio.subprocess.Process | None = None
        self.started = 0
        self.kills = 0
        self.found_dead = 0  # kills that found the bot already exited (a crash of its own)
        self.logs: list[Path] = []

    async def cli(self, *args: str, timeout: float = 120.0) -> tuple[int, str]:
        """Run `python -m bot ARGS` to completion; its exit status and output."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=self.root,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        return proc.returncode or 0, out.decode(errors="replace")

    async def start(self) -> None:
        log = self.root / f"bot-{self.started:03d}.log"
        with log.open("wb") as sink:  # the child keeps its own descriptor
            self.current = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=self.root,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.started += 1
        self.logs.append(log)

    async def kill(self) -> None:
        proc = self.current
        assert proc is not None
        if proc.returncode is not None:
            self.found_dead += 1
        else:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 30)
        self.kills += 1

    async def stop(self) -> int | None:
        """SIGTERM, as a service manager stops it; SIGKILL if it does not stop in 30 s."""
        proc = self.current
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None

    async def close(self) -> None:
        proc = self.current
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 30)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())


async def killer(bots: Bots, kills: int, uptime: tuple[float, float], rng: random.Random) -> None:
    """Kill the running bot after a random time, start the next at once; ``kills`` times."""
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(*uptime))
        await bots.kill()
        await bots.start()


# -------------------------------------------------------------------------------------------- the count


def query(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as connection:
        return connection.execute(sql, params).fetchall()


def outbox_waiting(db: Path) -> tuple[int, float | None]:
    """Outbox messages not delivered yet (pending, or direct: a process's own reply, taken over if it dies),
    and how many seconds until the last of them is due (None: all due)."""
    rows = query(db, "SELECT next_attempt_at FROM outboundmessage WHERE status IN ('pending', 'direct')")
    now = time.time()
    due = [_epoch(r[0]) for r in rows]
    later = max((d - now for d in due if d > now), default=None)
    return len(rows), later


def _epoch(value: str) -> float:
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


@dataclass
class Count:
    proposals: int = 0
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    replies_lost: int = 0
    flood_sends: int = 0  # message calls that arrived inside a 429's retry_after
    notes: list[str] = field(default_factory=list)


def count(
    db: Path,
    operators: list[Officer],
    camats: list[Officer],
    api: ChaosApi,
    faults: RandomFaults | None,
    pending: int,
    *,
    clock_offset: float = 0.0,
    chaos_ended: float = math.inf,
) -> Count:
    """What the database holds against what the officers did (and the fake received).

    ``clock_offset`` turns the fake's ``time.monotonic()`` into ``time.time()``; ``chaos_ended`` is when
    (monotonic) the killer finished.
    """
    vault = NikVault(SECRET)
    result = Count()
    officer_ids = {phone: oid for oid, phone in query(db, "SELECT id, phone FROM officer")}
    rows = query(
        db,
        "SELECT id, officer_id, status, nik_hash, name, category, address FROM proposal "
        "WHERE status != 'draft'",
    )
    sent = [r for r in rows if r[2] == "menunggu_camat"]
    result.proposals = len(sent)
    by_hash: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        by_hash[row[3]].append(row)

    # lost: Kirim pressed, not sent
    planned: dict[str, tuple[Officer, Planned]] = {}
    for officer in operators:
        for p in officer.proposals:
            planned[vault.hash(p.nik)] = (officer, p)
    lost = [
        (o, p)
        for h, (o, p) in planned.items()
        if p.kirim
        and not any(r[2] == "menunggu_camat" and r[1] == officer_ids.get(o.phone) for r in by_hash[h])
    ]
    result.lost = len(lost)
    seen_gone = sum(p.vanished for _, (_, p) in planned.items())

    # duplicated: a NIK twice, a proposal nobody made, an answer in the wrong field, a submit applied twice
    twice = sum(len(found) - 1 for found in by_hash.values() if len(found) > 1)
    unknown = sum(len(found) for h, found in by_hash.items() if h not in planned)
    wrong = 0
    for h, found in by_hash.items():
        if h not in planned:
            continue
        officer, p = planned[h]
        expected = (officer_ids.get(officer.phone), p.name.upper(), CATEGORIES[p.category].value, p.address)
        wrong += sum(1 for r in found if (r[1], r[4], r[5], r[6]) != expected)
    submits = query(
        db,
        "SELECT count(*) FROM (SELECT proposal_id FROM auditevent WHERE action = 'submit' "
        "GROUP BY proposal_id HAVING count(*) > 1)",
    )[0][0]
    result.duplicated = twice + unknown + wrong + submits

    # stuck: officers unfinished, outbox messages undelivered, updates unhandled, conversations left open
    unfinished = [o for o in operators if not o.finished]
    unhandled = query(db, "SELECT count(*) FROM inboundupdate WHERE handled_at IS NULL")[0][0]
    finished_ids = [officer_ids[o.phone] for o in operators if o.finished and o.phone in officer_ids]
    left_open = sum(
        1 for (oid,) in query(db, "SELECT officer_id FROM conversation") if oid in set(finished_ids)
    )
    result.stuck = len(unfinished) + pending + unhandled + left_open

    # Replies lost: every officer update handled ends with a reply row, sent or superseded (a later reply
    # for the chat was recorded first: the officer had moved on). By update id, so an update redelivered
    # after a crash counts once.
    officers = operators + camats
    chats = {str(o.user_id): o for o in officers}
    pushed = {str(uid) for o in officers for uid in o.update_ids}
    handled = {
        uid
        for (uid,) in query(db, "SELECT update_id FROM inboundupdate WHERE handled_at IS NOT NULL")
        if uid in pushed
    }
    replies = [
        r
        for r in query(db, "SELECT update_id, chat_id, status, attempts FROM outboundmessage WHERE reply")
        if r[1] in chats
    ]
    unanswered = len(handled - {r[0] for r in replies})
    statuses = Counter(r[2] for r in replies)
    left_undelivered = statuses["direct"] + statuses["pending"] + statuses["failed"]
    # ... and the fake accepted at least as many messages for the chat as it has replies marked sent.
    edits = Counter(
        a.chat_id for a in api.arrivals if a.method == "editMessageText" and a.status == HTTPStatus.OK
    )
    sent_replies = Counter(r[1] for r in replies if r[2] == "sent")
    shortfall = sum(
        max(0, n - len(api.chats[chats[chat].user_id]) - edits[chats[chat].user_id])
        for chat, n in sent_replies.items()
    )
    result.replies_lost = unanswered + left_undelivered + shortfall
    handed_over = sum(1 for r in replies if r[2] == "sent" and r[3] > 0)

    # Sends inside 429 windows: the bot must wait out every retry_after it was told.
    result.flood_sends = api.sends_in_flood_windows(FLOOD_MARGIN)
    too_many = sum(1 for a in api.arrivals if a.retry_after)

    # Fake side, not failing: updates of an operator that no message of their chat answered.
    operator_chats = {o.user_id for o in operators}
    injected = faults.lost if faults is not None else []
    fault_lost = Counter(
        chat for method, chat in injected if method == "sendMessage" and chat in operator_chats
    )
    no_reply = fault_replies = 0
    for o in operators:
        got = len(api.chats[o.user_id])
        missing = max(0, o.updates - got)
        no_reply += missing
        fault_replies += min(missing, fault_lost[o.user_id])
    # Cards: one per sent proposal, to the camat of its kecamatan.
    numbers: Counter[str] = Counter()
    first: dict[tuple[str, int], float] = {}  # (card number, camat chat) -> when it first arrived
    for c in camats:
        for m in api.chats[c.user_id]:
            card = CARD.match(m.text)
            if card:
                numbers[card.group(1)] += 1
                first.setdefault((card.group(1), c.user_id), m.at)
    expected_cards = {f"U-{r[0]:05d}" for r in sent}
    # The cards' delay: from the row's created_at (the Kirim's commit) to the arrival at the fake.
    queued = query(
        db,
        "SELECT c.proposal_id, c.chat_id, m.created_at FROM outboundmessage m "
        "JOIN cardcopy c ON m.card_id = c.id WHERE NOT m.reply AND NOT m.edit",
    )
    delays, during_kills = [], 0
    for proposal_id, chat, created in queued:
        at = first.get((f"U-{proposal_id:05d}", int(chat)))
        if at is not None:
            delays.append(at + clock_offset - _epoch(created))
            during_kills += at < chaos_ended
    delay = (
        f"delay from the commit: median {statistics.median(delays):.1f} s, max {max(delays):.1f} s; "
        f"{during_kills} arrived while the killer was at work"
        if delays
        else "none arrived"
    )

    result.notes += [
        f"  officers: {len(operators) - len(unfinished)} of {len(operators)} finished; "
        f"{sum(len(o.proposals) for o in operators)} proposals started, "
        f"{sum(p.kirim for _, p in planned.values())} with Kirim pressed, "
        f"{sum(p.confirmed and not p.vanished for _, p in planned.values())} seen sent by their officer; "
        f"{sum(o.updates for o in operators)} updates sent, "
        f"{sum(o.resends for o in operators)} of them resent "
        f"after hearing nothing",
        f"  lost {result.lost} (the officer saw {seen_gone} of them gone); duplicated: {twice} NIKs twice, "
        f"{unknown} proposals nobody made, {wrong} with an answer in the wrong field, "
        f"{submits} submitted twice",
        f"  stuck: {len(unfinished)} officers unfinished, {pending} outbox messages pending or direct, "
        f"{unhandled} updates unhandled, {left_open} conversations left open",
        f"  cards: {len(expected_cards & set(numbers))} of {len(expected_cards)} reached the camat, "
        f"{sum(n - 1 for n in numbers.values() if n > 1)} twice (the outbox's crash window); {delay}",
        f"  replies lost {result.replies_lost}: of {len(handled)} officer updates handled, {unanswered} with "
        f"no reply row; {left_undelivered} reply rows left undelivered ({statuses['direct']} direct, "
        f"{statuses['pending']} pending, {statuses['failed']} failed); {shortfall} sent that the fake never "
        f"accepted. {statuses['sent']} sent ({handed_over} after a hand-over), "
        f"{statuses['superseded']} superseded",
        f"  sends in 429 windows: {result.flood_sends} message calls arrived inside the retry_after of "
        f"{too_many} 429s (more than {FLOOD_MARGIN:g} s after it)",
        f"  updates with no reply of their own (the fake's record, not failing): {no_reply} of "
        f"{sum(o.updates for o in operators)} ({fault_replies} to injected send faults, "
        f"{no_reply - fault_replies} in crashes)",
    ]
    return result


# ------------------------------------------------------------------------------------------------- run


async def bind(officer: Officer, api: ChaosApi, timeout: float) -> None:
    """A camat binds (no kills, no faults yet): /start, then the contact."""
    officer.text(api, "/start")
    deadline = time.monotonic() + timeout
    while not officer.bound:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{officer.name} could not bind")
        message = await officer.next_message(api, min(left, 10.0))
        if message is None:
            officer.resend(api)
        else:
            officer.react(api, message, lambda: False, lambda o: Planned(0, "", "", 0, ""))
    officer.finished = True


async def main(args: argparse.Namespace) -> tuple[str, bool]:
    rng = random.Random(args.seed)
    operators, camats = roster(args.officers, args.seed, (args.patience[0], args.patience[1]))
    print(
        f"chaos: {len(operators)} officers and {len(camats)} camats through `lanjutkan run`, "
        f"{args.kills} kills "
        f"(uptime {args.uptime[0]:g}-{args.uptime[1]:g} s), {args.faults:.0%} of Bot API sends failing, "
        f"patience {args.patience[0]:g}-{args.patience[1]:g} s, seed {args.seed}",
        flush=True,
    )
    folder = Path(tempfile.mkdtemp(prefix="lanjutkan-chaos-"))
    api = ChaosApi(hang_for=15.0)
    await api.start()
    clock_offset = time.time() - time.monotonic()  # the fake's monotonic times to epoch seconds
    bots = Bots(folder, bot_env(api, folder / "bot.db"))
    tasks: list[asyncio.Task[None]] = []
    began = time.monotonic()
    try:
        (folder / "roster.csv").write_text(roster_csv(operators, camats), encoding="utf-8")
        status, out = await bots.cli("officers", "import", str(folder / "roster.csv"))
        if status != 0:
            raise RuntimeError(f"roster import failed: {out[-500:]}")
        await bots.start()
        await asyncio.gather(*(bind(c, api, START_TIMEOUT) for c in camats))
        print(f"  {time.monotonic() - began:5.1f} s: roster imported, {len(camats)} camats bound", flush=True)

        faults = api.inject_faults(args.faults, seed=args.seed)
        plans = Plans()
        chaos = asyncio.create_task(killer(bots, args.kills, (args.uptime[0], args.uptime[1]), rng))
        more = lambda: not chaos.done()  # noqa: E731
        tasks = [asyncio.create_task(o.run(api, more, plans)) for o in operators]
        chaos_began = time.monotonic()
        while not chaos.done():
            await asyncio.wait({chaos}, timeout=30)
            if not chaos.done():
                started = sum(len(o.proposals) for o in operators)
                print(
                    f"  {time.monotonic() - began:5.1f} s: {bots.kills} kills, {started} proposals started",
                    flush=True,
                )
        await chaos  # raises what the killer met
        chaos_ended = time.monotonic()
        print(
            f"  {time.monotonic() - began:5.1f} s: {bots.kills} kills done in "
            f"{time.monotonic() - chaos_began:.0f} s; "
            f"the officers finish the proposal in hand (at most {args.budget:g} s)",
            flush=True,
        )
        _, waiting = await asyncio.wait(tasks, timeout=args.budget)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        api.inject_faults(0)

        # Settle: the outbox drains, at one message per chat per 1,1 s (the kills kept it mostly idle: a
        # killed holder's lease must expire before the next process delivers). Stuck is what stops
        # draining: no message delivered for --settle seconds, a retry's backoff apart.
        settle_began = last_progress = time.monotonic()
        least, _ = outbox_waiting(folder / "bot.db")
        while True:
            pending, later = outbox_waiting(folder / "bot.db")
            if pending == 0:
                break
            if pending < least:
                least, last_progress = pending, time.monotonic()
            deadline = last_progress + args.settle
            if later is not None:
                deadline = max(deadline, time.monotonic() + later + args.settle)
            if time.monotonic() > min(deadline, settle_began + MAX_SETTLE):
                break
            await asyncio.sleep(1.0)
        print(
            f"  {time.monotonic() - began:5.1f} s: settled in {time.monotonic() - settle_began:.0f} s, "
            f"{pending} outbox messages pending or direct",
            flush=True,
        )
        stopped = await bots.stop()
        if stopped != 0:
            print(f"  the last bot stopped with {stopped}", flush=True)
        result = count(
            folder / "bot.db",
            operators,
            camats,
            api,
            faults,
            pending,
            clock_offset=clock_offset,
            chaos_ended=chaos_ended,
        )
        log = bots.log_text()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bots.close()
        await api.stop()
        if args.keep:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

    for line in result.notes:
        print(line, flush=True)
    niks_in_log = sum(1 for o in operators for p in o.proposals if p.nik in log)
    print(
        f"  bots: {bots.started} started, {bots.kills} killed ({bots.found_dead} already dead); "
        f"{log.count('Traceback')} tracebacks and {niks_in_log} NIKs in their logs; "
        f"{sum(faults.injected.values()) if faults else 0} faults injected "
        f"({dict(faults.injected) if faults else {}}); {time.monotonic() - began:.0f} s in all",
        flush=True,
    )
    failing = (result.lost, result.duplicated, result.stuck, result.replies_lost, result.flood_sends)
    ok = not any(failing) and niks_in_log == 0
    line = (
        f"chaos: {bots.kills} kills, {result.proposals} proposals, {result.lost} lost, "
        f"{result.duplicated} duplicated, {result.stuck} stuck, {result.replies_lost} replies lost, "
        f"{result.flood_sends} sends in 429 windows"
    )
    return line, ok


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--officers", type=int, default=40)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--faults", type=float, default=0.3, help="share of Bot API sends that fail")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--uptime",
        type=float,
        nargs=2,
        default=(1.0, 8.0),
        metavar=("MIN", "MAX"),
        help="seconds from a bot's start to its kill, uniform",
    )
    parser.add_argument(
        "--patience",
        type=float,
        nargs=2,
        default=(6.0, 12.0),
        metavar=("MIN", "MAX"),
        help="seconds an officer waits for a reply before sending again, uniform",
    )
    parser.add_argument("--budget", type=float, default=300.0, help="seconds to finish after the kills")
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="seconds without a delivery after which the outbox is stuck",
    )
    parser.add_argument("--keep", help="copy the database and the bots' logs to this folder")
    args = parser.parse_args(argv)
    if not 0 <= args.faults < 1 or args.officers < 1 or args.kills < 0:
        parser.error("--faults in [0, 1), at least one officer, kills >= 0")
    return args


if __name__ == "__main__":
    last, passed = asyncio.run(main(parse()))
    print(last)
    sys.exit(0 if passed else 1)
