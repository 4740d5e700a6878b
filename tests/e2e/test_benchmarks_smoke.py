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
