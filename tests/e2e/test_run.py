"""End to end: the real `lanjutkan run` as a subprocess, long polling a fake Bot API on loopback HTTP.

Nothing here touches the internet; every person, phone number and NIK is synthetic. Each test starts its
own :class:`FakeBotApi` in the test's event loop and its own bot process(es) on a SQLite file in tmp_path,
with the working directory in tmp_path so the repository's `.env` is never read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import synthetic_nik
from tests.fakebotapi import TOKEN, FakeBotApi, SentMessage

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SECRET = "e2e-secret-" + "s" * 21  # 32 characters, synthetic
START_TIMEOUT = 30.0  # the first reply includes the interpreter start and the SQLite migration
STEP_TIMEOUT = 10.0

# Synthetic roster (0812-0000-xxxx numbers are nobody's).
RINA = 1001  # operator of Desa Tomok
TIGOR = 1002  # another operator of Desa Tomok
JONSON = 2001  # camat of Simanindo
MARIA = 3001  # Diskopnaker (on the roster of the approval tests)
ROSTER_CSV = (
    "nama,peran,kode_wilayah,no_hp\n"
    "Rina Sitohang,operator,12.17.01.2001,081200000101\n"
    "Tigor Manik,operator,12.17.01.2001,081200000102\n"
    "Jonson Simbolon,camat,12.17.01,081200000201\n"
)
PHONES = {RINA: "081200000101", TIGOR: "081200000102", JONSON: "+62 812-0000-0201", MARIA: "081200000301"}
ADDRESS = "Dusun II, RT 002/RW 001"


def masked(nik: str) -> str:
    return f"{nik[:4]}{'•' * 8}{nik[-4:]}"


# ---------------------------------------------------------------------------------------------- helpers


def base_env() -> dict[str, str]:
    """The caller's environment without any of the bot's settings (and without a terminal width)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "WHATSAPP_", "LANJUTKAN_"))
        and k not in {"DATABASE_URL", "TZ", "COLUMNS", "LINES", "FORCE_COLOR"}
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave in the order they were written
    env["NO_COLOR"] = "1"
    return env


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


async def cli(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60.0, merge: bool = False
) -> Result:
    """Run `python -m bot ARGS` to completion (killed after ``timeout``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge else asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), (err or b"").decode())


async def until(predicate: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Deployment:
    """One bot installation: a working directory, a SQLite file, the settings, and its bot processes."""

    def __init__(self, root: Path, api: FakeBotApi) -> None:
        self.root = root
        self.api = api
        self.db = root / "bot.db"
        self.env = base_env() | {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.db}",
            "LANJUTKAN_SECRET": SECRET,
            "LANJUTKAN_PORT": "0",  # each process its own free port: two may run at once
            # The weekly summary would otherwise arrive in these flows on the days after a Monday (the
            # catch-up at start-up); tests/e2e/test_scheduled.py switches it on.
            "LANJUTKAN_SCHEDULED_MESSAGES": "false",
        }
        self.processes: list[asyncio.subprocess.Process] = []
        self.logs: list[Path] = []
        self.last_update_id = 0

    async def import_roster(self, csv_text: str = ROSTER_CSV) -> None:
        roster = self.root / "roster.csv"
        roster.write_text(csv_text, encoding="utf-8")
        result = await cli("officers", "import", str(roster), env=self.env, cwd=self.root)
        assert result.returncode == 0, result.stdout + result.stderr

    async def start(self) -> asyncio.subprocess.Process:
        log = self.root / f"bot-{len(self.logs)}.log"
        with log.open("wb") as sink:  # the child keeps its own descriptor
            proc = await asyncio.create_subprocess_exec(
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
        self.processes.append(proc)
        self.logs.append(log)
        return proc

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    async def sigkill(self, proc: asyncio.subprocess.Process) -> None:
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
        assert proc.returncode == -signal.SIGKILL

    async def close(self) -> None:
        for proc in self.processes:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)

    # ---------------------------------------------------------------------- a person, through the API

    def text(self, user: int, text: str) -> None:
        self.last_update_id = self.api.send_text(user, text)

    def contact(self, user: int, phone: str) -> None:
        self.last_update_id = self.api.send_contact(user, phone)

    def press(self, user: int, message: SentMessage, label: str) -> None:
        self.last_update_id = self.api.press(user, message, message.button(label)["callback_data"])

    async def say(self, user: int, text: str, timeout: float = STEP_TIMEOUT) -> SentMessage:
        """Type ``text`` and wait for exactly the one reply every step of these flows gives."""
        have = len(self.api.messages_to(user))
        self.text(user, text)
        return await self._one_reply(user, have, timeout)

    async def tap(
        self, user: int, message: SentMessage, label: str, timeout: float = STEP_TIMEOUT
    ) -> SentMessage:
        """Press the button labelled ``label`` on ``message`` and wait for the one reply."""
        have = len(self.api.messages_to(user))
        self.press(user, message, label)
        return await self._one_reply(user, have, timeout)

    async def _one_reply(self, user: int, have: int, timeout: float) -> SentMessage:
        messages = await self.api.wait_for(user, have + 1, timeout)
        return messages[have]

    async def onboard(self, user: int, name: str, timeout: float = START_TIMEOUT) -> None:
        first = await self.say(user, "/start", timeout)
        assert first.reply_markup is not None
        assert first.reply_markup["keyboard"][0][0]["request_contact"] is True
        have = len(self.api.messages_to(user))
        self.contact(user, PHONES[user])
        welcome = await self._one_reply(user, have, STEP_TIMEOUT)
        assert f"Terima kasih, {name}." in welcome.text

    async def rina_at_the_name_question(self, nik: str) -> asyncio.subprocess.Process:
        """A bot running, Rina onboarded and her NIK answered and confirmed to Telegram."""
        await self.import_roster()
        bot = await self.start()
        await self.onboard(RINA, "Rina Sitohang")
        await self.say(RINA, "/daftar")
        await self.say(RINA, nik)
        await self.confirmed()
        return bot

    async def confirmed(self) -> None:
        """Wait until the bot has confirmed (getUpdates offset past) every update pushed so far, and
        recorded every reply it sent as sent (a reply a kill catches between its send and that record
        is sent again by the next process: the documented window, not what these tests look at)."""
        last = self.last_update_id

        def done() -> bool:
            return any(
                method == "getUpdates" and int(params.get("offset") or 0) > last
                for method, params in self.api.calls
            )

        await until(done, f"getUpdates to confirm update {last}")
        sending = "SELECT count(*) FROM outboundmessage WHERE status = 'direct'"
        await until(lambda: self.query(sending) == [(0,)], "replies recorded as sent")

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(self.db)) as connection:
            return connection.execute(sql).fetchall()


@contextlib.asynccontextmanager
async def deployment(tmp_path: Path, *, latency: float = 0.0) -> AsyncIterator[Deployment]:
    async with FakeBotApi(latency=latency) as api:
        deployed = Deployment(tmp_path, api)
        try:
            yield deployed
        finally:
            await deployed.close()


# ------------------------------------------------------------------------------------------------ tests


async def test_officer_onboards_and_submits_a_proposal_with_the_nik_masked_afterwards(tmp_path):
    nik = synthetic_nik(serial=1)
    async with deployment(tmp_path) as d:
        await d.import_roster()
        proc = await d.start()
        await d.onboard(RINA, "Rina Sitohang")

        reply = await d.say(RINA, "/daftar")
        assert "Usulan baru untuk Desa Tomok" in reply.text
        assert "1/6" in reply.text
        reply = await d.say(RINA, nik)
        assert f"NIK {nik} terbaca" in reply.text  # read back once, in full, to catch a typo
        assert "2/6" in reply.text
        birth = await d.say(RINA, "Maruli Sitanggang")
        assert "3/6" in birth.text
        assert "15 Agustus 1990, laki-laki" in birth.text
        category = await d.tap(RINA, birth, "Benar")
        assert "4/6" in category.text
        address = await d.tap(RINA, category, "Petani")
        assert "5/6" in address.text
        phone = await d.say(RINA, ADDRESS)
        assert "6/6" in phone.text
        summary = await d.tap(RINA, phone, "Lewati")
        assert "Ringkasan usulan" in summary.text
        assert f"NIK: {nik}" in summary.text  # shown in full right before Kirim, to compare with the KTP
        assert "Pekerjaan: petani" in summary.text
        done = await d.tap(RINA, summary, "Kirim")

        assert "Usulan U-00001 terkirim" in done.text
        assert "MARULI SITANGGANG" in done.text.upper()
        assert f"NIK {masked(nik)}" in done.text
        pressed = [birth, category, phone, summary]

        # Every press was acknowledged and its keyboard taken away (both run beside the reply).
        await until(lambda: len(d.api.answered) == len(pressed), "answerCallbackQuery for every press")
        assert sorted(d.api.answered) == [str(i) for i in range(1, len(pressed) + 1)]
        retired = {int(e["message_id"]) for e in d.api.edits}
        await until(
            lambda: {m.message_id for m in pressed} <= {int(e["message_id"]) for e in d.api.edits},
            f"editMessageReplyMarkup for {[m.message_id for m in pressed]}, got {retired}",
        )
        for edit in d.api.edits:
            assert not (edit.get("reply_markup") or {}).get("inline_keyboard")

        # Personal data: the full NIK appears in no later message, no button payload, no log line.
        messages = d.api.messages_to(RINA)
        after_summary = messages[[m.message_id for m in messages].index(summary.message_id) + 1 :]
        assert after_summary
        assert all(nik not in m.text for m in after_summary)
        for message in d.api.sent:
            assert nik not in json.dumps(message.reply_markup or {})
            for button in message.buttons:
                assert len(button["callback_data"].encode()) <= 64
        assert all(nik not in json.dumps(params) for method, params in d.api.calls if method != "sendMessage")

        assert d.query("SELECT count(*) FROM proposal") == [(1,)]
        assert d.query("SELECT count(*) FROM conversation") == [(0,)]
        commands = [p["commands"] for m, p in d.api.calls if m == "setMyCommands"]
        assert [c["command"] for c in commands[0]] == [
            "daftar", "daftarku", "status", "antrian", "riwayat", "gagal", "rekap", "ringkasan", "ekspor",
            "siaran", "verifikasi", "batal", "bantuan",
        ]  # fmt: skip
        assert proc.returncode is None  # still serving
        # Stopped the way a service manager does: SIGTERM ends long polling cleanly.
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        log = d.log_text()
        assert nik not in log
        assert "Traceback" not in log


async def test_sigkill_mid_conversation_loses_nothing_and_a_new_process_continues(tmp_path):
    nik = synthetic_nik(serial=7, female=True, day=3, month=2, year=1985)
    async with deployment(tmp_path) as d:
        await d.import_roster()
        first = await d.start()
        await d.onboard(RINA, "Rina Sitohang")
        await d.say(RINA, "/daftar")
        await d.say(RINA, nik)
        birth = await d.say(RINA, "Sondang Siallagan")
        assert "3 Februari 1985, perempuan" in birth.text
        # The reply came after the commit; make sure the update is confirmed too, so what the next
        # process sees is the database, not a re-delivered update.
        await d.confirmed()
        assert d.query("SELECT step FROM conversation") == [("birth",)]
        await d.sigkill(first)

        second = await d.start()
        seen = len(d.api.messages_to(RINA))
        category = await d.tap(RINA, birth, "Benar", START_TIMEOUT)  # shown by the killed process
        assert "4/6" in category.text, category.text
        assert len(d.api.messages_to(RINA)) == seen + 1  # nothing replayed, nothing repeated
        address = await d.tap(RINA, category, "Nelayan")
        assert "5/6" in address.text
        await d.confirmed()
        assert d.query("SELECT step FROM conversation") == [("address",)]
        await d.sigkill(second)

        await d.start()
        phone = await d.say(RINA, ADDRESS, timeout=START_TIMEOUT)  # a typed answer, this time
        assert "6/6" in phone.text, phone.text
        summary = await d.tap(RINA, phone, "Lewati")
        assert f"NIK: {nik}" in summary.text
        assert "SONDANG SIALLAGAN" in summary.text.upper()
        assert "nelayan" in summary.text.lower()
        assert ADDRESS in summary.text
        done = await d.tap(RINA, summary, "Kirim")
        assert "Usulan U-00001 terkirim" in done.text
        assert masked(nik) in done.text
        assert d.query("SELECT count(*) FROM proposal") == [(1,)]
        assert d.query("SELECT count(*) FROM conversation") == [(0,)]
        assert nik not in d.log_text()


async def test_an_answer_is_not_confirmed_to_telegram_before_it_is_recorded(tmp_path):
    """The inbox write comes before the next getUpdates: a crash before it leaves Telegram to resend."""
    nik = synthetic_nik(serial=21)
    async with deployment(tmp_path) as d:
        first = await d.rina_at_the_name_question(nik)
        # Hold SQLite's write lock: the bot receives the answer but cannot record it.
        lock = sqlite3.connect(d.db, isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            seen = len(d.api.messages_to(RINA))
            d.text(RINA, "Sondang Siallagan")
            update_id = d.last_update_id
            await asyncio.sleep(1.0)
            offsets = [int(p.get("offset") or 0) for m, p in d.api.calls if m == "getUpdates"]
            assert max(offsets) <= update_id  # never asked past it: Telegram would deliver it again
            assert len(d.api.messages_to(RINA)) == seen
            await d.sigkill(first)
        finally:
            lock.rollback()
            lock.close()

        await d.start()
        reply = await d.api.next_reply(RINA, START_TIMEOUT)
        assert "3/6" in reply.text, reply.text  # the resent name was taken: now the birth date


async def test_an_answer_recorded_but_not_handled_is_replayed_when_the_bot_starts(tmp_path):
    """What a crash left in the inbox (received, confirmed, not handled) is handled on the next start."""
    from telegram import Update

    from bot.channels.telegram import Inbox
    from bot.services import build_services
    from bot.settings import Settings
    from handlers.engine import Engine

    nik = synthetic_nik(serial=22)
    async with deployment(tmp_path) as d:
        first = await d.rina_at_the_name_question(nik)
        await d.sigkill(first)

        # As if the dead process had recorded the officer's next answer and died before handling it.
        settings = Settings.model_validate({"DATABASE_URL": f"sqlite+aiosqlite:///{d.db}"})
        services = build_services(settings, secret=SECRET)  # as the bot builds them
        update = d.api.text_update(RINA, "Sondang Siallagan")  # never offered by getUpdates
        await Inbox(Engine(services)).record([Update.de_json(update, None)])
        await services.close()
        assert d.query("SELECT count(*) FROM inboundupdate WHERE handled_at IS NULL") == [(1,)]

        await d.start()
        reply = await d.api.next_reply(RINA, START_TIMEOUT)
        assert "3/6" in reply.text, reply.text
        assert "Sondang Siallagan".upper() in d.query("SELECT name FROM proposal")[0][0]
        await until(
            lambda: d.query("SELECT count(*) FROM inboundupdate WHERE handled_at IS NULL") == [(0,)],
            "the replayed update to be marked handled",
        )


async def test_one_users_burst_is_answered_in_order_while_others_run_in_parallel(tmp_path):
    rina_nik = synthetic_nik(serial=11)
    tigor_nik = synthetic_nik(serial=12, day=1, month=1, year=1980)
    # 20 ms per Bot API call: a processor that let a user's next update overtake would show here.
    async with deployment(tmp_path, latency=0.02) as d:
        await d.import_roster()
        await d.start()
        await asyncio.gather(d.onboard(RINA, "Rina Sitohang"), d.onboard(TIGOR, "Tigor Manik"))
        api = d.api
        base = {user: len(api.messages_to(user)) for user in (RINA, TIGOR, JONSON)}

        # Pushed back to back, without waiting: they arrive in one getUpdates batch. The camat onboards
        # at the same moment.
        for text in ("/daftar", rina_nik, "Rina Ngolu Sinaga"):
            d.text(RINA, text)
            d.text(TIGOR, {rina_nik: tigor_nik, "Rina Ngolu Sinaga": "Tigor Parulian"}.get(text, text))
        d.text(JONSON, "/start")
        d.contact(JONSON, PHONES[JONSON])

        rina, tigor, jonson = await asyncio.gather(
            api.wait_for(RINA, base[RINA] + 3, START_TIMEOUT),
            api.wait_for(TIGOR, base[TIGOR] + 3, START_TIMEOUT),
            api.wait_for(JONSON, base[JONSON] + 2, START_TIMEOUT),
        )
        for replies, nik in ((rina[base[RINA] :], rina_nik), (tigor[base[TIGOR] :], tigor_nik)):
            texts = [m.text for m in replies]
            assert "1/6" in texts[0], texts
            assert f"NIK {nik} terbaca" in texts[1], texts
            assert "2/6" in texts[1], texts
            assert "3/6" in texts[2], texts
            assert replies[2].buttons  # the birth-date step, with its buttons
        assert "Bagikan nomor HP" in jonson[base[JONSON]].text
        assert "Terima kasih, Jonson Simbolon. Anda terdaftar sebagai camat" in jonson[base[JONSON] + 1].text

        # A second burst, typed answers only, all the way to Kirim.
        base = {user: len(api.messages_to(user)) for user in (RINA, TIGOR)}
        for text in ("benar", "petani", ADDRESS, "lewati", "kirim"):
            d.text(RINA, text)
            d.text(TIGOR, text)
        rina, tigor = await asyncio.gather(
            api.wait_for(RINA, base[RINA] + 5, STEP_TIMEOUT),
            api.wait_for(TIGOR, base[TIGOR] + 5, STEP_TIMEOUT),
        )
        numbers = set()
        for replies, nik in ((rina[base[RINA] :], rina_nik), (tigor[base[TIGOR] :], tigor_nik)):
            texts = [m.text for m in replies]
            for text, expected in zip(
                texts, ("4/6", "5/6", "6/6", "Ringkasan usulan", "terkirim"), strict=True
            ):
                assert expected in text, texts
            assert masked(nik) in texts[4]
            numbers.add(texts[4].split("Usulan ", 1)[1].split(" ", 1)[0])
        assert numbers == {"U-00001", "U-00002"}
        await asyncio.sleep(0.2)  # nothing more arrives: one reply per update
        assert len(api.messages_to(RINA)) == base[RINA] + 5
        assert len(api.messages_to(TIGOR)) == base[TIGOR] + 5


@pytest.mark.parametrize(
    ("missing", "settings"),
    [
        ("TELEGRAM_BOT_TOKEN", {"LANJUTKAN_SECRET": SECRET}),
        ("LANJUTKAN_SECRET", {"TELEGRAM_BOT_TOKEN": TOKEN}),
    ],
)
async def test_run_without_a_required_setting_exits_with_a_short_error(tmp_path, missing, settings):
    env = (
        base_env()
        | settings
        | {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "TELEGRAM_API_URL": "http://127.0.0.1:9/bot",  # never reached: the bot must stop before
        }
    )
    result = await cli("run", env=env, cwd=tmp_path, timeout=30)

    assert result.returncode != 0
    assert missing in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error:")
    assert len(result.stderr) < 300


@pytest.mark.parametrize(
    ("missing", "settings"),
    [
        ("TELEGRAM_BOT_TOKEN", {"LANJUTKAN_SECRET": SECRET}),
        ("LANJUTKAN_SECRET", {"TELEGRAM_BOT_TOKEN": TOKEN}),
    ],
)
async def test_run_configuration_error_is_exactly_one_line(tmp_path, missing, settings):
    env = base_env() | settings | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}
    result = await cli("run", env=env, cwd=tmp_path, timeout=30)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert missing in lines[0]


BAD_ROSTER = (
    "nama,peran,kode_wilayah,no_hp\n"
    "Rina Sitohang,operator,12.17.01.2001,081200000101\n"  # line 2: good
    "Bonar Ketua,ketua,12.17.01,081200000401\n"  # line 3: unknown role
    "Asep Sunarya,operator,32.01.01.2001,081200000402\n"  # line 4: outside kabupaten 12.17
    "Jonson Simbolon,camat,12.17.01,+62 812-0000-0201\n"  # line 5: good
    "Tiur Camat,camat,12.17.01.2001,081200000403\n"  # line 6: camat with a desa code
    "Salah Nomor,operator,12.17.01.2002,12345\n"  # line 7: bad phone
    "Maria Naibaho,dinas,12.17,6281200000301\n"  # line 8: good
)


async def test_officers_import_reports_bad_rows_by_line_and_reimport_updates(tmp_path):
    env = base_env() | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "LANJUTKAN_SECRET": SECRET,
    }
    roster = tmp_path / "roster.csv"
    roster.write_text(BAD_ROSTER, encoding="utf-8")

    result = await cli("officers", "import", str(roster), env=env, cwd=tmp_path, merge=True)

    assert result.returncode != 0  # something was rejected: a script running this must notice
    assert "Traceback" not in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    problems = {int(line.split(":")[0].split()[1]): line for line in lines if line.startswith("line ")}
    assert sorted(problems) == [3, 4, 6, 7], lines
    assert "ketua" in problems[3]
    assert "32.01.01.2001" in problems[4]
    assert "12.17" in problems[4]
    assert "camat" in problems[6]
    assert "kecamatan" in problems[6]
    assert "12345" in problems[7]
    assert lines[-1] == (
        "officers: 3 added, 0 updated, 0 unchanged, 0 deactivated, 4 rejected (7 rows in roster.csv)"
    ), lines
    db = tmp_path / "bot.db"
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute("SELECT name, phone FROM officer ORDER BY phone").fetchall()
    assert rows == [
        ("Rina Sitohang", "+6281200000101"),
        ("Jonson Simbolon", "+6281200000201"),
        ("Maria Naibaho", "+6281200000301"),
    ]

    # The same file again: nothing changes, nothing is duplicated.
    again = await cli("officers", "import", str(roster), env=env, cwd=tmp_path, merge=True)
    assert again.stdout.strip().splitlines()[-1] == (
        "officers: 0 added, 0 updated, 3 unchanged, 0 deactivated, 4 rejected (7 rows in roster.csv)"
    )
    with contextlib.closing(sqlite3.connect(db)) as connection:
        assert connection.execute("SELECT count(*) FROM officer").fetchone() == (3,)

    # An XLSX roster where Excel made the phone a number (the leading 0 is gone), of two of the
    # officers: `--partial` keeps the others.
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["nama", "peran", "kode_wilayah", "no_hp"])
    sheet.append(["Rina Sitohang Br. Manik", "operator", "12.17.01.2001", 81200000101])  # renamed
    sheet.append(["Tigor Manik", "operator", "12.17.01.2001", 81200000102])  # new
    xlsx = tmp_path / "roster.xlsx"
    workbook.save(xlsx)

    result = await cli("officers", "import", str(xlsx), "--partial", env=env, cwd=tmp_path, merge=True)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == (
        "officers: 1 added, 1 updated, 0 unchanged, 0 deactivated, 0 rejected (2 rows in roster.xlsx)"
    )
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute("SELECT name, phone FROM officer ORDER BY phone").fetchall()
    assert rows[:2] == [("Rina Sitohang Br. Manik", "+6281200000101"), ("Tigor Manik", "+6281200000102")]
    assert len(rows) == 4


async def test_officers_import_reports_a_cell_that_looks_like_markup(tmp_path):
    env = base_env() | {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"}
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "nama,peran,kode_wilayah,no_hp\n"
        "Rina Sitohang,operator,12.17.01.2001,081200000101\n"
        "Bonar,[/x],12.17.01,081200000401\n",
        encoding="utf-8",
    )
    result = await cli("officers", "import", str(roster), env=env, cwd=tmp_path, merge=True)

    assert "Traceback" not in result.stdout
    assert "line 3:" in result.stdout
    assert "[/x]" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("officers: 1 added")


async def test_a_wrong_token_or_unreachable_api_is_one_line_and_never_echoes_the_token(tmp_path):
    wrong = "7000000001:revoked-token"  # synthetic
    async with FakeBotApi() as api:
        env = base_env() | {
            "TELEGRAM_BOT_TOKEN": wrong,
            "TELEGRAM_API_URL": api.base_url,
            "LANJUTKAN_SECRET": SECRET,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        }
        refused = await cli("run", env=env, cwd=tmp_path, merge=True)
    assert refused.returncode != 0
    assert (
        refused.stdout.strip().splitlines()[-1]
        == "error: Telegram refused TELEGRAM_BOT_TOKEN: check it with @BotFather"
    )
    assert "Traceback" not in refused.stdout
    assert wrong not in refused.stdout
    assert "revoked-token" not in refused.stdout

    env = env | {"TELEGRAM_API_URL": "http://127.0.0.1:9/bot", "TELEGRAM_BOT_TOKEN": TOKEN}
    unreachable = await cli("run", env=env, cwd=tmp_path, merge=True)
    assert unreachable.returncode != 0
    assert unreachable.stdout.strip().splitlines()[-1].startswith("error: cannot reach the Bot API at")
    assert "Traceback" not in unreachable.stdout


async def test_run_with_a_bad_database_url_or_log_level_is_one_line(tmp_path):
    for name, value in (("DATABASE_URL", "garbage"), ("LANJUTKAN_LOG_LEVEL", "verbose")):
        env = base_env() | {"TELEGRAM_BOT_TOKEN": TOKEN, "LANJUTKAN_SECRET": SECRET, name: value}
        result = await cli("run", env=env, cwd=tmp_path)
        assert result.returncode != 0
        assert result.stderr.startswith(f"error: {name}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


async def test_run_without_any_chat_app_or_with_half_a_whatsapp_is_one_line(tmp_path):
    env = base_env() | {
        "LANJUTKAN_SECRET": SECRET,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}",
    }
    neither = await cli("run", env=env, cwd=tmp_path)
    assert neither.returncode != 0
    assert neither.stderr.startswith("error: no chat app is configured"), neither.stderr
    assert len(neither.stderr.strip().splitlines()) == 1

    half = env | {"WHATSAPP_TOKEN": "synthetic-token", "WHATSAPP_PHONE_ID": "100200300"}
    result = await cli("run", env=half, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "error: WhatsApp is half configured: WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN not set "
        "(see .env.example)"
    )
    assert "synthetic-token" not in result.stderr


async def test_a_port_in_use_is_one_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with FakeBotApi() as api:
            env = base_env() | {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": api.base_url,
                "LANJUTKAN_SECRET": SECRET,
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                "LANJUTKAN_PORT": str(port),
            }
            result = await cli("run", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr
