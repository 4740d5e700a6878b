"""Files that hold personal data (exports, rejected rows), written readable by their owner only."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

PRIVATE_MODE = 0o600


@contextlib.contextmanager
def private_file(target: Path, *, encoding: str | None = None) -> Iterator[IO[Any]]:
    """Write ``target`` with mode 0600: a new temp file beside it, renamed onto it when the block ends.

    The temp file is created new (O_EXCL, O_NOFOLLOW): neither an existing file's mode nor a symlink
    planted at the target is ever followed, and ``os.replace`` swaps a symlink at the target itself, never
    what it points to. With ``encoding`` the file is text (``newline=""``, as :mod:`csv` wants), else bytes.
    On an error the temp file is removed and the target left as it was.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            descriptor = os.open(temp, flags, PRIVATE_MODE)
            break
        except FileExistsError:
            continue
    try:
        os.fchmod(descriptor, PRIVATE_MODE)  # the umask may have taken bits away; never adds any
        if encoding is None:
            sink: IO[Any] = os.fdopen(descriptor, "wb")
        else:
            sink = os.fdopen(descriptor, "w", encoding=encoding, newline="")
    except BaseException:
        os.close(descriptor)
        temp.unlink(missing_ok=True)
        raise
    try:
        with sink:
            yield sink
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
