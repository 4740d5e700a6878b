"""`lanjutkan export` as a subprocess: the file written, readable by its owner only, and audited."""

from __future__ import annotations

import datetime as dt
import getpass
import io
import os
import socket
import sqlite3
import stat
from pathlib import Path

import openpyxl
import pytest

from models import store
from models.rules.status import Status
from tests.conftest import (
    OPERATOR_PHONE,
    SECRET,
    make_services,
    seed_roster,
    sent_proposal,
    synthetic_nik,
)
from tests.e2e.test_run import base_env, cli

pytestmark = pytest.mark.e2e


async def test_export_lampiran_writes_an_audited_private_file(tmp_path: Path):
    """The lampiran with the established worker, mode 0600, one export record with channel cli."""
    db = tmp_path / "bot.db"
    env = base_env() | {"DATABASE_URL": f"sqlite+aiosqlite:///{db}", "LANJUTKAN_SECRET": SECRET}
    assert (await cli("db", "upgrade", env=env, cwd=tmp_path)).returncode == 0
    services = make_services(f"sqlite+aiosqlite:///{db}")
    await seed_roster(services)
    nik = synthetic_nik(serial=21)
    async with services.sessions() as session:
        rina = await store.officer_by_phone(session, phone=OPERATOR_PHONE)
        assert rina is not None
        assert rina.id is not None
        when = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
        session.add(
            sent_proposal(
                services,
                officer_id=rina.id,
                nik=nik,
                status=Status.DITETAPKAN,
                category="nelayan",
                submitted_at=when,
                decided_at=when,
            )
        )
        await session.commit()
    await services.close()

    done = await cli("export", "lampiran", "--out", str(tmp_path / "out"), env=env, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    [written] = (tmp_path / "out").iterdir()
    assert f"lampiran: 1 rows written to {written}" in done.stdout
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    sheet = openpyxl.load_workbook(io.BytesIO(written.read_bytes())).active
    assert sheet is not None
    assert [c.value for c in sheet[2]] == [1, "BUDI SANTOSO", nik, "Tomok", "Simanindo", "nelayan"]
    with sqlite3.connect(db) as connection:
        assert connection.execute(
            "SELECT officer_id, actor, kind, rows, channel FROM exportrecord"
        ).fetchall() == [(None, f"{getpass.getuser()}@{socket.gethostname()}", "lampiran", 1, "cli")]
    assert nik not in done.stdout + done.stderr

    # Again, over a file another program left readable by all, then over a symlink planted at its name.
    written.chmod(0o644)
    again = await cli("export", "lampiran", "--out", str(tmp_path / "out"), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not to be overwritten\n")
    elsewhere.chmod(0o644)
    written.unlink()
    written.symlink_to(elsewhere)
    again = await cli("export", "lampiran", "--out", str(tmp_path / "out"), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert elsewhere.read_text() == "not to be overwritten\n"
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o644
    assert not written.is_symlink()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "out").iterdir()] == [written.name]  # no temp file left

    unknown = await cli("export", "semua", env=env, cwd=tmp_path)
    assert unknown.returncode == 2
    assert "unknown export 'semua': choose bpjs, lampiran, usulan" in unknown.stderr


def test_the_os_actor_survives_a_container_without_a_login_name(monkeypatch):
    from bot.cli import os_actor

    def no_login() -> str:
        raise OSError("No username set in the environment")

    monkeypatch.setattr(getpass, "getuser", no_login)

    assert os_actor() == f"uid {os.getuid()}@{socket.gethostname()}"
