"""Names for the processes that hold leases and send replies, and whether one of them is gone.

A process's name is ``<host>.<pid>.<random>`` (the host as a short hash, so it fits a lease's name). A
lease or a reply left by a process killed with kill -9 would otherwise wait for its heartbeat to expire;
on the same host the operating system says at once that the process is gone.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from pathlib import Path


def _machine() -> str:
    """This host as the processes on it see each other: its name, its boot, and the pid namespace (two
    containers with one hostname each have their own pid 1)."""
    parts = [socket.gethostname()]
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(Path(path).read_text().strip() if "boot" in path else str(os.stat(path).st_ino))
        except OSError:
            parts.append("")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


_HOST = _machine()
_MINE: set[str] = set()  # names made in this process: alive as long as it runs


def process_name() -> str:
    """A new name for this process (one per channel or worker that holds something)."""
    name = f"{_HOST}.{os.getpid()}.{secrets.token_hex(2)}"
    _MINE.add(name)
    return name


def known_dead(holder: str) -> bool:
    """True only when certain: ``holder`` names a process of this host that no longer runs."""
    return verdict(holder) is False


def verdict(holder: str) -> bool | None:
    """Whether ``holder`` runs: True or False for a name of this host, None when only its heartbeat can
    tell (another host, or a name not made by :func:`process_name`).

    The same pid under another name is an earlier process (a container's pid 1 restarted).
    """
    if holder in _MINE:
        return True
    host, _, rest = holder.partition(".")
    pid_text, _, _ = rest.partition(".")
    if host != _HOST or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    return pid != os.getpid() and _running(pid)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: running
    try:  # a zombie (killed, not yet reaped by its parent) runs no more
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]
