"""`lanjutkan db backup`: a copy taken while another connection keeps writing is whole and usable."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from sqlmodel import func, select

from models.backup import backup_sqlite
from models.tables import Officer, Proposal
from tests.conftest import SIMANINDO, TOMOK, create_schema, make_services, seed_roster, synthetic_nik

BEFORE = 400  # proposals committed before the backup starts


async def test_a_backup_during_writes_opens_passes_integrity_and_serves_the_bot(tmp_path: Path):
    path = tmp_path / "live.db"
    url = f"sqlite+aiosqlite:///{path}"
    await create_schema(url)
    services = make_services(url)
    await seed_roster(services)
    async with services.sessions() as session:
        officer_id = (await session.exec(select(Officer.id))).first()
        assert officer_id is not None
        for serial in range(BEFORE):
            nik = synthetic_nik(serial=serial + 1)
            session.add(
                Proposal(
                    desa_code=TOMOK, kecamatan_code=SIMANINDO, officer_id=officer_id, name="Budi Santoso",
                    address="Dusun II, RT 002/RW 001 " * 4, nik_encrypted=services.vault.encrypt(nik),
                    nik_hash=services.vault.hash(nik),
                )
            )  # fmt: skip
        await session.commit()

    writing = asyncio.Event()
    stop = asyncio.Event()
    written = 0

    async def writer() -> None:
        """The bot meanwhile: a proposal committed per transaction until the backup is done."""
        nonlocal written
        serial = 5000
        while not stop.is_set():
            async with services.sessions() as session:
                nik = synthetic_nik(serial=serial)
                session.add(
                    Proposal(
                        desa_code=TOMOK, kecamatan_code=SIMANINDO, officer_id=officer_id,
                        nik_encrypted=services.vault.encrypt(nik), nik_hash=services.vault.hash(nik),
                    )
                )  # fmt: skip
                await session.commit()
            written += 1
            serial += 1
            writing.set()
            await asyncio.sleep(0.001)

    steps: list[tuple[int, int]] = []
    during: list[int] = []

    def progress(done: int, total: int) -> None:
        steps.append((done, total))
        during.append(written)
        time.sleep(0.005)  # a slow disk: the writer gets many commits in between the steps

    task = asyncio.create_task(writer())
    await writing.wait()
    target = tmp_path / "backup.db"
    # One page a step, so the copy spans many of the writer's commits.
    result = await asyncio.to_thread(backup_sqlite, path, target, pages=1, progress=progress)
    stop.set()
    await task
    await services.close()

    assert result.integrity == "ok"
    assert result.size == target.stat().st_size > 0
    assert len(steps) > 20
    assert during[-1] > during[0] + 10  # the writer committed while the copy was made
    assert not (tmp_path / ".backup.db.partial").exists()
    assert target.stat().st_mode & 0o077 == 0  # names and NIKs: the owner's only
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        count = copy.execute("SELECT count(*) FROM proposal").fetchone()[0]
    assert count >= BEFORE + 1  # everything committed before it started

    restored = make_services(f"sqlite+aiosqlite:///{target}")
    try:
        async with restored.sessions() as session:
            first = (await session.exec(select(Proposal).order_by(Proposal.id))).first()
            assert first is not None
            assert restored.vault.decrypt(first.nik_encrypted or "") == synthetic_nik(serial=1)
            assert (await session.exec(select(func.count()).select_from(Proposal))).one() == count
    finally:
        await restored.close()
