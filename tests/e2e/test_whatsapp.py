"""End to end on WhatsApp: the real `lanjutkan run` as a subprocess with only WhatsApp configured, driven by
signed webhook posts to its HTTP server, sending to a fake Cloud API on loopback.

Nothing touches the internet; every number and NIK is synthetic (0812-0000-xxxx numbers are nobody's).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import synthetic_nik
from tests.e2e.test_run import ROSTER_CSV, SECRET, START_TIMEOUT, STEP_TIMEOUT, base_env, cli, masked, until
from tests.fakewhatsapp import APP_SECRET, PHONE_ID, TOKEN, VERIFY_TOKEN, FakeWhatsApp, SentMessage, Webhook
from tests.pgcluster import free_port

pytestmark = pytest.mark.e2e

RINA = "6281200000101"  # operator of Desa Tomok
TIGOR = "6281200000102"  # another operator of Desa Tomok
JONSON = "6281200000201"  # camat of Simanindo
STRANGER = "6281299999999"  # on no roster
ADDRESS = "Dusun II, RT 002/RW 001"


class WhatsAppDeployment:
    """One installation with WhatsApp only: a SQLite file, the settings, its bot processes, its port."""

    def __init__(self, root: Path, fake: FakeWhatsApp) -> None:
        self.root = root
        self.fake = fake
        self.db = root / "bot.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
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
        }
        self.processes: list[asyncio.subprocess.Process] = []
        self.logs: list[Path] = []
        self.http = httpx.AsyncClient(base_url=self.url, timeout=10.0)

    async def import_roster(self, csv_text: str = ROSTER_CSV) -> None:
        roster = self.root / "roster.csv"
        roster.write_text(csv_text, encoding="utf-8")
        result = await cli("officers", "import", str(roster), env=self.env, cwd=self.root)
        assert result.returncode == 0, result.stdout + result.stderr

    async def start(self) -> asyncio.subprocess.Process:
        log = self.root / f"bot-{len(self.logs)}.log"
        with log.open("wb") as sink:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=self.root, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        self.processes.append(proc)
        self.logs.append(log)
        await until(self._healthy, "the bot's /healthz", START_TIMEOUT)
        return proc

    def _healthy(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            return True
        return False

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    async def close(self) -> None:
        await self.http.aclose()
        for proc in self.processes:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)

    async def post(self, webhook: Webhook, *, retry: bool = True) -> httpx.Response:
        """Deliver a webhook as Meta does: again while the bot answers 503 (starting, stopping)."""
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while True:
            response = await self.http.post("/whatsapp", content=webhook.body, headers=webhook.headers)
            if response.status_code != 503 or not retry or asyncio.get_running_loop().time() > deadline:
                return response
            await asyncio.sleep(0.05)

    async def say(self, wa_id: str, text: str, *, count: int = 1) -> list[SentMessage]:
        """Type ``text`` and wait for ``count`` messages back."""
        have = len(self.fake.messages_to(wa_id))
        response = await self.post(self.fake.text_update(wa_id, text))
        assert response.status_code == 200, response.text
        return (await self.fake.wait_for(wa_id, have + count, STEP_TIMEOUT))[have:]

    async def tap(self, wa_id: str, message: SentMessage, title: str, *, count: int = 1) -> list[SentMessage]:
        """Press a reply button, or pick a list row, whose title contains ``title``."""
        have = len(self.fake.messages_to(wa_id))
        if message.interactive_type == "list":
            row = next(r for r in message.rows if title.lower() in (r.title + (r.description or "")).lower())
            webhook = self.fake.list_reply(wa_id, row.id, row.title, message.wamid)
        else:
            webhook = self.fake.press(wa_id, message, title)
        response = await self.post(webhook)
        assert response.status_code == 200, response.text
        return (await self.fake.wait_for(wa_id, have + count, STEP_TIMEOUT))[have:]

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with contextlib.closing(sqlite3.connect(self.db)) as connection:
            return connection.execute(sql).fetchall()


@contextlib.asynccontextmanager
async def deployment(tmp_path: Path, **fake_options: object) -> AsyncIterator[WhatsAppDeployment]:
    async with FakeWhatsApp(**fake_options) as fake:  # type: ignore[arg-type]
        deployed = WhatsAppDeployment(tmp_path, fake)
        try:
            yield deployed
        finally:
            await deployed.close()


def find(messages: list[SentMessage], part: str) -> SentMessage:
    for message in messages:
        if part in message.text:
            return message
    raise AssertionError(f"no message with {part!r} in {[m.text[:60] for m in messages]}")


async def submit_proposal(d: WhatsAppDeployment, wa_id: str, nik: str) -> str:
    """An operator's whole intake through buttons and lists; the confirmation's text."""
    [start] = await d.say(wa_id, "daftar")
    assert "Usulan baru untuk Desa Tomok" in start.text
    [nik_read] = await d.say(wa_id, nik)
    assert f"NIK {nik} terbaca" in nik_read.text
    [birth] = await d.say(wa_id, "Maruli Sitanggang")
    assert "15 Agustus 1990, laki-laki" in birth.text
    categories = await d.tap(wa_id, birth, "Benar", count=2)  # eleven categories: two lists
    assert all(m.interactive_type == "list" for m in categories)
    assert sum(len(m.rows) for m in categories) == 11
    [address] = await d.tap(wa_id, categories[0], "Petani")
    assert "5/6" in address.text
    [phone] = await d.say(wa_id, ADDRESS)
    assert "6/6" in phone.text
    [summary] = await d.tap(wa_id, phone, "Lewati")
    assert f"NIK: {nik}" in summary.text
    [done] = await d.tap(wa_id, summary, "Kirim")
    return done.text


# ------------------------------------------------------------------------------------------------ tests


async def test_meta_verification_answers_the_challenge_only_with_the_verify_token(tmp_path):
    async with deployment(tmp_path) as d:
        await d.start()
        good = await d.http.get("/whatsapp", params=d.fake.verify_challenge(challenge="1158201444"))
        assert (good.status_code, good.text) == (200, "1158201444")
        bad = await d.http.get("/whatsapp", params=d.fake.verify_challenge(verify_token="guess"))
        assert bad.status_code == 403
        assert "1158201444" not in bad.text
        health = await d.http.get("/healthz")
        assert health.status_code == 200


async def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(tmp_path):
    async with deployment(tmp_path) as d:
        await d.import_roster()
        await d.start()
        webhook = d.fake.text_update(RINA, "daftar")
        missing = await d.post(d.fake.forged(webhook, missing=True), retry=False)
        forged = await d.post(d.fake.forged(webhook), retry=False)
        assert (missing.status_code, forged.status_code) == (401, 403)
        await asyncio.sleep(0.3)
        assert d.query("SELECT count(*) FROM inboundupdate") == [(0,)]
        assert d.fake.messages_to(RINA) == []


async def test_a_rostered_number_is_recognised_from_its_first_message_and_proposes(tmp_path):
    nik = synthetic_nik(serial=1)
    async with deployment(tmp_path) as d:
        await d.import_roster()
        await d.start()
        welcome = await d.say(RINA, "Halo", count=1)
        assert "Rina Sitohang" in welcome[0].text
        # The role's menu is a list the person presses, not a keyboard
        menu = welcome[-1] if welcome[-1].interactive_type == "list" else (await d.fake.wait_for(RINA, 2))[1]
        assert menu.interactive_type == "list"
        assert any("Daftarkan pekerja" in row.title for row in menu.rows)

        done = await submit_proposal(d, RINA, nik)
        assert "Usulan U-00001 terkirim" in done
        assert f"NIK {masked(nik)}" in done
        assert d.query("SELECT status FROM proposal") == [("menunggu_camat",)]
        # No NIK in the log, nor in any button or row id sent; no secret in the log
        logged = d.log_text()
        assert nik not in logged
        assert all(secret not in logged for secret in (TOKEN, APP_SECRET, VERIFY_TOKEN))
        assert "whatsapp" in logged  # the bot did log (its start names the channels)
        for message in d.fake.messages_to(RINA):
            assert all(nik not in b.id for b in message.buttons)
            assert all(nik not in r.id for r in message.rows)


async def test_an_unknown_number_is_refused_politely_and_a_hidden_number_is_told_why(tmp_path):
    async with deployment(tmp_path) as d:
        await d.import_roster()
        await d.start()
        [refusal] = await d.say(STRANGER, "daftar")
        assert "belum terdaftar sebagai petugas" in refusal.text
        assert "Diskopnaker" in refusal.text  # whom to ask
        have = len(d.fake.messages_to("ID.hidden001"))
        response = await d.post(d.fake.username_text_update("ID.hidden001", "daftar"))
        assert response.status_code == 200
        [hidden] = (await d.fake.wait_for("ID.hidden001", have + 1))[have:]
        assert "nama pengguna" in hidden.text
        assert d.query("SELECT count(*) FROM chataccount WHERE officer_id IS NOT NULL") == [(0,)]


async def test_a_repeated_delivery_is_applied_once_and_answered_200(tmp_path):
    async with deployment(tmp_path) as d:
        await d.import_roster()
        await d.start()
        await d.say(RINA, "halo")
        webhook = d.fake.text_update(RINA, "daftar")
        have = len(d.fake.messages_to(RINA))
        first, again = await d.post(webhook), await d.post(webhook)
        assert (first.status_code, again.status_code) == (200, 200)
        await d.fake.wait_for(RINA, have + 1)
        await asyncio.sleep(0.5)
        assert len(d.fake.messages_to(RINA)) == have + 1
        assert d.query("SELECT count(*) FROM proposal") == [(1,)]


async def test_a_kill_after_the_200_loses_nothing(tmp_path):
    nik = synthetic_nik(serial=2)
    async with deployment(tmp_path) as d:
        await d.import_roster()
        bot = await d.start()
        await d.say(RINA, "halo")
        await d.say(RINA, "daftar")
        # Meta's API stops answering: the bot has the NIK committed and answered 200, its reply hangs.
        d.fake.time_out_next(1, wa_id=RINA)
        response = await d.post(d.fake.text_update(RINA, nik))
        assert response.status_code == 200
        await until(lambda: d.query("SELECT count(*) FROM inboundupdate") == [(3,)], "the NIK in the inbox")
        bot.kill()
        await bot.wait()
        have = len(d.fake.messages_to(RINA))
        await d.start()
        [read_back] = (await d.fake.wait_for(RINA, have + 1, START_TIMEOUT))[have:]
        assert f"NIK {nik} terbaca" in read_back.text
        [birth] = await d.say(RINA, "Maruli Sitanggang")
        assert "15 Agustus 1990" in birth.text


async def test_a_camat_outside_the_window_gets_a_template_answers_it_and_decides(tmp_path):
    nik = synthetic_nik(serial=3)
    async with deployment(tmp_path) as d:
        await d.import_roster()
        await d.start()
        await d.say(RINA, "halo")
        await submit_proposal(d, RINA, nik)
        # Jonson never wrote: the card waits behind one template, sent to his roster number
        [template] = await d.fake.wait_for(JONSON, 1, STEP_TIMEOUT)
        assert template.type == "template"
        assert template.template_params == ["1"]
        waiting = f"SELECT status FROM outboundmessage WHERE chat_id = '{JONSON}' AND NOT reply"
        await until(
            lambda: d.query(waiting) == [("waiting",)], "the card waiting (recorded after the template)"
        )
        assert not d.fake.messages_to(JONSON, failed=True)  # never free-form outside the window

        answer = d.fake.quick_reply_from_template(JONSON, "buka", "Buka", template.wamid)
        assert (await d.post(answer)).status_code == 200
        await until(
            lambda: any("U-00001" in m.text and m.buttons for m in d.fake.messages_to(JONSON)), "the card"
        )
        card = find([m for m in d.fake.messages_to(JONSON) if m.buttons], "U-00001")
        welcome = find(d.fake.messages_to(JONSON), "Terima kasih, Jonson Simbolon")
        assert d.fake.messages_to(JONSON).index(welcome) < d.fake.messages_to(JONSON).index(card)
        assert nik not in card.text
        have = len(d.fake.messages_to(JONSON))
        response = await d.post(d.fake.press(JONSON, card, "Setujui"))
        assert response.status_code == 200
        outcome = (await d.fake.wait_for(JONSON, have + 1, STEP_TIMEOUT))[have:]
        assert outcome
        await until(
            lambda: d.query("SELECT status FROM proposal") == [("menunggu_dinas",)], "the camat's approval"
        )
        # The old card's button, pressed again, is answered in words
        have = len(d.fake.messages_to(JONSON))
        await d.post(d.fake.press(JONSON, card, "Setujui"))
        [stale] = (await d.fake.wait_for(JONSON, have + 1, STEP_TIMEOUT))[have:]
        assert "sudah" in stale.text.lower()


async def test_both_chat_apps_in_one_process_and_an_officer_bound_on_both(tmp_path):
    """Rina uses Telegram and WhatsApp; Jonson only Telegram: his card goes there, not to his number."""
    from tests.e2e.test_run import JONSON as JONSON_TG
    from tests.e2e.test_run import PHONES
    from tests.e2e.test_run import RINA as RINA_TG
    from tests.fakebotapi import TOKEN as TELEGRAM_TOKEN
    from tests.fakebotapi import FakeBotApi

    nik = synthetic_nik(serial=4)
    async with FakeBotApi() as telegram, deployment(tmp_path) as d:
        d.env |= {"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_API_URL": telegram.base_url}
        await d.import_roster()
        await d.start()
        for user in (RINA_TG, JONSON_TG):
            telegram.send_text(user, "/start")
            await telegram.wait_for(user, 1, START_TIMEOUT)
            telegram.send_contact(user, PHONES[user])
            await telegram.wait_for(user, 2, STEP_TIMEOUT)
        await d.say(RINA, "halo")
        accounts = d.query("SELECT channel FROM chataccount WHERE officer_id IS NOT NULL ORDER BY channel")
        assert accounts == [("telegram",), ("telegram",), ("whatsapp",)]

        await submit_proposal(d, RINA, nik)
        await until(
            lambda: any("U-00001" in m.text for m in telegram.messages_to(JONSON_TG)), "the card on Telegram"
        )
        await asyncio.sleep(1.0)
        assert d.fake.messages_to(JONSON) == []  # bound on Telegram: no template to his number


async def test_run_serves_readiness_metrics_and_json_logs(tmp_path):
    """/readyz 200 (database at head, WhatsApp's last webhook and call), /metrics counting the update
    answered, and LANJUTKAN_LOG_FORMAT=json lines naming it, from the real `lanjutkan run`."""
    import json

    async with deployment(tmp_path) as d:
        d.env |= {"LANJUTKAN_LOG_FORMAT": "json"}
        await d.import_roster()
        await d.start()
        await d.say(RINA, "Halo")

        ready = await d.http.get("/readyz")
        assert ready.status_code == 200, ready.text
        whatsapp = ready.json()["channels"]["whatsapp"]
        assert whatsapp["last_webhook"] is not None
        assert whatsapp["last_api_ok"] is not None  # the answer went out through the Cloud API

        async def answered() -> bool:
            text = (await d.http.get("/metrics")).text  # from loopback: allowed by default
            return 'lanjutkan_updates_total{channel="whatsapp",outcome="answered"} 1.0' in text

        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
        while not await answered():  # counted once the replies are sent, after the fake saw them
            assert asyncio.get_running_loop().time() < deadline, "no answered update in /metrics"
            await asyncio.sleep(0.05)
        forwarded = await d.http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
        assert forwarded.status_code == 403  # what the reverse proxy passes on is refused

        lines = [json.loads(line) for line in d.log_text().splitlines() if line.strip()]  # every line
        assert {"time", "level", "logger", "message"} <= set(lines[0])
        assert all(secret not in d.log_text() for secret in (TOKEN, APP_SECRET, VERIFY_TOKEN))
