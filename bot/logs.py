"""Log lines as JSON (``LANJUTKAN_LOG_FORMAT=json``), and the update a line was written for.

The channels set :data:`UPDATE` while they handle an update (:func:`update_context`); the JSON formatter
adds its channel and id to every line written meanwhile. The formatter sits behind lokal-id's
SamaranFilter (``bot.cli.setup_logging``), which has already masked NIKs and phone numbers in the message
and the traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar

from handlers.context import Events

# (channel, update id) of the update being handled in this task, None outside one
UPDATE: ContextVar[tuple[str, str | None] | None] = ContextVar("lanjutkan_update", default=None)


@contextlib.contextmanager
def update_context(channel: str, update_id: str | None) -> Iterator[None]:
    """Name the update in every log line written inside (tasks started inside inherit it)."""
    token = UPDATE.set((channel, update_id))
    try:
        yield
    finally:
        UPDATE.reset(token)


@contextlib.asynccontextmanager
async def timed(events: Events, channel: str) -> AsyncIterator[None]:
    """Count the time inside as one update's handling (``lanjutkan_update_seconds``)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        events.handled(channel, time.perf_counter() - start)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO, UTC), level, logger, message; channel and update id when an
    update is being handled; the traceback, if any, as SamaranFilter masked it."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (update := UPDATE.get()) is not None:
            line["channel"], line["update_id"] = update
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)
