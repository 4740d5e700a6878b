"""Fuzz benchmark: the hostile-input suite (``tests/hostile.py``, run by ``tests/handlers/test_hostile.py``
at 200 examples per step) at 10.000 examples per step, counting what breaks instead of stopping at it.

What runs: the real :class:`handlers.engine.Engine` on a SQLite file in a temp dir (or ``--database``, a
PostgreSQL URL of an empty database), services from ``tests.conftest.make_services``, the roster bound and
four proposals seeded. For each step (strangers; the operator at each of the 11 intake steps; the camat
idle, typing a rejection reason, typing a return note; the dinas), on a fresh database: the corpus of
known-nasty inputs, then ``--examples`` inputs drawn by Hypothesis (derandomized: the same every run), each
handed to ``Engine.handle`` as the Telegram channel builds it, and checked as the test checks it. After
the step, the officer must still finish their work (send the proposal, approve).

Counted: **crashes** (``Engine.handle`` or the step's own bookkeeping raised), **unanswered** (no reply,
and not an intended silence), **internal errors** (the failure message, or a failure logged), and every
other broken property by name (a full NIK shown, a message over Telegram's limits, the state changed by an
invalid input, a step the officer could not finish), with the first input that broke each.

The last line printed is exactly ``fuzz: <inputs> inputs, <crashes> crashes, <unanswered> unanswered,
<internal> internal errors``.

Run: ``.venv/bin/python benchmarks/fuzz.py`` (``--examples 500`` for a quick look, ``--step "camat reason"``
for one step).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import models.tables  # noqa: E402,F401  (tables on the metadata)
from tests.conftest import create_schema, make_services, seed_roster  # noqa: E402
from tests.hostile import SCENARIOS, Harness, Scenario, Tally, World, corpus, inbound_strategy  # noqa: E402

CANNOT_FINISH = "officer cannot finish afterwards"


def run_step(name: str, examples: int, url: str | None, workdir: Path) -> Tally:
    """One step on a fresh database: the corpus, then ``examples`` drawn inputs; what broke."""
    with asyncio.Runner() as runner:
        if url is None:
            url = f"sqlite+aiosqlite:///{workdir / (name.replace(' ', '_') + '.db')}"
        runner.run(create_schema(url))
        services = make_services(url)
        runner.run(seed_roster(services))
        harness = Harness(services)
        world = World(harness)
        runner.run(world.build())
        scenario = Scenario(world, name)
        runner.run(scenario.enter())

        def probe(draw: object) -> None:
            try:
                runner.run(scenario.probe(draw))  # type: ignore[arg-type]
            except Exception as error:  # the step's own bookkeeping (a reset) failed: count, go on
                harness.tally.crashes += 1
                harness.tally.problems[f"crash: {type(error).__name__}"] += 1
                with contextlib.suppress(Exception):
                    runner.run(scenario.enter())

        for draw in corpus(scenario.user_id):
            probe(draw)

        @settings(
            max_examples=examples,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(st.data())
        def one(data: st.DataObject) -> None:
            user_id = data.draw(st.sampled_from(scenario.users()))
            probe(data.draw(inbound_strategy(user_id, scenario.shown())))

        one()
        if not runner.run(scenario.finish()):
            harness.tally.problems[CANNOT_FINISH] += 1
        harness.close()
        runner.run(services.close())
        return harness.tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000, help="drawn inputs per step (10.000)")
    parser.add_argument("--step", action="append", choices=SCENARIOS, help="only this step (repeatable)")
    parser.add_argument("--database", help="an empty PostgreSQL database's URL (default: SQLite, temp dir)")
    args = parser.parse_args()
    # The engine logs each failure it answers; counted here, not printed per input.
    logging.basicConfig(level=logging.CRITICAL)
    if args.database and len(args.step or SCENARIOS) > 1:
        parser.error("--database takes one --step (each step needs an empty database)")

    total = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.step or SCENARIOS:
            started = time.monotonic()
            tally = run_step(name, args.examples, args.database, Path(tmp))
            seconds = time.monotonic() - started
            broken = ", ".join(f"{count} {problem}" for problem, count in sorted(tally.problems.items()))
            summary = broken or "nothing broke"
            print(f"{name}: {tally.inputs} inputs in {seconds:.0f} s; {summary}", flush=True)
            for problem, example in sorted(tally.examples.items()):
                print(f"    first {problem}: {example}", flush=True)
            total.inputs += tally.inputs
            total.crashes += tally.crashes
            total.unanswered += tally.unanswered
            total.internal += tally.internal
            total.problems += tally.problems
    others = Counter({p: n for p, n in total.problems.items() if p not in {"unanswered", "internal error"}})
    others = Counter({p: n for p, n in others.items() if not p.startswith("crash")})
    print("other properties broken: " + (", ".join(f"{n} {p}" for p, n in sorted(others.items())) or "none"))
    print(
        f"fuzz: {total.inputs} inputs, {total.crashes} crashes, {total.unanswered} unanswered, "
        f"{total.internal} internal errors"
    )


if __name__ == "__main__":
    main()
