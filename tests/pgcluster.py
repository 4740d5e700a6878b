"""A throwaway PostgreSQL cluster on loopback, for the tests (``conftest.pg_cluster``) and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


def pg_bin() -> Path | None:
    """Where PostgreSQL's server binaries are (on PATH or Debian's /usr/lib/postgresql/N/bin), if anywhere."""
    found = shutil.which("initdb") or shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def throwaway_cluster(*, name: str = "lanjutkan-pg-", options: str = "") -> Iterator[str | None]:
    """Start a cluster (fsync off: its data is thrown away) and yield its admin URL for asyncpg, or None
    when the server binaries (or, as root, a ``postgres`` user to run them) are missing. ``options`` are
    more server settings (``-c max_wal_size=8GB``)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix=name))
    prefix: list[str] = []
    try:
        if os.geteuid() == 0:  # initdb refuses to run as root: run the cluster as the postgres user
            runuser = shutil.which("runuser")
            if runuser is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
                yield None
                return
            prefix = [runuser, "-u", "postgres", "--"]
            shutil.chown(base, "postgres")
            base.chmod(0o755)
        data, port = base / "data", free_port()
        subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        settings = f"-h 127.0.0.1 -p {port} -k {base} -F -c fsync=off -c full_page_writes=off {options}"
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", settings.strip(), "-l",
             str(base / "log"), "-w", "start"],
            check=True, capture_output=True,
        )  # fmt: skip
        try:
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True)  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)
