"""Registry benchmark: import 1.000.000 synthetic registry rows, then look NIKs up as intake does.

What runs (one process, one event loop):

* **The file**: a CSV written by this script into a temp dir, row by row (never held in memory): header
  ``NIK;Nama;No KK;Desil;Alamat;Desa``, semicolons, UTF-8 with a BOM as Excel writes it; unique synthetic
  NIKs of Kabupaten Samosir, made-up names, desil 1-10, desa codes of Samosir.
* **The import**: :func:`models.imports.import_registry`, the code path of ``lanjutkan registry import``
  (the CLI adds only the progress bar), into a fresh database built from the models (SQLite file in the
  temp dir through the production ``models.db.create_engine``, or ``--database-url`` for PostgreSQL).
* **The baseline** (SQLite only), in the same run on the same file: the same rows inserted with plain
  ``sqlite3.executemany`` into a table with the same columns and the same two indexes, in another SQLite
  file beside it: the CSV read with the ``csv`` module, each NIK hashed with the same vault (the rows must
  be the same), chunks of the same size each in one transaction, the same PRAGMAs (WAL,
  ``synchronous=NORMAL``, the import's page cache). No checks of any cell, no foreign key, no batch to
  switch: the bare cost of reading, hashing and inserting these rows.
* **The lookups**: ``--lookups`` NIKs drawn at random from the file (all present), each hashed with the
  NIK vault and looked up with :func:`models.store.registry_matches` on one ``AsyncSession`` of the
  production session maker, as intake's turn does.

Measurements:

* **rows/s**: data rows of the file / wall time of the import (reading, checking, hashing, inserting,
  switching the batch). File generation is not timed.
* **peak MB**: the process's resident-set high-water mark (``resource.getrusage`` ``ru_maxrss``) after the
  import; it includes the interpreter and the libraries (about 90 MB before the import starts, printed).
* **lookup p50/p99**: wall time of hash + lookup per NIK.
* **ratio**: our rows/s / the baseline's rows/s (1.0: the import costs nothing beyond reading, hashing and
  inserting; 0.5: it takes twice as long). Both run on the same machine a moment apart, so the ratio holds
  on a noisy machine where the rates themselves move.

The last line printed is exactly ``registry: <rows/s> rows/s, peak <MB> MB, lookup p99 <ms> ms, ratio
<ratio>`` (the ratio is left out with ``--database-url``).

Run: ``.venv/bin/python benchmarks/registry.py`` (``--rows``, ``--lookups``, ``--database-url``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import store
from models.crypto import NikVault
from models.imports import SQLITE_CACHE_MB, import_registry
from models.tables import RegistrySource
from tests.conftest import create_schema, make_services

TARGET_RATE = 50_000
TARGET_MB = 300
TARGET_P99_MS = 1.0
DESA = ["12.17.01.2001", "12.17.01.2002", "12.17.02.2001", "12.17.08.2001", ""]


def nik_of(i: int) -> str:
    """The i-th synthetic NIK: district 12.17.01-09, a valid birth date, a serial; unique below 9.999.999."""
    district = 1 + i % 9
    rest = i // 9
    day, rest = 1 + rest % 28, rest // 28
    month, rest = 1 + rest % 12, rest // 12
    year = 50 + rest % 50
    serial = 1 + rest // 50
    return f"1217{district:02d}{day:02d}{month:02d}{year:02d}{serial:04d}"


def write_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as sink:
        sink.write("NIK;Nama;No KK;Desil;Alamat;Desa\r\n")
        for i in range(rows):
            kk = f"1217010101{i % 1000000:06d}"  # read and never stored
            sink.write(f"{nik_of(i)};Warga Samosir {i};{kk};{1 + i % 10};Dusun {i % 7};{DESA[i % 5]}\r\n")


BASELINE_SCHEMA = (
    "CREATE TABLE registryentry (id INTEGER PRIMARY KEY, batch_id INTEGER NOT NULL, source VARCHAR(8) NOT "
    "NULL, nik_hash VARCHAR(64) NOT NULL, name VARCHAR(120) NOT NULL, desil INTEGER, desa_code VARCHAR(13))",
    "CREATE INDEX ix_registryentry_nik_hash_batch ON registryentry (nik_hash, batch_id)",
    "CREATE INDEX ix_registryentry_batch ON registryentry (batch_id, id)",
)


def baseline(path: Path, database: Path, vault: NikVault, chunk: int = 25_000) -> int:
    """The same rows inserted with plain sqlite3 (see the module's docstring); returns rows inserted."""
    connection = sqlite3.connect(database, isolation_level=None)
    with contextlib.closing(connection):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_MB * 1024}")
        for statement in BASELINE_SCHEMA:
            connection.execute(statement)
        insert = (
            "INSERT INTO registryentry (batch_id, source, nik_hash, name, desil, desa_code) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        rows: list[tuple[object, ...]] = []
        count = 0

        def flush() -> None:
            connection.execute("BEGIN")
            connection.executemany(insert, rows)
            connection.execute("COMMIT")

        with path.open(encoding="utf-8-sig", newline="") as source:
            reader = csv.reader(source, delimiter=";")
            next(reader)  # the header
            for nik, name, _kk, desil, _address, desa in reader:
                rows.append((1, "dtsen", vault.hash(nik), name, int(desil), desa or None))
                if len(rows) >= chunk:
                    flush()
                    count += len(rows)
                    rows.clear()
        if rows:
            flush()
            count += len(rows)
    return count


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


async def main(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="lanjutkan-registry-") as folder:
        path = Path(folder) / "dtsen.csv"
        started = time.perf_counter()
        write_file(path, args.rows)
        print(
            f"file: {args.rows} rows, {path.stat().st_size / 1e6:.0f} MB, written in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await create_schema(url)
        services = make_services(url)
        try:
            before = peak_mb()
            started = time.perf_counter()
            report = await import_registry(
                services.sessions, services.vault, services.kabupaten, path, source=RegistrySource.DTSEN
            )
            elapsed = time.perf_counter() - started
            peak = peak_mb()
            assert report.imported == args.rows, report
            rate = args.rows / elapsed
            print(f"import: {args.rows} rows in {elapsed:.1f} s = {rate:.0f} rows/s; RSS peak {peak:.0f} MB "
                  f"(before the import {before:.0f} MB)", flush=True)  # fmt: skip

            # The same again: a re-import replaces the active batch (written, switched, old rows purged).
            started = time.perf_counter()
            again = await import_registry(
                services.sessions, services.vault, services.kabupaten, path, source=RegistrySource.DTSEN
            )
            print(
                f"re-import (replaces {again.replaced} rows): {time.perf_counter() - started:.1f} s",
                flush=True,
            )

            picks = random.Random(5).sample(range(args.rows), args.lookups)
            timings = []
            async with services.sessions() as session:
                for i in picks:
                    t0 = time.perf_counter()
                    found = await store.registry_matches(session, nik_hash=services.vault.hash(nik_of(i)))
                    timings.append(time.perf_counter() - t0)
                    assert len(found) == 1
            cuts = statistics.quantiles(timings, n=100)
            p50, p99 = cuts[49] * 1000, cuts[98] * 1000
            print(f"lookups: {args.lookups}, p50 {p50:.3f} ms, p99 {p99:.3f} ms", flush=True)
        finally:
            await services.close()
        ratio = None
        if not args.database_url:
            started = time.perf_counter()
            inserted = baseline(path, Path(folder) / "baseline.db", services.vault)
            bare = inserted / (time.perf_counter() - started)
            ratio = rate / bare
            print(
                f"baseline (plain sqlite3.executemany, same rows, table and indexes): {bare:.0f} rows/s; "
                f"ratio ours/baseline {ratio:.2f}",
                flush=True,
            )
    print(
        f"  targets: rate {rate:.0f} >= {TARGET_RATE} {'ok' if rate >= TARGET_RATE else 'MISSED'}; "
        f"peak {peak:.0f} <= {TARGET_MB} MB {'ok' if peak <= TARGET_MB else 'MISSED'}; "
        f"p99 {p99:.3f} <= {TARGET_P99_MS} ms {'ok' if p99 <= TARGET_P99_MS else 'MISSED'}",
        flush=True,
    )
    line = f"registry: {rate:.0f} rows/s, peak {peak:.0f} MB, lookup p99 {p99:.3f} ms"
    return line if ratio is None else f"{line}, ratio {ratio:.2f}"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument(
        "--database-url", help="e.g. postgresql+asyncpg://...; default a SQLite file in the temp dir"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    print(asyncio.run(main(parse())))
