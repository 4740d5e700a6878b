"""`lanjutkan run --workers N`: N bot processes on one port (the kernel spreads connections among them,
SO_REUSEPORT) and one PostgreSQL database, kept running by a small parent.

The parent only starts, watches and stops its workers: a worker that dies (a crash, kill -9) is started
again after a pause, while the others carry on; SIGTERM is passed to every worker, which finishes what it
has in flight and gives its leases back; the parent exits 0 when all did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

log = logging.getLogger(__name__)

WORKER_ENV = "LANJUTKAN_WORKER"  # the worker's index, set by the parent: 0 polls Telegram, if anyone does
RESTART_PAUSES = (1.0, 2.0, 5.0, 10.0, 30.0)  # a worker that keeps dying is not restarted in a tight loop
STOP_TIMEOUT = 30.0  # seconds a worker gets to finish after SIGTERM before it is killed


class Supervisor:
    """Runs ``count`` workers (``python -m bot run`` each, with their index in the environment)."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.count = count
        self.env = env
        self.stopping = asyncio.Event()
        self.exit_codes: dict[int, int] = {}

    async def run(self) -> int:
        """Until SIGTERM or SIGINT; the exit status: 0 when every worker stopped cleanly."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stopping.set)
        await asyncio.gather(*(self._keep(index) for index in range(self.count)))
        return 0 if all(code == 0 for code in self.exit_codes.values()) else 1

    async def _keep(self, index: int) -> None:
        """Keep worker ``index`` running until the stop; then stop it."""
        failures = 0
        while not self.stopping.is_set():
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=self.env | {WORKER_ENV: str(index)}
            )
            log.info("worker %d started (pid %d)", index, worker.pid)
            waiting = asyncio.create_task(worker.wait())
            stop = asyncio.create_task(self.stopping.wait())
            await asyncio.wait({waiting, stop}, return_when=asyncio.FIRST_COMPLETED)
            if self.stopping.is_set():
                stop.cancel()
                self.exit_codes[index] = await self._stop(worker, waiting)
                return
            stop.cancel()
            code = waiting.result()
            pause = RESTART_PAUSES[min(failures, len(RESTART_PAUSES) - 1)]
            failures += 1
            log.warning("worker %d stopped (exit %s): starting it again in %.0f s", index, code, pause)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self.stopping.wait()
        self.exit_codes.setdefault(index, 0)

    async def _stop(self, worker: asyncio.subprocess.Process, waiting: asyncio.Task[int]) -> int:
        with contextlib.suppress(ProcessLookupError):
            worker.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                code = await waiting
            # Still starting when told to stop (no handler yet): it had nothing in flight, a clean stop.
            return 0 if code == -signal.SIGTERM else code
        except TimeoutError:
            log.error("worker pid %d did not stop in %.0f s: killed", worker.pid, STOP_TIMEOUT)
            worker.kill()
            await waiting
            return 1
