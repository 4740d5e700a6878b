"""`python -m bot demo` driven by a script on stdin, as a person at the terminal would type it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import synthetic_nik

REPO = Path(__file__).resolve().parents[2]
NIK = synthetic_nik(district="121701", day=15, month=8, year=1990, serial=7)  # 15 Aug 1990, Simanindo
MASKED = "1217••••••••0007"
PROMPT = re.compile(r"\n\[(?:operator|camat|dinas)\] > ")

# Buttons print as "[1] ✅ Benar": a number presses the button shown last, 0 shares the contact.
SCRIPT = [
    "/start",
    "0",  # 📱 share my number (the persona's roster phone)
    "/daftar",
    NIK,
    "Budi Santoso",
    "1",  # ✅ Benar (birth date and gender as read from the NIK)
    "1",  # Petani
    "Dusun II, RT 002/RW 001",
    "1",  # Lewati (no phone)
    "1",  # ✅ Kirim
    "/daftarku",
    "/persona camat",
    "/start",
    "0",
    "/status U-00001",
    "/keluar",
]


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str
    replies: list[tuple[str, str]]  # (line typed, what the terminal printed after it)

    def reply_to(self, line: str, occurrence: int = 0) -> str:
        return [reply for typed, reply in self.replies if typed == line][occurrence]


def run_demo(folder: Path, lines: list[str] | None) -> DemoRun:
    """Run the demo in ``folder`` with its database there; ``None`` closes stdin at once."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANJUTKAN_", "TELEGRAM_")) and k not in {"DATABASE_URL", "TZ"}
    }
    env.update(PYTHONPATH=str(REPO), PYTHONUTF8="1", PYTHONIOENCODING="utf-8")
    stdin = "".join(f"{line}\n" for line in lines or [])
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--database", str(folder / "demo.db")],
        cwd=folder,
        env=env,
        input=stdin.encode(),
        capture_output=True,
        timeout=90,
    )
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    segments = PROMPT.split(stdout)
    # segments[0] is the greeting; segment k is what followed the k-th line read.
    return DemoRun(done.returncode, stdout, stderr, list(zip(lines or [], segments[1:], strict=False)))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="module")
def first_run(folder: Path) -> DemoRun:
    return run_demo(folder, SCRIPT)


def test_the_scripted_demo_ends_normally(first_run):
    assert first_run.returncode == 0, first_run.stderr
    assert "Traceback" not in first_run.stderr
    assert len(first_run.replies) == len(SCRIPT)
    assert "Sampai jumpa." in first_run.reply_to("/keluar")


def test_the_operator_is_recognised_by_the_shared_contact(first_run):
    assert "[0] 📱 Bagikan nomor HP saya" in first_run.reply_to("/start")
    welcome = first_run.reply_to("0")
    assert "Rina Demo" in welcome
    assert "Desa Tomok, Kec. Simanindo" in welcome


def test_the_intake_reads_the_nik_and_sends_the_proposal(first_run):
    assert "Desa Tomok, Kec. Simanindo" in first_run.reply_to("/daftar")
    read_back = first_run.reply_to(NIK)
    assert "15 Agustus 1990" in read_back
    assert "laki-laki" in read_back
    assert "[1] ✅ Benar" in first_run.reply_to("Budi Santoso")
    assert "[1] Petani" in first_run.reply_to("1", 0)
    assert "[1] Lewati" in first_run.reply_to("Dusun II, RT 002/RW 001")
    summary = first_run.reply_to("1", 2)
    assert "BUDI SANTOSO" in summary
    assert "[1] ✅ Kirim" in summary

    sent = first_run.reply_to("1", 3)
    assert "Usulan U-00001 terkirim" in sent
    assert MASKED in sent
    # Where Telegram deletes the typed NIK and masks the read-back and summary, the terminal says so
    assert "🔒 (di Telegram: 1 pesan NIK Anda dihapus, 2 pesan bot dengan NIK lengkap disamarkan" in sent


def test_daftarku_lists_the_proposal_by_number(first_run):
    listed = first_run.reply_to("/daftarku")

    assert "U-00001 — BUDI SANTOSO — menunggu persetujuan camat" in listed


def test_the_camat_sees_the_proposal_with_the_nik_masked(first_run):
    assert "Jonson Demo (camat)" in first_run.reply_to("/persona camat")
    assert "camat — Kec. Simanindo" in first_run.reply_to("0", 1)

    status = first_run.reply_to("/status U-00001")
    assert "Usulan U-00001" in status
    assert f"NIK: {MASKED}" in status
    assert "BUDI SANTOSO" in status
    assert "menunggu persetujuan camat" in status


def test_the_full_nik_is_not_shown_again_once_sent(first_run):
    after_sending = [reply for _, reply in first_run.replies[SCRIPT.index("/daftarku") - 1 :]]

    assert NIK not in "".join(after_sending)
    assert NIK not in first_run.stderr


def test_a_second_run_on_the_same_database_continues_and_ends_at_end_of_input(folder, first_run):
    assert first_run.returncode == 0

    again = run_demo(folder, ["/start", "/daftarku", "/status U-00001"])  # no /keluar: stdin just ends

    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert "Terima kasih, Rina Demo" in again.reply_to("/start")  # still bound from the first run
    assert "U-00001 — BUDI SANTOSO" in again.reply_to("/daftarku")
    assert MASKED in again.reply_to("/status U-00001")  # the demo's secret was kept
    assert "Sampai jumpa." not in again.stdout
    with sqlite3.connect(folder / "demo.db") as db:
        assert db.execute("SELECT phone FROM officer ORDER BY phone").fetchall() == [
            ("+6281200000001",),
            ("+6281200000002",),
            ("+6281200000003",),
        ]
        assert db.execute("SELECT count(*) FROM proposal").fetchone() == (1,)


def test_end_of_input_at_once_ends_cleanly(tmp_path):
    empty = run_demo(tmp_path, None)

    assert empty.returncode == 0, empty.stderr
    assert empty.stderr == ""
    assert "Perintah demo" in empty.stdout
    assert (tmp_path / "demo.db").exists()


# The approval path: the camat and the dinas join after the proposal, find it in /antrian and decide.
APPROVAL_SCRIPT = [
    *SCRIPT[: SCRIPT.index("/daftarku")],  # the operator onboards and sends U-00001
    "/persona camat",
    "/start",
    "0",  # joins: told one proposal waits
    "/antrian",
    "1",  # U-00001: its card
    "1",  # ✅ Setujui
    "/persona dinas",
    "/start",
    "0",
    "/antrian",
    "1",  # U-00001
    "3",  # 🔎 Lihat NIK
    "1",  # 🏁 Tetapkan (the card's buttons stay pressable after the NIK)
    "/ringkasan",  # this week's summary, with the chart saved as a file
    "/persona operator",  # two notices waiting in the operator's mailbox
    "/riwayat U-00001",
    "/keluar",
]


def test_the_demo_runs_the_approval_path_end_to_end(tmp_path):
    """Camat approves from /antrian, the dinas sees the NIK and establishes, the operator reads both."""
    run = run_demo(tmp_path, APPROVAL_SCRIPT)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    replies = [reply for _, reply in run.replies]
    at = APPROVAL_SCRIPT.index("/persona camat")
    assert "1 usulan menunggu keputusan Anda" in replies[at + 2]
    queue = replies[at + 3]
    assert "Antrian Kec. Simanindo: 1 usulan menunggu" in queue
    assert "[1] U-00001" in queue
    card = replies[at + 4]
    assert f"NIK: {MASKED}" in card
    assert "[1] ✅ Setujui" in card
    assert "Disetujui oleh Camat Jonson Demo" in replies[at + 5]
    at = APPROVAL_SCRIPT.index("/persona dinas")
    assert "[1] 🏁 Tetapkan" in replies[at + 4]
    assert "Disetujui oleh Camat Jonson Demo" in replies[at + 4]
    assert f"NIK usulan U-00001 (BUDI SANTOSO): {NIK}" in replies[at + 5]  # the dinas asked for it
    assert "Ditetapkan oleh Diskopnaker Maria Demo" in replies[at + 6]
    summary = replies[APPROVAL_SCRIPT.index("/ringkasan")]
    assert "📊 Ringkasan mingguan LANJUTKAN — Kabupaten Samosir" in summary
    assert "1 usulan baru · 1 disetujui camat · 1 ditetapkan" in summary
    chart = re.search(r"🖼 (\S+grafik-ringkasan\.png)", summary)
    assert chart is not None
    assert (tmp_path / chart.group(1)).read_bytes().startswith(b"\x89PNG")
    mailbox = replies[APPROVAL_SCRIPT.index("/persona operator")]
    assert "2 pesan masuk" in mailbox
    assert "disetujui Camat Jonson Demo" in mailbox
    assert "ditetapkan oleh Diskopnaker Maria Demo" in mailbox
    history = replies[APPROVAL_SCRIPT.index("/riwayat U-00001")]
    assert "Diskopnaker Maria Demo: membuka NIK lengkap" in history
    assert "Diskopnaker Maria Demo: menetapkan → ditetapkan" in history
    assert NIK not in run.stderr
