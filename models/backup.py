"""`lanjutkan db backup`: a consistent copy of the SQLite database while the bot keeps writing to it."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from models.db import keep_private

PAGES_PER_STEP = 1024  # 4 MB at SQLite's default page size: a short step, never a long lock
Progress = Callable[[int, int], None]  # pages copied, pages in all


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    integrity: str  # PRAGMA integrity_check's answer: "ok", or its first problem


def backup_sqlite(
    source: Path, target: Path, *, pages: int = PAGES_PER_STEP, progress: Progress | None = None
) -> BackupResult:
    """Copy ``source`` to ``target`` with SQLite's backup API, through a temporary file renamed at the
    end (a crash leaves no half copy under the name); the copy is checked before it takes the name."""
    temporary = target.with_name(f".{target.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    keep_private(temporary)  # it holds what the database holds: owner only, before SQLite writes to it
    # Read only: a backup must never create the database, nor write to the bot's file.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
    try:
        dst = sqlite3.connect(temporary, isolation_level=None)
        try:
            # A read transaction held across the steps: in WAL mode its snapshot stays fixed while the bot
            # writes (writers are not blocked), so the copy does not restart at every commit of the bot.
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()

            def report(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            src.backup(dst, pages=pages, progress=report, sleep=0.01)
            src.execute("COMMIT")
            integrity = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    finally:
        src.close()
    if integrity != "ok":
        temporary.unlink()
        return BackupResult(target, 0, str(integrity))
    os.replace(temporary, target)
    return BackupResult(target, target.stat().st_size, integrity)
