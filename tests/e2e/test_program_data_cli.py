"""`lanjutkan registry import` and `lanjutkan participants import` as subprocesses, as the dinas runs them.

Files are made by the tests; NIKs are synthetic.
"""

from __future__ import annotations

import contextlib
import sqlite3

from openpyxl import Workbook

from tests.conftest import synthetic_nik
from tests.e2e.test_run import SECRET, base_env, cli


def env_for(tmp_path):
    return base_env() | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "LANJUTKAN_SECRET": SECRET,
    }


def query(tmp_path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as connection:
        return connection.execute(sql).fetchall()


async def test_registry_import_all_or_nothing_then_skip_bad_then_a_replacing_xlsx(tmp_path):
    env = env_for(tmp_path)
    rows = [f"{synthetic_nik(serial=i)};Orang {i};{i % 10 + 1}" for i in range(1, 31)]
    rows[4] = "1.21701E+15;Ilmiah;2"  # line 6
    rows += [f"{synthetic_nik(serial=99)[:15]};Pendek;1"] * 22  # lines 32-53
    path = tmp_path / "dtsen.csv"
    path.write_bytes(("NIK;Nama;Desil\r\n" + "\r\n".join(rows) + "\r\n").encode("utf-8-sig"))

    result = await cli(
        "registry", "import", str(path), "--source", "dtsen", env=env, cwd=tmp_path, merge=True
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    problems = [line for line in lines if line.startswith("line ")]
    assert len(problems) == 20  # the first twenty, then a count
    assert problems[0].startswith("line 6: NIK tertulis sebagai angka ilmiah")
    assert problems[1].startswith("line 32: NIK kurang dari 16 angka (15 angka)")
    assert "... and 3 more rejected rows" in result.stdout
    assert synthetic_nik(serial=99)[:15] not in result.stdout  # reasons never quote a NIK
    assert lines[-1] == (
        "registry dtsen: nothing imported, 23 rejected (52 rows in dtsen.csv); "
        "fix them, or import the good rows with --skip-bad"
    )
    assert query(tmp_path, "SELECT count(*) FROM registryentry") == [(0,)]
    assert not (tmp_path / "dtsen.ditolak.csv").exists()

    result = await cli(
        "registry", "import", str(path), "--source", "dtsen", "--skip-bad", env=env, cwd=tmp_path, merge=True
    )

    assert result.returncode == 1  # rows were rejected: a script must notice
    assert "dtsen.ditolak.csv" in result.stdout
    assert (
        result.stdout.strip().splitlines()[-1]
        == "registry dtsen: 29 imported, 23 rejected (52 rows in dtsen.csv)"
    )
    written = (tmp_path / "dtsen.ditolak.csv").read_text(encoding="utf-8-sig").splitlines()
    assert written[0] == "baris,alasan,NIK,Nama,Desil"
    assert written[1].startswith("6,")
    assert written[1].endswith(",1.21701E+15,Ilmiah,2")
    assert len(written) == 24
    assert query(tmp_path, "SELECT count(*), min(desil), max(desil) FROM registryentry") == [(29, 1, 10)]

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["nik", "nama lengkap", "no kk", "desil"])
    sheet.append([int(synthetic_nik(serial=1)), "Orang Satu", 1217010101900001, 2])  # number cells
    xlsx = tmp_path / "dtsen-2026.xlsx"
    workbook.save(xlsx)

    result = await cli(
        "registry", "import", str(xlsx), "--source", "dtsen", env=env, cwd=tmp_path, merge=True
    )

    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[-1] == (
        "registry dtsen: 1 imported, 29 old rows replaced, 0 rejected (1 rows in dtsen-2026.xlsx)"
    )
    assert query(tmp_path, "SELECT source, name, desil FROM registryentry") == [("dtsen", "Orang Satu", 2)]


async def test_registry_import_refuses_a_file_without_its_columns_in_one_line(tmp_path):
    path = tmp_path / "p3ke.csv"
    path.write_text("NIK,Alamat\n1217011508900001,Dusun II\n", encoding="utf-8")

    result = await cli(
        "registry", "import", str(path), "--source", "p3ke", env=env_for(tmp_path), cwd=tmp_path
    )

    assert result.returncode == 2
    assert result.stderr.strip() == "error: p3ke.csv: missing column nama in the first row (found NIK,Alamat)"

    wrong = await cli("registry", "import", str(path), "--source", "bdt", env=env_for(tmp_path), cwd=tmp_path)
    assert wrong.returncode == 2
    assert "bdt" in wrong.stderr


async def test_participants_import(tmp_path):
    env = env_for(tmp_path)
    path = tmp_path / "peserta.csv"
    path.write_bytes(
        (
            "NIK;Nama;Kecamatan;Desa;Pekerjaan;Mulai\n"
            f"{synthetic_nik(serial=1)};Renée Sihombing;Simanindo;Tomok;Petani;01-01-2025\n"
            f"{synthetic_nik(serial=2)};Budi;;12.17.01.2001;nelayan;45658\n"
        ).encode("cp1252")
    )

    result = await cli("participants", "import", str(path), env=env, cwd=tmp_path, merge=True)

    assert result.returncode == 0, result.stdout
    assert (
        result.stdout.strip().splitlines()[-1]
        == "participants: 2 imported, 0 rejected (2 rows in peserta.csv)"
    )
    assert query(
        tmp_path, "SELECT name, desa_code, category, coverage_start FROM activeparticipant ORDER BY id"
    ) == [
        ("Renée Sihombing", "12.17.01.2001", "petani", "2025-01-01"),
        ("Budi", "12.17.01.2001", "nelayan", "2025-01-01"),
    ]
    stored = " ".join(str(v) for row in query(tmp_path, "SELECT * FROM activeparticipant") for v in row)
    assert synthetic_nik(serial=1) not in stored  # encrypted and hashed only
