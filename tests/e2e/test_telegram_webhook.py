"""End to end: Telegram in webhook mode. The real `lanjutkan run` as a subprocess, updates posted to its
``POST /telegram`` as Telegram posts them (with the secret header), replies sent to the fake Bot API.

Nothing touches the internet; every person, number and NIK is synthetic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import synthetic_nik
from tests.e2e.test_run import (
    PHONES,
    RINA,
    ROSTER_CSV,
    SECRET,
    START_TIMEOUT,
    STEP_TIMEOUT,
    base_env,
    cli,
    until,
)
from tests.fakebotapi import TOKEN, FakeBotApi, SentMessage
from tests.pgcluster import free_port

pytestmark = pytest.mark.e2e

HOOK_SECRET = "synthetic_webhook-secret_0123456789"
HOOK_URL = "https://bot.example.go.id/telegram"


class Deployment:
    """A bot installation in webhook mode (or polling, with ``webhook=False``) on a SQLite file."""

    def __init__(self, root: Path, api: FakeBotApi) -> None:
        self.root = root
        self.api = api
        self.db = root / "bot.db"
        self.port = free_port()
        self.env = base_env() | {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.db}",
            "LANJUTKAN_SECRET": SECRET,
            "LANJUTKAN_PORT": str(self.port),
            "LANJUTKAN_SCHEDULED_MESSAGES": "false",
        }
        self.hook = {"TELEGRAM_WEBHOOK_URL": HOOK_URL, "TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET}
        self.processes: list[asyncio.subprocess.Process] = []
        self.logs: list[Path] = []
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10.0)

    async def import_roster(self) -> None:
        roster = self.root / "roster.csv"
        roster.write_text(ROSTER_CSV, encoding="utf-8")
        result = await cli("officers", "import", str(roster), env=self.env, cwd=self.root)
        assert result.returncode == 0, result.stdout + result.stderr

    async def start(self, *, webhook: bool = True) -> asyncio.subprocess.Process:
        log = self.root / f"bot-{len(self.logs)}.log"
        env = self.env | (self.hook if webhook else {})
        with log.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=self.root, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(proc)
        self.logs.append(log)
        if webhook:
            await until(lambda: self.api.webhook is not None, "setWebhook", START_TIMEOUT)
        return proc

    async def stop(self, proc: asyncio.subprocess.Process) -> None:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0

    async def close(self) -> None:
        await self.http.aclose()
        for proc in self.processes:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)

    async def post(self, update: dict[str, Any], *, secret: str | None = HOOK_SECRET) -> httpx.Response:
        """Post an update as Telegram does: again while the bot answers 503 (starting)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        for _ in range(200):
            response = await self.http.post("/telegram", content=json.dumps(update), headers=headers)
            if response.status_code != 503:
                return response
            await asyncio.sleep(0.05)
        return response

    async def say(self, user: int, text: str) -> SentMessage:
        have = len(self.api.messages_to(user))
        response = await self.post(self.api.text_update(user, text))
        assert response.status_code == 200, response.text
        return (await self.api.wait_for(user, have + 1, STEP_TIMEOUT))[have]

    async def onboard(self, user: int) -> None:
        await self.say(user, "/start")
        have = len(self.api.messages_to(user))
        response = await self.post(self.api.contact_update(user, PHONES[user]))
        assert response.status_code == 200
        welcome = (await self.api.wait_for(user, have + 1, STEP_TIMEOUT))[have]
        assert "Terima kasih, Rina Sitohang." in welcome.text

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(self.db)) as connection:
            return connection.execute(sql).fetchall()


@contextlib.asynccontextmanager
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with FakeBotApi() as api:
        deployed = Deployment(tmp_path, api)
        try:
            yield deployed
        finally:
            await deployed.close()


async def test_webhook_mode_registers_itself_and_answers_updates_posted_with_the_secret(tmp_path):
    async with deployment(tmp_path) as d:
        await d.import_roster()
        await d.start()
        hook = d.api.webhook
        assert hook is not None
        assert hook["url"] == HOOK_URL
        assert hook["secret_token"] == HOOK_SECRET
        assert list(hook["allowed_updates"]) == ["message", "callback_query"]
        assert int(hook["max_connections"]) == 40
        await d.onboard(RINA)
        reply = await d.say(RINA, "/daftar")
        assert "Usulan baru untuk Desa Tomok" in reply.text
        assert not any(method == "getUpdates" for method, _ in d.api.calls)  # no polling
        logged = "\n".join(p.read_text() for p in d.logs)
        assert HOOK_SECRET not in logged


async def test_a_request_without_the_right_secret_changes_nothing(tmp_path):
    async with deployment(tmp_path) as d:
        await d.import_roster()
        await d.start()
        update = d.api.text_update(RINA, "/start")
        wrong = await d.post(update, secret="not-the-secret-at-all")
        missing = await d.post(update, secret=None)
        assert (wrong.status_code, missing.status_code) == (403, 403)
        await asyncio.sleep(0.3)
        assert d.query("SELECT count(*) FROM inboundupdate") == [(0,)]
        assert d.api.messages_to(RINA) == []


async def test_an_update_committed_before_the_200_survives_a_kill(tmp_path):
    nik = synthetic_nik(serial=11)
    async with deployment(tmp_path) as d:
        await d.import_roster()
        bot = await d.start()
        await d.onboard(RINA)
        await d.say(RINA, "/daftar")
        d.api.time_out_next(1, chat_id=RINA)  # the reply hangs: the NIK is in the inbox, answered 200
        response = await d.post(d.api.text_update(RINA, nik))
        assert response.status_code == 200
        await until(lambda: len(d.query("SELECT * FROM inboundupdate")) == 4, "the NIK in the inbox")
        bot.kill()
        await bot.wait()
        have = len(d.api.messages_to(RINA))
        await d.start()
        read_back = (await d.api.wait_for(RINA, have + 1, START_TIMEOUT))[have]
        assert f"NIK {nik} terbaca" in read_back.text


async def test_many_posts_at_once_are_each_recorded_and_answered_once(tmp_path):
    """As Telegram posts with up to max_connections at once: updates recorded together (one write for
    those that arrive during another) are each committed before their 200 and answered once."""
    people = range(5001, 5041)
    async with deployment(tmp_path) as d:
        await d.import_roster()
        await d.start()
        await d.post(d.api.text_update(people[0], "/start"))  # started: no 503 to post again below
        await d.api.wait_for(people[0], 1, STEP_TIMEOUT)
        responses = await asyncio.gather(*(d.post(d.api.text_update(p, "/start")) for p in people[1:]))
        assert {r.status_code for r in responses} == {200}
        for person in people:
            [welcome] = await d.api.wait_for(person, 1, STEP_TIMEOUT)
            assert welcome.text.startswith("Selamat datang di layanan LANJUTKAN")
        await asyncio.sleep(0.3)  # a second answer, if any, would come now
        assert all(len(d.api.messages_to(p)) == 1 for p in people)
        assert d.query("SELECT count(*), count(handled_at) FROM inboundupdate") == [(40, 40)]


async def test_switching_between_webhook_and_polling_both_ways(tmp_path):
    async with deployment(tmp_path) as d:
        await d.import_roster()
        hooked = await d.start()
        await d.onboard(RINA)
        await d.stop(hooked)

        polling = await d.start(webhook=False)
        await until(lambda: d.api.webhook is None, "deleteWebhook before polling", START_TIMEOUT)
        have = len(d.api.messages_to(RINA))
        d.api.send_text(RINA, "/bantuan")
        assert (await d.api.wait_for(RINA, have + 1, START_TIMEOUT))[have].text
        await d.stop(polling)

        await d.start()
        reply = await d.say(RINA, "/daftar")
        assert "Usulan baru untuk Desa Tomok" in reply.text


async def test_webhook_settings_that_cannot_work_are_one_line(tmp_path):
    env = base_env() | {"TELEGRAM_BOT_TOKEN": TOKEN, "LANJUTKAN_SECRET": SECRET}
    plain = await cli("run", env=env | {"TELEGRAM_WEBHOOK_URL": "http://bot.example/telegram"}, cwd=tmp_path)
    assert plain.returncode != 0
    assert plain.stderr.startswith("error: TELEGRAM_WEBHOOK_URL must be a public https:// URL")
    no_secret = await cli("run", env=env | {"TELEGRAM_WEBHOOK_URL": HOOK_URL}, cwd=tmp_path)
    assert no_secret.returncode != 0
    assert no_secret.stderr.startswith("error: TELEGRAM_WEBHOOK_SECRET must be set")
    assert len(no_secret.stderr.strip().splitlines()) == 1
