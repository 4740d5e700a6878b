"""`lanjutkan bpjs import` as a subprocess, as the dinas runs it on BPJS's result file.

Files are made by the tests; NIKs and participation numbers are synthetic.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from models import store
from models.tables import ChatAccount
from tests.conftest import OPERATOR_PHONE, SECRET, make_services, seed_roster, synthetic_nik
from tests.e2e.test_run import base_env, cli
from tests.files import xlsx
from tests.models.test_bpjs_import import ANDO, BUDI, HEADER, KPJ_BUDI, RIA, STRANGER, seed

pytestmark = pytest.mark.e2e


def query(db: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return connection.execute(sql).fetchall()


async def prepared(tmp_path: Path) -> tuple[dict[str, str], Path, dict[str, int]]:
    """A migrated database with the roster, three established proposals, Rina bound on Telegram."""
    db = tmp_path / "bot.db"
    env = base_env() | {"DATABASE_URL": f"sqlite+aiosqlite:///{db}", "LANJUTKAN_SECRET": SECRET}
    assert (await cli("db", "upgrade", env=env, cwd=tmp_path)).returncode == 0
    services = make_services(f"sqlite+aiosqlite:///{db}")
    await seed_roster(services)
    ids = await seed(services)
    async with services.sessions() as session:
        rina = await store.officer_by_phone(session, phone=OPERATOR_PHONE)
        assert rina is not None
        session.add(ChatAccount(channel="telegram", external_id="10101", chat_id="10101", officer_id=rina.id))
        await session.commit()
    await services.close()
    return env, db, ids


async def test_bpjs_import_refuses_a_bad_file_by_line_then_records_a_good_one_once(tmp_path: Path):
    env, db, ids = await prepared(tmp_path)
    bad = tmp_path / "hasil-bpjs.csv"
    with bad.open("w", encoding="utf-8", newline="") as sink:
        csv.writer(sink).writerows(
            [
                HEADER,
                [BUDI, KPJ_BUDI, "1 Februari 2026", "berhasil", ""],
                [ANDO, "", "", "gagal", "Nama tidak sesuai NIK"],
                [RIA, "26010000423", "31/02/2026", "berhasil", ""],  # line 4: broken date
                [STRANGER, "26010000499", "2026-02-01", "berhasil", ""],  # line 5: no established proposal
                [synthetic_nik(serial=98)[:12], "26010000498", "2026-02-01", "berhasil", ""],  # line 6
            ]
        )

    refused = await cli("bpjs", "import", str(bad), env=env, cwd=tmp_path, merge=True)

    assert refused.returncode == 1
    assert "Traceback" not in refused.stdout
    problems = [line for line in refused.stdout.splitlines() if line.startswith("baris ")]
    assert problems == [
        "baris 4: tanggal efektif '31/02/2026' tidak terbaca: tulis sebagai 01-02-2026, 2026-02-01 atau "
        "1 Februari 2026",
        "baris 5: NIK tidak dikenal: tidak ada usulan yang ditetapkan dengan NIK ini",
        "baris 6: NIK kurang dari 16 angka (12 angka): angka depannya mungkin hilang karena kolom berformat "
        "angka. Format kolom NIK sebagai Teks",
    ]
    assert refused.stdout.strip().splitlines()[-1] == (
        "bpjs: nothing recorded, 3 rejected (5 rows in hasil-bpjs.csv); "
        "fix them, or record the good rows with --skip-bad"
    )
    for nik in (BUDI, ANDO, RIA, STRANGER, synthetic_nik(serial=98)[:12]):
        assert nik not in refused.stdout
    assert query(db, "SELECT count(*) FROM proposal WHERE bpjs_status IS NOT NULL") == [(0,)]
    assert query(db, "SELECT count(*) FROM activeparticipant") == [(0,)]
    assert query(db, "SELECT count(*) FROM programaudit") == [(0,)]

    good = xlsx(
        tmp_path / "hasil-bpjs.xlsx",
        [
            ["NIK", "Nomor Kepesertaan", "Tanggal Efektif", "Status", "Keterangan"],
            [BUDI, KPJ_BUDI, dt.datetime(2026, 2, 1), "berhasil", None],
            [ANDO, None, None, "gagal", "Nama tidak sesuai NIK"],
        ],
    )
    done = await cli("bpjs", "import", str(good), env=env, cwd=tmp_path, merge=True)

    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().splitlines()[-1] == (
        "bpjs: 1 registered (1 new active participants, 1 notices queued), 1 failed, 0 unchanged, "
        "0 rejected (2 rows in hasil-bpjs.xlsx)"
    )
    assert query(db, "SELECT bpjs_status, bpjs_effective, bpjs_note FROM proposal ORDER BY id") == [
        ("berhasil", "2026-02-01", None),
        ("gagal", None, "Nama tidak sesuai NIK"),
        (None, None, None),
        (None, None, None),
    ]
    assert query(db, "SELECT name, coverage_start, proposal_id FROM activeparticipant") == [
        ("BUDI SANTOSO", "2026-02-01", ids[BUDI])
    ]
    [(text, chat_id, purpose)] = query(db, "SELECT text, chat_id, purpose FROM outboundmessage")
    assert text == (
        f"✅ U-{ids[BUDI]:05d} (BUDI SANTOSO) sudah terdaftar di BPJS Ketenagakerjaan sejak 1 Februari 2026."
    )
    assert (chat_id, purpose) == ("10101", "notice")
    [(action, subject, actor)] = query(db, "SELECT action, subject, actor FROM programaudit")
    assert (action, subject) == ("bpjs_import", "bpjs:hasil-bpjs.xlsx")
    assert actor

    again = await cli("bpjs", "import", str(good), "--partial", env=env, cwd=tmp_path, merge=True)

    assert again.returncode == 0, again.stdout
    assert again.stdout.strip().splitlines()[-1] == (
        "bpjs: nothing changed: 2 results recorded already, 0 rejected (2 rows in hasil-bpjs.xlsx)"
    )
    assert query(db, "SELECT count(*) FROM outboundmessage") == [(1,)]
    assert query(db, "SELECT count(*) FROM programaudit") == [(1,)]


async def test_bpjs_import_skip_bad_writes_the_rejected_rows_and_a_file_without_columns_is_one_line(
    tmp_path: Path,
):
    env, db, _ = await prepared(tmp_path)
    path = tmp_path / "hasil.csv"
    path.write_text(
        f"NIK;KPJ;TMT;Hasil\n{BUDI};{KPJ_BUDI};01-02-2026;Sukses\n{STRANGER};26010000499;01-02-2026;Sukses\n",
        encoding="utf-8",
    )

    partial = await cli("bpjs", "import", str(path), "--skip-bad", env=env, cwd=tmp_path, merge=True)

    assert partial.returncode == 1  # rows were rejected: a script must notice
    assert "baris 3: NIK tidak dikenal" in partial.stdout
    assert "hasil.ditolak.csv" in partial.stdout
    written = (tmp_path / "hasil.ditolak.csv").read_text(encoding="utf-8-sig").splitlines()
    assert written[0] == "baris,alasan,NIK,KPJ,TMT,Hasil"
    assert written[1].startswith("3,NIK tidak dikenal")
    assert query(db, "SELECT count(*) FROM activeparticipant") == [(1,)]

    wrong = tmp_path / "salah.csv"
    wrong.write_text(f"NIK;Nama\n{BUDI};Budi\n", encoding="utf-8")
    result = await cli("bpjs", "import", str(wrong), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: salah.csv: missing column status in the first row")
    assert len(result.stderr.strip().splitlines()) == 1
    assert BUDI not in result.stderr
