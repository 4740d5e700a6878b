"""`lanjutkan verification start|show|export` as subprocesses, as the dinas runs them (synthetic NIKs)."""

from __future__ import annotations

import contextlib
import sqlite3
import stat

import openpyxl

from tests.conftest import synthetic_nik
from tests.e2e.test_run import SECRET, base_env, cli

NIKS = [synthetic_nik(serial=21), synthetic_nik(serial=22), synthetic_nik(district="121708", serial=23)]


def env_for(tmp_path):
    return base_env() | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "LANJUTKAN_SECRET": SECRET,
    }


def query(tmp_path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as connection:
        rows = connection.execute(sql).fetchall()
        connection.commit()
        return rows


async def imported(tmp_path) -> dict[str, str]:
    env = env_for(tmp_path)
    path = tmp_path / "peserta.csv"
    path.write_text(
        "NIK;nama;desa;kategori;mulai\n"
        f"{NIKS[0]};Andi Gultom;12.17.01.2001;petani;01-01-2025\n"
        f"{NIKS[1]};Bertha Siallagan;12.17.01.2001;nelayan;01-01-2025\n"
        f"{NIKS[2]};Doris Malau;12.17.08.2001;petani;01-01-2026\n",
        encoding="utf-8",
    )
    result = await cli("participants", "import", str(path), env=env, cwd=tmp_path, merge=True)
    assert result.returncode == 0, result.stdout
    return env


async def test_start_refuses_a_second_round_then_show_and_export(tmp_path):
    env = await imported(tmp_path)

    started = await cli(
        "verification", "start", "--year", "2027", "--due", "2027-01-31", env=env, cwd=tmp_path
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().startswith(
        "verification 2027 started: 3 participants in 2 desa, due 2027-01-31"
    )
    again = await cli("verification", "start", "--year", "2027", "--due", "2027-01-31", env=env, cwd=tmp_path)
    assert again.returncode != 0
    assert again.stderr.strip().splitlines() == [
        "error: a verification round of 2027 is already open: see `lanjutkan verification show`"
    ]
    assert query(tmp_path, "SELECT count(*) FROM verificationitem") == [(3,)]
    assert query(tmp_path, "SELECT action, actor IS NOT NULL FROM programaudit") == [
        ("verification_start", 1)
    ]

    # The round as the chat leaves it: Andi still qualifies, Bertha removed (dinas confirmed)
    names = [name for (name,) in query(tmp_path, "SELECT name FROM verificationitem ORDER BY id")]
    query(tmp_path, "UPDATE verificationitem SET status = 'lanjut', version = 1 WHERE id = 1")
    query(
        tmp_path,
        "UPDATE verificationitem SET status = 'keluar', version = 3, reason = 'meninggal' WHERE id = 2",
    )
    shown = await cli("verification", "show", env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = [line.strip() for line in shown.stdout.splitlines()]
    assert "verification 2027 (open), due 2027-01-31: 2/3 checked" in lines
    assert "Kec. Simanindo: 2/2" in lines
    assert "Tomok: 2/2 done" in lines
    assert "Kec. Pangururan: 0/1" in lines
    assert "removed: 1" in lines
    assert any(line.startswith("places freed: 1") for line in lines)
    assert not [n for n in NIKS if n in shown.stdout]

    continuing, removed = tmp_path / "lanjut.xlsx", tmp_path / "keluar.xlsx"
    files = ["--continuing", str(continuing), "--removed", str(removed)]
    exported = await cli("verification", "export", "--year", "2027", *files, env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert f"1 rows written to {continuing}" in exported.stdout
    rows = list(openpyxl.load_workbook(continuing).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("NIK", "Nama")
    assert [r[:2] for r in rows[1:]] == [(NIKS[0], names[0])]
    gone = list(openpyxl.load_workbook(removed).active.iter_rows(values_only=True))
    assert [(r[0], r[1], r[6]) for r in gone[1:]] == [(NIKS[1], names[1], "meninggal dunia")]
    for path in (continuing, removed):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert query(tmp_path, "SELECT kind, rows, channel FROM exportrecord ORDER BY id") == [
        ("verif_lanjut", 1, "cli"),
        ("verif_keluar", 1, "cli"),
    ]

    twice = await cli(
        "verification", "export", "--year", "2027", "--removed", str(removed), env=env, cwd=tmp_path
    )
    assert twice.returncode != 0
    assert "exists" in twice.stderr

    closed = await cli("verification", "close", "--year", "2027", env=env, cwd=tmp_path)
    assert closed.stdout.strip() == "verification 2027 closed"
    again = await cli("verification", "close", "--year", "2027", env=env, cwd=tmp_path)
    assert again.stderr.strip().splitlines() == ["error: no open verification round of 2027"]
    assert query(tmp_path, "SELECT closed_at IS NOT NULL FROM verificationround") == [(1,)]


async def test_one_line_errors(tmp_path):
    env = await imported(tmp_path)
    bad = await cli("verification", "start", "--year", "2027", "--due", "31 Januari", env=env, cwd=tmp_path)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        "error: --due '31 Januari': not a date (YYYY-MM-DD or DD-MM-YYYY)"
    ]
    none = await cli(
        "verification",
        "export",
        "--year",
        "2030",
        "--removed",
        str(tmp_path / "x.xlsx"),
        env=env,
        cwd=tmp_path,
    )
    assert none.returncode != 0
    assert none.stderr.strip().splitlines() == ["error: no verification round of 2030"]
    assert "Traceback" not in bad.stderr + none.stderr
