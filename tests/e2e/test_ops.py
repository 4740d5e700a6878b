"""End to end: `lanjutkan db backup` and `lanjutkan secret rotate` as the operator runs them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlmodel import select

from models.crypto import NikVault
from models.tables import Officer, Proposal
from tests.conftest import SECRET, SIMANINDO, TOMOK, make_services, seed_roster, synthetic_nik
from tests.e2e.test_run import base_env, cli

NEW_SECRET = "new-test-secret-" + "y" * 20
NIKS = [synthetic_nik(serial=700 + i) for i in range(5)]


async def seeded(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A migrated SQLite file with proposals under SECRET, and the environment that names it."""
    path = tmp_path / "data" / "lanjutkan.db"
    env = base_env() | {"DATABASE_URL": f"sqlite:///{path}", "LANJUTKAN_SECRET": SECRET}
    upgraded = await cli("db", "upgrade", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    services = make_services(f"sqlite+aiosqlite:///{path}")
    await seed_roster(services)
    async with services.sessions() as session:
        officer_id = (await session.exec(select(Officer.id))).first()
        assert officer_id is not None
        for nik in NIKS:
            session.add(
                Proposal(
                    desa_code=TOMOK, kecamatan_code=SIMANINDO, officer_id=officer_id,
                    nik_encrypted=services.vault.encrypt(nik), nik_hash=services.vault.hash(nik),
                )
            )  # fmt: skip
        await session.commit()
    await services.close()
    return path, env


def no_secrets(text: str) -> None:
    assert SECRET not in text
    assert NEW_SECRET not in text
    assert not any(nik in text for nik in NIKS)


async def test_backup_writes_a_checked_copy_and_refuses_to_overwrite(tmp_path: Path):
    _, env = await seeded(tmp_path)
    done = await cli("db", "backup", "copy.db", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "backup written to copy.db (" in done.stdout
    assert "integrity check: ok" in done.stdout
    no_secrets(done.stdout + done.stderr)
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("SELECT count(*) FROM proposal").fetchone() == (len(NIKS),)

    again = await cli("db", "backup", "copy.db", env=env, cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        "error: copy.db exists: choose another name, or replace it with --force"
    ]
    forced = await cli("db", "backup", "copy.db", "--force", env=env, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr

    postgres = env | {"DATABASE_URL": "postgresql://bot@db.example/lanjutkan"}
    refused = await cli("db", "backup", "pg.dump", env=postgres, cwd=tmp_path)
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert "pg_dump" in line
    assert "LANJUTKAN_SECRET" in line


async def test_secret_rotate_stopped_then_resumed_leaves_every_nik_under_the_new_secret(tmp_path: Path):
    path, env = await seeded(tmp_path)
    missing = await cli("secret", "rotate", env=env | {"LANJUTKAN_SECRET": NEW_SECRET}, cwd=tmp_path)
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "LANJUTKAN_SECRET_OLD is not set" in missing.stderr
    same = await cli("secret", "rotate", env=env | {"LANJUTKAN_SECRET_OLD": SECRET}, cwd=tmp_path)
    assert same.returncode == 2
    assert same.stderr.strip().splitlines() == [
        "error: LANJUTKAN_SECRET_OLD is LANJUTKAN_SECRET: set it to the previous secret"
    ]

    rotating = env | {"LANJUTKAN_SECRET": NEW_SECRET, "LANJUTKAN_SECRET_OLD": SECRET}
    stopped = await cli("secret", "rotate", "--batch", "2", "--stop-after", "1", env=rotating, cwd=tmp_path)
    assert stopped.returncode == 1, stopped.stderr
    assert "rotation stopped after 1 batches" in stopped.stdout
    resumed = await cli("secret", "rotate", "--batch", "2", env=rotating, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "rows rewritten: proposal 3," in resumed.stdout  # the first run did two of five
    assert "LANJUTKAN_SECRET_OLD can now be removed" in resumed.stdout
    no_secrets(stopped.stdout + stopped.stderr + resumed.stdout + resumed.stderr)

    new = NikVault(NEW_SECRET)
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT nik_encrypted, nik_hash FROM proposal ORDER BY id").fetchall()
    assert [new.decrypt(token) for token, _ in rows] == NIKS
    assert [nik_hash for _, nik_hash in rows] == [new.hash(nik) for nik in NIKS]
