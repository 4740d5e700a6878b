"""End to end: several bot processes on one PostgreSQL database (Telegram in webhook mode).

Two `lanjutkan run` processes on two ports stand for two workers behind a proxy, so a test decides which
one gets each update; `lanjutkan run --workers 2` is tested for what its supervisor does (one port, a
worker killed and started again, SIGTERM). Nothing touches the internet; all data is synthetic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _create_pg_database, synthetic_nik
from tests.e2e.test_run import (
    JONSON,
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
from tests.e2e.test_telegram_webhook import HOOK_SECRET, HOOK_URL
from tests.fakebotapi import TOKEN, FakeBotApi, SentMessage
from tests.pgcluster import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


class Workers:
    """One installation on PostgreSQL, its bot processes each on a port of its own."""

    def __init__(self, root: Path, api: FakeBotApi, url: str) -> None:
        self.root = root
        self.api = api
        self.env = base_env() | {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": api.base_url,
            "TELEGRAM_WEBHOOK_URL": HOOK_URL,
            "TELEGRAM_WEBHOOK_SECRET": HOOK_SECRET,
            "DATABASE_URL": url,
            "LANJUTKAN_SECRET": SECRET,
            "LANJUTKAN_SCHEDULED_MESSAGES": "false",
        }
        self.processes: list[asyncio.subprocess.Process] = []
        self.ports: dict[int, int] = {}  # pid -> port
        self.logs: list[Path] = []
        self.http = httpx.AsyncClient(timeout=10.0)

    async def prepare(self) -> None:
        result = await cli("db", "upgrade", env=self.env, cwd=self.root)
        assert result.returncode == 0, result.stderr
        roster = self.root / "roster.csv"
        roster.write_text(ROSTER_CSV, encoding="utf-8")
        result = await cli("officers", "import", str(roster), env=self.env, cwd=self.root)
        assert result.returncode == 0, result.stdout + result.stderr

    async def start(self, *args: str, port: int | None = None) -> asyncio.subprocess.Process:
        port = port or free_port()
        log = self.root / f"bot-{len(self.logs)}.log"
        with log.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", *args, cwd=self.root,
                env=self.env | {"LANJUTKAN_PORT": str(port)},
                stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(proc)
        self.ports[proc.pid] = port
        self.logs.append(log)
        await until(lambda: self.api.webhook is not None, "setWebhook", START_TIMEOUT)
        await self._ready(port)
        return proc

    async def _ready(self, port: int) -> None:
        for _ in range(int(START_TIMEOUT / 0.05)):
            with contextlib.suppress(httpx.HTTPError):
                if (await self.http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no /healthz on port {port}")

    async def post(self, proc: asyncio.subprocess.Process, update: dict[str, Any]) -> httpx.Response:
        """Post an update to one process's /telegram, as Telegram does through a proxy."""
        url = f"http://127.0.0.1:{self.ports[proc.pid]}/telegram"
        for _ in range(200):
            response = await self.http.post(
                url, content=json.dumps(update), headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}
            )
            if response.status_code != 503:
                return response
            await asyncio.sleep(0.05)
        return response

    async def say(self, proc: asyncio.subprocess.Process, user: int, text: str) -> SentMessage:
        have = len(self.api.messages_to(user))
        assert (await self.post(proc, self.api.text_update(user, text))).status_code == 200
        return (await self.api.wait_for(user, have + 1, STEP_TIMEOUT))[have]

    async def press(self, proc: asyncio.subprocess.Process, user: int, label: str) -> SentMessage:
        """Press ``label`` on the last message with buttons; the answer."""
        message = next(m for m in reversed(self.api.messages_to(user)) if m.buttons)
        have = len(self.api.messages_to(user))
        update = self.api.press_update(user, message, message.button(label)["callback_data"])
        assert (await self.post(proc, update)).status_code == 200
        return (await self.api.wait_for(user, have + 1, STEP_TIMEOUT))[have]

    async def onboard(self, proc: asyncio.subprocess.Process, user: int) -> None:
        await self.say(proc, user, "/start")
        have = len(self.api.messages_to(user))
        assert (await self.post(proc, self.api.contact_update(user, PHONES[user]))).status_code == 200
        await self.api.wait_for(user, have + 1, STEP_TIMEOUT)

    async def stop(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM, as systemd or a deploy sends it: the process finishes and exits 0."""
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 40) == 0

    async def close(self) -> None:
        await self.http.aclose()
        for proc in self.processes:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)


@contextlib.asynccontextmanager
async def workers(tmp_path: Path, pg_cluster: Any) -> AsyncIterator[Workers]:
    if pg_cluster is None:
        pytest.skip("no PostgreSQL server to start: install its binaries (apt-get install postgresql)")
    url = await _create_pg_database(pg_cluster)
    async with FakeBotApi() as api:
        deployed = Workers(tmp_path, api, url)
        await deployed.prepare()
        try:
            yield deployed
        finally:
            await deployed.close()


async def test_one_persons_rapid_answers_alternating_between_two_processes_are_applied_in_order(
    tmp_path, pg_cluster
):
    nik = synthetic_nik(serial=41)
    async with workers(tmp_path, pg_cluster) as w:
        one, two = await w.start(), await w.start()
        await w.onboard(one, RINA)
        have = len(w.api.messages_to(RINA))
        # Sent without waiting for the answers, each to the other process
        for proc, text in ((one, "/daftar"), (two, nik), (one, "Maruli Sitanggang")):
            assert (await w.post(proc, w.api.text_update(RINA, text))).status_code == 200
        answers = (await w.api.wait_for(RINA, have + 3, STEP_TIMEOUT))[have:]
        assert "Usulan baru untuk Desa Tomok" in answers[0].text
        assert f"NIK {nik} terbaca" in answers[1].text
        assert "15 Agustus 1990, laki-laki" in answers[2].text  # the name came after the NIK, as typed


async def test_at_kirim_the_nik_messages_are_masked_whichever_process_sent_them(tmp_path, pg_cluster):
    """Each answer to the other process (as a proxy may send them): at Kirim the officer's NIK message is
    deleted and the read-back and summary, sent by other processes, are masked."""
    nik = synthetic_nik(serial=45)
    async with workers(tmp_path, pg_cluster) as w:
        procs = [await w.start(), await w.start()]
        await w.onboard(procs[0], RINA)
        await w.say(procs[0], RINA, "/daftar")
        typed, have = w.api.text_update(RINA, nik), len(w.api.messages_to(RINA))
        assert (await w.post(procs[1], typed)).status_code == 200
        read_back = (await w.api.wait_for(RINA, have + 1, STEP_TIMEOUT))[have]
        assert f"NIK {nik} terbaca" in read_back.text
        await w.say(procs[0], RINA, "Maruli Sitanggang")
        await w.press(procs[1], RINA, "Benar")
        await w.press(procs[0], RINA, "Petani")
        await w.say(procs[1], RINA, "Dusun II, RT 002/RW 001")
        summary = await w.press(procs[0], RINA, "Lewati")  # sent by the first, Kirim goes to the second
        assert nik in summary.text
        done = await w.press(procs[1], RINA, "Kirim")
        assert "Usulan U-00001 terkirim" in done.text

        def shown() -> list[str]:
            return [m.text for m in w.api.messages_to(RINA) if nik in m.text]

        await until(lambda: not shown(), "the NIK messages masked", STEP_TIMEOUT)
        assert (RINA, typed["message"]["message_id"]) in w.api.deleted
        masked = [
            str(edit["text"])
            for edit in w.api.edits
            if "text" in edit and int(edit.get("message_id", 0)) in (read_back.message_id, summary.message_id)
        ]
        assert len(masked) == 2, masked
        assert all("NIK disamarkan" in text for text in masked), masked


async def test_a_worker_killed_mid_conversation_loses_nothing_and_the_other_sends_the_cards(
    tmp_path, pg_cluster
):
    nik = synthetic_nik(serial=42)
    async with workers(tmp_path, pg_cluster) as w:
        one, two = await w.start(), await w.start()
        await w.onboard(one, JONSON)
        await w.onboard(one, RINA)
        await w.say(one, RINA, "/daftar")
        await w.say(two, RINA, nik)
        one.send_signal(signal.SIGKILL)  # whichever held the outbox lease, the other takes it over
        await one.wait()
        birth = await w.say(two, RINA, "Maruli Sitanggang")
        assert "15 Agustus 1990" in birth.text
        await w.press(two, RINA, "Benar")
        await w.press(two, RINA, "Petani")
        await w.say(two, RINA, "Dusun II, RT 002/RW 001")
        await w.press(two, RINA, "Lewati")
        done = await w.press(two, RINA, "Kirim")
        assert "Usulan U-00001 terkirim" in done.text
        # The camat's card goes out through the outbox of the process left, within the lease's seconds
        await until(
            lambda: any("U-00001" in m.text for m in w.api.messages_to(JONSON)), "the card", START_TIMEOUT
        )


async def test_workers_share_one_port_a_killed_worker_is_started_again_and_sigterm_stops_all(
    tmp_path, pg_cluster
):
    async with workers(tmp_path, pg_cluster) as w:
        port = free_port()
        supervisor = await w.start("--workers", "2", port=port)
        children = await _children(supervisor.pid, 2)
        os.kill(children[0], signal.SIGKILL)
        await until(lambda: "starting it again" in w.logs[0].read_text(), "the restart", START_TIMEOUT)
        again = await _children(supervisor.pid, 2)
        assert children[0] not in again
        await w._ready(port)
        await w.onboard(supervisor, RINA)  # served on the shared port
        supervisor.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(supervisor.wait(), 40) == 0
        alive = await asyncio.to_thread(lambda: [pid for pid in again if Path(f"/proc/{pid}").exists()])
        assert alive == []  # every worker stopped (and was waited for) before the supervisor exited


def _children_now(pid: int) -> list[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid and fields[0] != "Z":
                    found.append(int(entry.name))
    return sorted(found)


async def _children(pid: int, count: int) -> list[int]:
    """The worker processes of a supervisor, once ``count`` of them run."""
    found: list[int] = []
    for _ in range(int(START_TIMEOUT / 0.1)):
        found = await asyncio.to_thread(_children_now, pid)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{count} workers of {pid}, found {found}")


async def test_workers_on_sqlite_are_refused_in_one_line(tmp_path):
    env = base_env() | {"TELEGRAM_BOT_TOKEN": TOKEN, "LANJUTKAN_SECRET": SECRET}
    result = await cli("run", "--workers", "2", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.startswith("error: --workers needs PostgreSQL"), result.stderr


async def test_whatsapp_webhooks_alternating_between_two_processes_are_applied_in_order(tmp_path, pg_cluster):
    from tests.fakewhatsapp import APP_SECRET, PHONE_ID, VERIFY_TOKEN, FakeWhatsApp
    from tests.fakewhatsapp import TOKEN as WA_TOKEN

    if pg_cluster is None:
        pytest.skip("no PostgreSQL server to start: install its binaries (apt-get install postgresql)")
    url = await _create_pg_database(pg_cluster)
    rina = "6281200000101"
    nik = synthetic_nik(serial=43)
    async with FakeWhatsApp() as fake, FakeBotApi() as api:
        w = Workers(tmp_path, api, url)
        for name in (
            "TELEGRAM_BOT_TOKEN",
            "TELEGRAM_API_URL",
            "TELEGRAM_WEBHOOK_URL",
            "TELEGRAM_WEBHOOK_SECRET",
        ):
            del w.env[name]
        w.env |= {
            "WHATSAPP_PHONE_ID": PHONE_ID,
            "WHATSAPP_TOKEN": WA_TOKEN,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_API_URL": fake.base_url,
        }
        await w.prepare()
        try:
            ports = [free_port(), free_port()]
            for port in ports:
                log = tmp_path / f"wa-{port}.log"
                with log.open("wb") as sink:
                    w.processes.append(
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            "-m",
                            "bot",
                            "run",
                            cwd=tmp_path,
                            env=w.env | {"LANJUTKAN_PORT": str(port)},
                            stdin=asyncio.subprocess.DEVNULL,
                            stdout=sink,
                            stderr=asyncio.subprocess.STDOUT,
                        )
                    )
                await w._ready(port)

            async def post(port: int, text: str) -> None:
                webhook = fake.text_update(rina, text)
                for _ in range(200):
                    response = await w.http.post(
                        f"http://127.0.0.1:{port}/whatsapp", content=webhook.body, headers=webhook.headers
                    )
                    if response.status_code != 503:
                        break
                    await asyncio.sleep(0.05)
                assert response.status_code == 200

            await post(ports[0], "halo")
            await fake.wait_for(rina, 1, STEP_TIMEOUT)
            have = len(fake.messages_to(rina))
            for port, text in ((ports[0], "daftar"), (ports[1], nik), (ports[0], "Maruli Sitanggang")):
                await post(port, text)
            answers = (await fake.wait_for(rina, have + 3, STEP_TIMEOUT))[have:]
            assert "Usulan baru untuk Desa Tomok" in answers[0].text
            assert f"NIK {nik} terbaca" in answers[1].text
            assert "15 Agustus 1990, laki-laki" in answers[2].text
        finally:
            await w.close()


async def test_a_rolling_restart_loses_nothing(tmp_path, pg_cluster):
    """Two processes restarted one after the other (SIGTERM, start again) while the officer goes on:
    every answer arrives once, in order; each stop exits 0."""
    nik = synthetic_nik(serial=44)
    async with workers(tmp_path, pg_cluster) as w:
        one, two = await w.start(), await w.start()
        await w.onboard(one, RINA)
        started = await w.say(one, RINA, "/daftar")
        assert "Usulan baru" in started.text
        stopping = asyncio.create_task(w.stop(one))  # a deploy restarts the first
        read_back = await w.say(two, RINA, nik)  # meanwhile the proxy sends to the other
        assert f"NIK {nik} terbaca" in read_back.text
        await stopping
        one = await w.start()
        await w.stop(two)
        birth = await w.say(one, RINA, "Maruli Sitanggang")
        assert "15 Agustus 1990, laki-laki" in birth.text
        texts = [m.text for m in w.api.messages_to(RINA)]
        assert sum(f"NIK {nik} terbaca" in t for t in texts) == 1  # nothing answered twice


async def test_scheduled_messages_go_once_from_two_processes(tmp_path, pg_cluster):
    """Both processes catch up the weekly summary due today at start: each officer gets it once."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    async with workers(tmp_path, pg_cluster) as w:
        one = await w.start()
        await w.onboard(one, RINA)
        await w.onboard(one, JONSON)
        await w.stop(one)
        today = dt.datetime.now(ZoneInfo("Asia/Jakarta")).strftime("%a").lower()
        w.env |= {
            "LANJUTKAN_SCHEDULED_MESSAGES": "true",
            "LANJUTKAN_SUMMARY_DAY": today,
            "LANJUTKAN_SUMMARY_TIME": "00:00",
        }
        await asyncio.gather(w.start(), w.start())

        def summaries(user: int) -> list[str]:
            return [m.text for m in w.api.messages_to(user) if m.text.startswith("📊 Ringkasan mingguan")]

        await until(lambda: summaries(RINA) and summaries(JONSON), "the summaries", START_TIMEOUT)
        await asyncio.sleep(2.0)  # a second copy, if any, would have come by now
        assert (len(summaries(RINA)), len(summaries(JONSON))) == (1, 1)
