"""The benchmarks still run: each at its smallest size, as `make bench` runs it (a subprocess), checking only
the shape of its last line; the figures at this size mean nothing and are not checked."""

from __future__ import annotations

import asyncio
import re
import sys

import pytest

from tests.e2e.test_run import REPO, base_env

pytestmark = pytest.mark.e2e

NUMBER = r"\d+(?:\.\d+)?"


async def test_the_whatsapp_benchmark_runs_both_bots_and_prints_its_figures():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "benchmarks" / "whatsapp.py"), "--quick", cwd=REPO, env=base_env(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    last = text.strip().splitlines()[-1]
    pattern = rf"whatsapp: {NUMBER} updates/s, p99 {NUMBER} ms \(echo {NUMBER} ms\), ratio {NUMBER}"
    assert re.fullmatch(pattern, last), text
    # Both bots ran both phases, and every proposal reached the database
    for bot in ("echo", "ours"):
        for phase in ("saturating", "paced"):
            assert re.search(rf"^  {bot} +{phase} +\d+ updates in ", text, re.MULTILINE), text
    assert "ours proposals in the database: {'menunggu_camat': 36}" in text, text


@pytest.mark.postgres
async def test_the_scale_benchmark_runs_one_worker_then_two_on_postgresql_and_prints_its_figures():
    from tests.pgcluster import pg_bin

    if pg_bin() is None:
        pytest.skip("no PostgreSQL server to start: install its binaries (apt-get install postgresql)")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "benchmarks" / "scale.py"), "--quick", cwd=REPO, env=base_env(),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    last = text.strip().splitlines()[-1]
    if last.startswith("scale: skipped"):  # as root without a postgres user to run the server
        pytest.skip(last)
    pattern = (
        rf"scale: 1 worker {NUMBER} updates/s, 2 workers {NUMBER} updates/s, "
        rf"speedup {NUMBER}, p99 {NUMBER} ms"
    )
    assert re.fullmatch(pattern, last), text
    # Long polling measured as intake.py does, the worker on SQLite, then both runs on PostgreSQL, every
    # proposal in their database and every NIK message masked
    assert re.search(r"^  ours throughput +\d+ updates in ", text, re.MULTILINE), text
    for name in ("1 worker on SQLite", "1 worker ", "2 workers"):
        assert re.search(rf"^  {name} saturating +192 updates in ", text, re.MULTILINE), text
    assert text.count("proposals in the database: {'menunggu_camat': 24}") == 3, text
    assert text.count("NIK clean-up at Kirim incomplete for 0 of 24 officers") == 3, text


async def test_the_verification_benchmark_starts_a_round_and_prints_its_figures():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "benchmarks" / "verification.py"), "--participants", "300", cwd=REPO,
        env=base_env(), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    last = text.strip().splitlines()[-1]
    postgres = rf"(?:{NUMBER}|-) s"  # "-": no PostgreSQL binaries to start a cluster with
    pattern = (
        rf"verification: 300 items in {NUMBER} s \(sqlite\), {postgres} \(postgresql\), peak {NUMBER} MB"
    )
    assert re.fullmatch(pattern, last), text
