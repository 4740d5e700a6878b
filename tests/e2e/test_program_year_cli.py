"""`lanjutkan program set` with the intake period, `program show`, and `program allocate` as subprocesses.

Files are made by the tests; no NIK is involved.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from openpyxl import Workbook

from tests.conftest import synthetic_nik
from tests.e2e.test_run import SECRET, base_env, cli


def env_for(tmp_path: Path) -> dict[str, str]:
    return base_env() | {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "LANJUTKAN_SECRET": SECRET,
        "COLUMNS": "200",
    }


def query(tmp_path: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as connection:
        return connection.execute(sql).fetchall()


async def test_intake_period_is_set_checked_and_shown(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    result = await cli(
        "program", "set", "--year", "2026", "--intake-open", "2026-02-16", "--intake-close", "2026-03-31",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "intake period: 2026-02-16 to 2026-03-31, corrections until 2026-04-14" in result.stdout

    bad = await cli(
        "program", "set", "--year", "2026", "--intake-open", "2026-04-01", "--intake-close", "2026-03-31",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        "error: intake opens (2026-04-01) after it closes (2026-03-31)"
    ]

    bad = await cli("program", "set", "--year", "2026", "--fix-close", "2026-03-01", env=env, cwd=tmp_path)
    assert bad.returncode != 0
    assert "fix-close (2026-03-01) is before the intake closes (2026-03-31)" in bad.stderr
    assert "Traceback" not in bad.stderr

    moved = await cli("program", "set", "--year", "2026", "--fix-close", "2026-04-30", env=env, cwd=tmp_path)
    assert moved.returncode == 0, moved.stderr
    assert query(tmp_path, "SELECT intake_open, intake_close, fix_close FROM programyear") == [
        ("2026-02-16", "2026-03-31", "2026-04-30")
    ]
    shown = await cli("program", "show", env=env, cwd=tmp_path)
    assert "intake period: 2026-02-16 to 2026-03-31, corrections until 2026-04-30" in shown.stdout


async def test_allocate_equal_then_from_a_file_audited_and_a_bad_file_saves_nothing(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    await cli("program", "set", "--year", "2026", "--quota", "100", env=env, cwd=tmp_path)

    dry = await cli("program", "allocate", "--year", "2026", "--proportional-to", "equal", "--dry-run",
                    env=env, cwd=tmp_path)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "dry run, not saved" in dry.stdout
    assert "total 100 of 100" in dry.stdout
    assert query(tmp_path, "SELECT count(*) FROM kecamatanallocation") == [(0,)]

    equal = await cli("program", "allocate", "--year", "2026", "--proportional-to", "equal",
                      env=env, cwd=tmp_path)  # fmt: skip
    assert equal.returncode == 0, equal.stderr
    quotas = dict(query(tmp_path, "SELECT kecamatan_code, quota FROM kecamatanallocation WHERE year = 2026"))
    assert sum(quotas.values()) == 100
    assert sorted(quotas.values()) == [11] * 8 + [12]  # nine kecamatan in Samosir

    book = Workbook()
    sheet = book.active
    sheet.append(["Kode Kecamatan", "Kuota"])
    sheet.append(["12.17.01", 25])
    sheet.append(["Pangururan", 40])
    path = tmp_path / "alokasi.xlsx"
    book.save(path)
    from_file = await cli("program", "allocate", "--year", "2026", str(path), env=env, cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    assert "12.17.01 Simanindo" in from_file.stdout
    rows = {line.split()[2]: line.split()[-6:] for line in from_file.stdout.splitlines() if "12.17.0" in line}
    assert rows["Simanindo"][::2] == ["12", "25", "+13"]  # 100 / 9: the first kecamatan had the place left
    assert rows["Pangururan"][::2] == ["11", "40", "+29"]
    assert rows["Palipi"][::2] == ["11", "0", "-11"]
    quotas = dict(query(tmp_path, "SELECT kecamatan_code, quota FROM kecamatanallocation WHERE year = 2026"))
    assert quotas["12.17.01"] == 25
    assert quotas["12.17.08"] == 40
    assert sum(quotas.values()) == 65  # the kecamatan not in the file get none
    audits = query(tmp_path, "SELECT action, subject, actor, detail FROM programaudit ORDER BY id")
    assert [(a, s) for a, s, _, _ in audits] == [("allocate", "allocation:2026")] * 2
    assert "@" in audits[1][2]
    detail = json.loads(audits[1][3])
    assert detail["before"]["12.17.08"] == 11
    assert detail["after"]["12.17.08"] == 40

    bad = tmp_path / "bad.csv"
    bad.write_text("kecamatan;kuota\nSimanindo;30\nAtlantis;5\nPalipi;lima\n", encoding="utf-8")
    refused = await cli("program", "allocate", "--year", "2026", str(bad), env=env, cwd=tmp_path)
    assert refused.returncode != 0
    assert "line 3: kecamatan 'Atlantis' tidak ada di Kabupaten Samosir" in refused.stderr
    assert "line 4: kuota 'lima' bukan angka bulat" in refused.stderr
    assert "bad.csv: 2 bad line(s); nothing saved" in refused.stderr
    assert dict(query(tmp_path, "SELECT kecamatan_code, quota FROM kecamatanallocation"))["12.17.01"] == 25

    over = tmp_path / "over.csv"
    over.write_text("kecamatan,kuota\nSimanindo,60\nPalipi,41\n", encoding="utf-8")
    refused = await cli("program", "allocate", "--year", "2026", str(over), env=env, cwd=tmp_path)
    assert refused.returncode != 0
    assert "add up to 101, above the 2026 quota of 100; nothing saved" in refused.stderr
    assert len(query(tmp_path, "SELECT id FROM programaudit")) == 2

    neither = await cli("program", "allocate", "--year", "2026", env=env, cwd=tmp_path)
    assert neither.returncode != 0
    assert "give a FILE or --proportional-to" in neither.stderr


async def test_allocate_in_proportion_to_the_dtsen_registry_and_to_active_participants(
    tmp_path: Path,
) -> None:
    """Simanindo has 6 people of desil 4 or less in the DTSEN, Pangururan 2 (and 4 of desil 9, not
    counted): 10 places go 7.5 / 2.5, the tie of remainders to the first kecamatan by code."""
    env = env_for(tmp_path)
    await cli("program", "set", "--year", "2026", "--quota", "10", "--desil", "4", env=env, cwd=tmp_path)
    nothing = await cli("program", "allocate", "--year", "2026", "--proportional-to", "registry",
                        env=env, cwd=tmp_path)  # fmt: skip
    assert nothing.returncode != 0
    assert "no people of the active DTSEN import within the desil threshold in Kabupaten Samosir" in (
        nothing.stderr
    )
    rows = [f"{synthetic_nik(serial=i)};Orang {i};{i % 3 + 1};12.17.01.2001" for i in range(1, 7)]
    rows += [f"{synthetic_nik(serial=i)};Orang {i};2;12.17.08.2001" for i in range(7, 9)]
    rows += [f"{synthetic_nik(serial=i)};Orang {i};9;12.17.08.2001" for i in range(9, 13)]
    registry = tmp_path / "dtsen.csv"
    registry.write_text("NIK;Nama;Desil;Kode Desa\n" + "\n".join(rows) + "\n", encoding="utf-8")
    imported = await cli("registry", "import", str(registry), "--source", "dtsen", env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr

    result = await cli("program", "allocate", "--year", "2026", "--proportional-to", "registry",
                       env=env, cwd=tmp_path)  # fmt: skip

    assert result.returncode == 0, result.stderr
    quotas = dict(query(tmp_path, "SELECT kecamatan_code, quota FROM kecamatanallocation WHERE quota > 0"))
    assert quotas == {"12.17.01": 8, "12.17.08": 2}
    assert synthetic_nik(serial=1) not in result.stdout + result.stderr

    people = [f"{synthetic_nik(serial=20 + i)};Peserta {i};12.17.04.2001;petani;2025-01-01" for i in range(3)]
    people.append(f"{synthetic_nik(serial=30)};Peserta 9;12.17.02.2001;petani;2025-01-01")
    participants = tmp_path / "aktif.csv"
    participants.write_text("NIK;Nama;Desa;Kategori;Mulai\n" + "\n".join(people) + "\n", encoding="utf-8")
    imported = await cli("participants", "import", str(participants), env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr

    result = await cli("program", "allocate", "--year", "2026", "--proportional-to", "active",
                       env=env, cwd=tmp_path)  # fmt: skip

    assert result.returncode == 0, result.stderr
    quotas = dict(query(tmp_path, "SELECT kecamatan_code, quota FROM kecamatanallocation WHERE quota > 0"))
    assert quotas == {"12.17.02": 3, "12.17.04": 7}  # 2.5 and 7.5: the tie to the first by code
    assert "-8" in result.stdout  # Simanindo 8 -> 0


def test_a_negative_quota_in_a_spreadsheet_number_cell_is_refused(tmp_path: Path) -> None:
    """Text "-5" is no whole number; a number cell of -5 must not pass either (it would let the other
    kecamatan add up above the year's quota, and make its own kecamatan full for good)."""
    import pytest
    import typer

    from bot.cli_program import _read_file
    from models.regions import load_kabupaten

    def sheet_of(quota: int) -> Path:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["kecamatan", "kuota"])
        sheet.append(["Simanindo", quota])
        sheet.append(["Pangururan", 40])
        path = tmp_path / f"kuota{quota}.xlsx"
        book.save(path)
        return path

    kabupaten = load_kabupaten("12.17")
    assert _read_file(sheet_of(5), kabupaten) == {"12.17.01": 5, "12.17.08": 40}
    with pytest.raises(typer.Exit):
        _read_file(sheet_of(-5), kabupaten)
