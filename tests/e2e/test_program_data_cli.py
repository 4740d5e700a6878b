"""`lanjutkan registry import` and `lanjutkan participants import` as subprocesses, as the dinas runs them.

Files are made by the tests; NIKs are synthetic.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from openpyxl import Workbook

from tests.conftest import synthetic_nik
from tests.e2e.test_run import SECRET, Result, base_env, cli
from tests.files import (
    endless_csv_line,
    endless_csv_record,
    forged_dimension,
    long_shared_string,
    many_styles,
    shared_string_bomb,
    wide_xlsx_row,
)


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


# ------------------------------------------------------------------------------------------ hostile files

# The most memory one import command may take on a hostile file, whole process included; the README
# states it (measured: about 100 MB, most of it the command's own modules).
IMPORT_MEMORY_MB = 200
MEASURED = """
import atexit, runpy, sys
from pathlib import Path

def peak(report: Path = Path(sys.argv[1])) -> None:
    # VmHWM: this process's own peak (ru_maxrss would count the parent's, copied in by fork)
    status = Path("/proc/self/status").read_text().splitlines()
    kilobytes = [int(line.split()[1]) for line in status if line.startswith("VmHWM:")]
    report.write_text(str(kilobytes[0] // 1024 if kilobytes else 0))

atexit.register(peak)
sys.argv = ["lanjutkan", *sys.argv[2:]]
runpy.run_module("bot", run_name="__main__")
"""
IMPORTS = {
    "registry": (["registry", "import", "--source", "dtsen"], ["NIK", "nama"]),
    "participants": (["participants", "import"], ["NIK", "nama", "desa", "kategori", "mulai"]),
    "officers": (["officers", "import"], ["nama", "peran", "kode_wilayah", "no_hp"]),
}
HOSTILE = {
    "bomb.xlsx": (
        shared_string_bomb,
        "its part xl/sharedStrings.xml unpacks to 1.027 times its packed size (at most 100); "
        "no spreadsheet program writes that",
    ),
    "string.xlsx": (long_shared_string, "one <si> or the XML around it is bigger than 1 MB"),
    "row.xlsx": (wide_xlsx_row, "one <row> or the XML around it is bigger than 1 MB"),
    "styles.xlsx": (many_styles, "its part xl/styles.xml unpacks to 4 MB (at most 1 MB)"),
    "line.csv": (endless_csv_line, "line 2 is longer than 1.048.576 characters"),
    "record.csv": (endless_csv_record, "line 2 is longer than 1.048.576 characters"),
}


async def measured_cli(tmp_path: Path, *args: str) -> tuple[Result, float, int]:
    """``lanjutkan ARGS`` as :func:`cli` runs it, with its wall time and its peak memory in MB."""
    peak = tmp_path / "peak"
    start = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MEASURED, str(peak), *args, cwd=tmp_path, env=env_for(tmp_path),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return (
        Result(proc.returncode, out.decode(), err.decode()),
        time.monotonic() - start,
        int(peak.read_text()),
    )


@pytest.mark.parametrize("command", IMPORTS)
@pytest.mark.parametrize("name", HOSTILE)
async def test_a_hostile_file_is_refused_by_every_import_in_seconds_with_bounded_memory(
    tmp_path, command, name
):
    args, header = IMPORTS[command]
    make, reason = HOSTILE[name]
    path = make(tmp_path / name, header)

    result, seconds, megabytes = await measured_cli(tmp_path, *args, str(path))

    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {name}: refused: {reason}"
    assert seconds < 20  # a whole command, interpreter start included; refusals take a fraction of it
    assert megabytes < IMPORT_MEMORY_MB


@pytest.mark.parametrize(
    ("command", "row"),
    [
        ("registry", [synthetic_nik(), "Budi"]),
        ("participants", [synthetic_nik(), "Budi", "12.17.01.2001", "petani", "01-01-2025"]),
        ("officers", ["Rina Sitohang", "operator", "12.17.01.2001", "0812-0000-0101"]),
    ],
)
async def test_a_forged_dimension_costs_every_import_nothing(tmp_path, command, row):
    args, header = IMPORTS[command]
    path = forged_dimension(tmp_path / "dimension.xlsx", header, row)

    result, seconds, megabytes = await measured_cli(tmp_path, *args, str(path))

    assert result.returncode == 0, result.stderr
    assert "0 rejected (1 rows in dimension.xlsx)" in result.stdout
    assert seconds < 20
    assert megabytes < IMPORT_MEMORY_MB


async def test_a_desil_or_date_of_thousands_of_digits_rejects_its_row_and_no_nik_is_quoted(tmp_path):
    env = env_for(tmp_path)
    registry = tmp_path / "dtsen.csv"
    registry.write_text(
        f"NIK,nama,desil\n{synthetic_nik(serial=1)},Budi,3\n{synthetic_nik(serial=2)},Sari,{'9' * 5_000}\n"
        f"{synthetic_nik(serial=3)},Rudi,{synthetic_nik(serial=4)}\n"
    )
    participants = tmp_path / "peserta.csv"
    participants.write_text(
        "NIK,nama,desa,kategori,mulai\n"
        f"{synthetic_nik(serial=1)},Budi,12.17.01.2001,petani,01-01-2025\n"
        f"{synthetic_nik(serial=2)},Sari,12.17.01.2001,petani,{'9' * 5_000}\n"
        f"{synthetic_nik(serial=3)},Rudi,{synthetic_nik(serial=4)},petani,01-01-2025\n"
    )

    done = await cli(
        "registry", "import", str(registry), "--source", "dtsen", "--skip-bad", env=env, cwd=tmp_path
    )
    also = await cli("participants", "import", str(participants), "--skip-bad", env=env, cwd=tmp_path)

    assert [line for line in done.stderr.splitlines() if line.startswith("line ")] == [
        "line 3: desil berisi 5000 angka: terlalu panjang",
        "line 4: desil 1217••••••••0004 harus 1 sampai 10",
    ]
    assert done.stdout.strip() == "registry dtsen: 1 imported, 2 rejected (3 rows in dtsen.csv)"
    reasons = [line for line in also.stderr.splitlines() if line.startswith("line ")]
    assert reasons[0] == "line 3: mulai berisi 5000 angka: bukan tanggal"
    assert reasons[1].startswith("line 4: kode desa 1217••••••••0004 bukan desa/kelurahan")
    assert also.stdout.strip() == "participants: 1 imported, 2 rejected (3 rows in peserta.csv)"
    for result in (done, also):
        assert re.search(r"[0-9]{12}", result.stdout + result.stderr) is None
        assert result.returncode == 1
