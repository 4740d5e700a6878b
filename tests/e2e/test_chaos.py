"""The chaos benchmark at CI size: officers propose through `lanjutkan run` while it is killed and the fake
Bot API fails 30 % of the sends; nothing may be lost, duplicated or stuck, no reply lost, and no send may
arrive while a 429 said to wait (benchmarks/chaos.py says how each is counted)."""

from __future__ import annotations

import time

import pytest

from benchmarks import chaos

pytestmark = pytest.mark.e2e


async def test_nothing_is_lost_duplicated_or_stuck_while_the_bot_is_killed_and_telegram_fails(capsys):
    # Patience and uptimes shorter than the benchmark's, so the run takes well under a minute; budgets
    # generous, so a slow, busy machine makes it slower, not red.
    args = chaos.parse(
        ["--officers", "5", "--kills", "3", "--faults", "0.3", "--seed", "11", "--uptime", "1", "5",
         "--patience", "3", "6", "--budget", "240", "--settle", "60"]
    )  # fmt: skip
    began = time.monotonic()
    line, ok = await chaos.main(args)
    print(f"{line} ({time.monotonic() - began:.0f} s)")

    assert line.startswith("chaos: 3 kills, ")
    out = capsys.readouterr().out
    assert line.endswith(" 0 lost, 0 duplicated, 0 stuck, 0 replies lost, 0 sends in 429 windows"), out
    assert ok, out  # nor a NIK in the bot's logs
    proposals = int(line.split(", ")[1].split()[0])
    assert proposals >= 5  # every officer finished at least one
