"""Verification benchmark: start a re-verification round over 100.000 active participants.

What runs (one process, one event loop):

* **The data**: ``--participants`` synthetic active participants (unique synthetic NIKs of Kabupaten
  Samosir, encrypted and hashed with the NIK vault, spread over Samosir's desa) and a DTSEN batch holding
  nine in ten of them with desil 1-10, written with Core executemany in chunks. Not timed.
* **The round**: :func:`handlers.verifikasi.start`, the code path of ``lanjutkan verification start`` and
  of the dinas's Mulai (a round over every participant: NIKs decrypted to read the birth date, pre-marks
  from the age limit and the DTSEN, items inserted in chunks, each desa's operators told through the
  outbox), in one committed transaction, on a SQLite file and on a throwaway PostgreSQL cluster when its
  binaries are installed (``tests.pgcluster``).

Measurements: the wall time of the round (seconds), and the process's resident-set high-water mark
(``resource.getrusage`` ``ru_maxrss``) at the end, interpreter and libraries included. Targets: 10 s each,
300 MB.

The last line printed is exactly ``verification: <n> items in <s> s (sqlite), <s> s (postgresql), peak
<MB> MB`` (``-`` for PostgreSQL when no cluster could be started).

Run: ``.venv/bin/python benchmarks/verification.py`` (``--participants``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from handlers.context import Services
from handlers.verifikasi import start
from models import store
from models.tables import ActiveParticipant, ProgramYear, RegistryEntry
from tests.conftest import create_schema, make_services, seed_roster
from tests.pgcluster import throwaway_cluster

TARGET_SECONDS = 10.0
TARGET_MB = 300
CHUNK = 5000


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def synthetic(serial: int) -> str:
    """A structurally valid Samosir NIK made up here: district, birth day, month, year, serial."""
    rng = random.Random(serial)
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1955, 2005)
    return f"121701{day + 40 * (serial % 2):02d}{month:02d}{year % 100:02d}{serial % 10_000:04d}"


async def seed(services: Services, participants: int) -> None:
    """The participants and a DTSEN with nine in ten of them, in chunks (not timed)."""
    desa = [d.code for d in services.kabupaten.all_desa()]
    vault = services.vault
    await seed_roster(services)
    async with services.sessions() as session:
        session.add(ProgramYear(year=2027, new_quota=320, coverage_start=dt.date(2027, 1, 1), age_max=60))
        batch = await store.start_registry_batch(session, source="dtsen", file_name="bench.csv")
        connection = await session.connection()
        seen: set[str] = set()
        serial = 0
        for first in range(0, participants, CHUNK):
            people: list[dict[str, Any]] = []
            registry: list[dict[str, Any]] = []
            while len(people) < min(CHUNK, participants - first):
                serial += 1
                nik = synthetic(serial)
                # The serial's last four digits repeat every 10.000: a NIK made twice is skipped.
                if nik in seen:
                    continue
                seen.add(nik)
                nik_hash = vault.hash(nik)
                code = desa[serial % len(desa)]
                people.append(
                    {"nik_hash": nik_hash, "nik_encrypted": vault.encrypt(nik), "name": f"PESERTA {serial}",
                     "desa_code": code, "category": "petani", "coverage_start": dt.date(2025, 1, 1)}
                )  # fmt: skip
                if serial % 10:
                    registry.append(
                        {"batch_id": batch, "source": "dtsen", "nik_hash": nik_hash,
                         "name": f"PESERTA {serial}", "desil": serial % 10 + 1, "desa_code": code}
                    )  # fmt: skip
            await connection.execute(insert(ActiveParticipant), people)
            if registry:
                await connection.execute(insert(RegistryEntry), registry)
        await store.activate_registry_batch(session, source="dtsen", batch_id=batch, rows=participants)
        await session.commit()


async def round_seconds(url: str, participants: int) -> tuple[int, float]:
    await create_schema(url)
    services = make_services(url)
    try:
        await seed(services, participants)
        began = time.perf_counter()
        async with services.sessions() as session:
            started, desa, queued = await start(
                session, services, year=2027, due=dt.date(2027, 1, 31), officer_id=None, actor="bench"
            )
            await session.commit()
        elapsed = time.perf_counter() - began
        print(
            f"  {started.items} items in {desa} desa, {queued} messages queued, {elapsed:.2f} s", flush=True
        )
        return started.items, elapsed
    finally:
        await services.close()


async def on_postgresql(cluster_url: str, participants: int) -> tuple[int, float]:
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(cluster_url.replace("+asyncpg", ""))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return await round_seconds(cluster_url.rsplit("/", 1)[0] + f"/{name}", participants)


def main(args: argparse.Namespace) -> str:
    print(f"RSS before: {peak_mb():.0f} MB", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        print("sqlite:", flush=True)
        items, sqlite_s = asyncio.run(
            round_seconds(f"sqlite+aiosqlite:///{folder}/bench.db", args.participants)
        )
    postgresql = "-"
    with throwaway_cluster(name="lanjutkan-bench-") as url:
        if url is None:
            print("postgresql: no server binaries, skipped", flush=True)
        else:
            print("postgresql:", flush=True)
            _, pg_s = asyncio.run(on_postgresql(url, args.participants))
            postgresql = f"{pg_s:.2f}"
    peak = peak_mb()
    slowest = max(sqlite_s, float(postgresql) if postgresql != "-" else 0.0)
    print(
        f"targets: {slowest:.2f} <= {TARGET_SECONDS:.0f} s "
        f"{'ok' if slowest <= TARGET_SECONDS else 'MISSED'}; "
        f"peak {peak:.0f} <= {TARGET_MB} MB {'ok' if peak <= TARGET_MB else 'MISSED'}",
        flush=True,
    )
    return (
        f"verification: {items} items in {sqlite_s:.2f} s (sqlite), {postgresql} s (postgresql), "
        f"peak {peak:.0f} MB"
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--participants", type=int, default=100_000)
    return parser.parse_args()


if __name__ == "__main__":
    print(main(parse()))
