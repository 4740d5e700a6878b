"""`lanjutkan officers import` (authoritative, --dry-run, --partial) and `lanjutkan officers deactivate` as
subprocesses, as the dinas runs them. Names and 0812-0000-xxxx numbers are synthetic."""

from __future__ import annotations

import contextlib
import sqlite3

from tests.e2e.test_program_data_cli import env_for, query
from tests.e2e.test_run import cli

ROSTER = (
    "nama,peran,kode_wilayah,no_hp\n"
    "Rina Sitohang,operator,12.17.01.2001,081200000101\n"
    "Jonson Simbolon,camat,12.17.01,081200000201\n"
    "Maria Naibaho,dinas,12.17,081200000301\n"
)
WITHOUT_JONSON = ROSTER.replace("Jonson Simbolon,camat,12.17.01,081200000201\n", "")
JONSON_LINE = "Jonson Simbolon, camat, Kec. Simanindo (12.17.01), 0812••••0201"


def bind(tmp_path, phone: str, user_id: int) -> None:
    """A Telegram account bound to the officer, as onboarding leaves it."""
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as connection:
        connection.execute(
            "INSERT INTO chataccount (channel, external_id, chat_id, officer_id, bound_at) "
            "SELECT 'telegram', ?, ?, id, '2026-11-24 02:00:00.000000' FROM officer WHERE phone = ?",
            (str(user_id), str(user_id), phone),
        )
        connection.commit()


def active(tmp_path) -> dict[str, tuple[int, bool]]:
    rows = query(tmp_path, "SELECT name, active, deactivated_at IS NOT NULL FROM officer")
    return {name: (flag, stamped) for name, flag, stamped in rows}


async def write_and_import(tmp_path, text: str, *options: str):  # type: ignore[no-untyped-def]
    roster = tmp_path / "roster.csv"
    roster.write_text(text, encoding="utf-8")
    return await cli(
        "officers", "import", str(roster), *options, env=env_for(tmp_path), cwd=tmp_path, merge=True
    )


async def test_a_reimport_deactivates_who_is_absent_after_a_dry_run_and_partial_keeps_them(tmp_path):
    first = await write_and_import(tmp_path, ROSTER)
    assert first.returncode == 0, first.stdout
    assert first.stdout.strip().splitlines()[-1] == (
        "officers: 3 added, 0 updated, 0 unchanged, 0 deactivated, 0 rejected (3 rows in roster.csv)"
    )
    bind(tmp_path, "+6281200000201", 2001)

    dry = await write_and_import(tmp_path, WITHOUT_JONSON, "--dry-run")
    assert dry.returncode == 0, dry.stdout
    lines = dry.stdout.strip().splitlines()
    assert lines[-2] == (
        f"deactivated: {JONSON_LINE}; 1 chat account(s) unbound: they share their number with the bot again"
    )
    assert lines[-1] == (
        "dry run, nothing saved: officers: 0 added, 0 updated, 2 unchanged, 1 deactivated, 0 rejected "
        "(2 rows in roster.csv)"
    )
    assert active(tmp_path)["Jonson Simbolon"] == (1, False)
    assert query(tmp_path, "SELECT count(*) FROM chataccount WHERE officer_id IS NOT NULL") == [(1,)]

    partial = await write_and_import(tmp_path, WITHOUT_JONSON, "--partial")
    assert partial.returncode == 0, partial.stdout
    assert partial.stdout.strip().splitlines()[-1] == (
        "officers: 0 added, 0 updated, 2 unchanged, 0 deactivated, 0 rejected (2 rows in roster.csv)"
    )
    assert active(tmp_path)["Jonson Simbolon"] == (1, False)

    done = await write_and_import(tmp_path, WITHOUT_JONSON)
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().splitlines()[-1] == (
        "officers: 0 added, 0 updated, 2 unchanged, 1 deactivated, 0 rejected (2 rows in roster.csv)"
    )
    assert f"deactivated: {JONSON_LINE}; 1 chat account(s) unbound" in done.stdout
    assert active(tmp_path) == {
        "Rina Sitohang": (1, False),
        "Jonson Simbolon": (0, True),
        "Maria Naibaho": (1, False),
    }
    assert query(tmp_path, "SELECT count(*) FROM chataccount WHERE officer_id IS NOT NULL") == [(0,)]

    back = await write_and_import(tmp_path, ROSTER)
    assert f"reactivated: {JONSON_LINE}" in back.stdout
    assert back.stdout.strip().splitlines()[-1] == (
        "officers: 0 added, 1 updated, 2 unchanged, 0 deactivated, 0 rejected (3 rows in roster.csv)"
    )
    assert active(tmp_path)["Jonson Simbolon"] == (1, False)


async def test_a_file_with_rejected_rows_deactivates_nobody(tmp_path):
    await write_and_import(tmp_path, ROSTER)

    result = await write_and_import(tmp_path, WITHOUT_JONSON + "Bonar Ketua,ketua,12.17.01,081200000401\n")

    assert result.returncode == 1
    assert "line 4:" in result.stdout
    assert "nobody deactivated: fix the rejected rows and import the file again" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == (
        "officers: 0 added, 0 updated, 2 unchanged, 0 deactivated, 1 rejected (3 rows in roster.csv)"
    )
    assert active(tmp_path)["Jonson Simbolon"] == (1, False)


async def test_officers_deactivate_by_any_phone_form_and_an_unknown_number_is_one_line(tmp_path):
    await write_and_import(tmp_path, ROSTER)
    bind(tmp_path, "+6281200000201", 2001)
    env = env_for(tmp_path)

    result = await cli("officers", "deactivate", "+62 812-0000-0201", env=env, cwd=tmp_path, merge=True)

    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == (
        f"deactivated: {JONSON_LINE}; 1 chat account(s) unbound: they share their number with the bot again"
    )
    assert active(tmp_path)["Jonson Simbolon"] == (0, True)
    assert query(tmp_path, "SELECT officer_id, bound_at FROM chataccount") == [(None, None)]

    again = await cli("officers", "deactivate", "081200000201", env=env, cwd=tmp_path, merge=True)
    assert again.returncode == 0
    assert again.stdout.strip() == f"already inactive: {JONSON_LINE}"

    unknown = await cli("officers", "deactivate", "0813 9999 0000", env=env, cwd=tmp_path, merge=True)
    assert unknown.returncode == 1
    assert unknown.stdout.strip() == "error: no officer with phone 0813••••0000 on the roster"

    garbage = await cli("officers", "deactivate", "nomor saya", env=env, cwd=tmp_path, merge=True)
    assert garbage.returncode != 0
    assert garbage.stdout.strip() == "error: 'nomor saya' is not an Indonesian phone number"
    assert "Traceback" not in unknown.stdout + garbage.stdout
