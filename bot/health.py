"""What ``GET /readyz`` reports of each chat app: its last successful API call, its last failure, and for
a webhook channel the last delivery received. Couriers and receivers mark them (one line each); the
marks live in this process's memory only.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scheduler.outbox import RetryLater, Undeliverable

# A chat app whose calls fail for longer than this, with no success in between, makes the bot not ready.
STALE_AFTER = 300.0  # seconds
# Reasons a chat app gives for "slow down": its API answered, so it is reachable.
RATE_LIMITED = frozenset({"429", "130429", "131056"})


@dataclass
class ChannelHealth:
    """One chat app's marks, in wall-clock seconds (``time.time``)."""

    name: str
    webhook: bool = False  # whether deliveries come by webhook (WhatsApp) rather than by polling
    clock: Callable[[], float] = time.time
    last_ok: float | None = None
    last_failed: float | None = None
    last_webhook: float | None = None
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.started or self.clock()

    def api_ok(self) -> None:
        """The chat app's API answered (a refusal about one message counts: it is reachable)."""
        self.last_ok = self.clock()

    def api_failed(self) -> None:
        """A call failed: network, timeout, the token refused, the chat app's server error."""
        self.last_failed = self.clock()

    def webhook_received(self) -> None:
        """A delivery with a valid signature arrived."""
        self.last_webhook = self.clock()

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[None]:
        """Mark the call inside by its outcome, as the courier's sorted errors name it."""
        try:
            yield
        except Undeliverable:
            self.api_ok()  # about that one message: the API answered
            raise
        except RetryLater as error:
            if error.flood or error.reason in RATE_LIMITED:
                self.api_ok()  # "slow down" is an answer
            else:
                self.api_failed()
            raise
        except Exception:
            self.api_failed()
            raise
        self.api_ok()

    def failing(self, now: float, stale_after: float) -> bool:
        """Calls failed since the last success, and that success (or the start) is older than
        ``stale_after``: an idle chat app, with no calls at all, is never failing."""
        if self.last_failed is None or (self.last_ok is not None and self.last_ok >= self.last_failed):
            return False
        return now - (self.last_ok if self.last_ok is not None else self.started) > stale_after

    def report(self, now: float, stale_after: float) -> dict[str, Any]:
        """The channel's part of ``/readyz``."""
        report: dict[str, Any] = {
            "ok": not self.failing(now, stale_after),
            "last_api_ok": _iso(self.last_ok),
            "last_api_ok_age": _age(now, self.last_ok),
            "last_api_failed": _iso(self.last_failed),
        }
        if self.webhook:
            report["last_webhook"] = _iso(self.last_webhook)
            report["last_webhook_age"] = _age(now, self.last_webhook)
        return report


class Health:
    """Every channel's marks, for ``/readyz``."""

    def __init__(self, channels: Sequence[ChannelHealth] = (), *, stale_after: float = STALE_AFTER) -> None:
        self.channels = list(channels)
        self.stale_after = stale_after

    def report(self, now: float | None = None) -> tuple[bool, dict[str, Any]]:
        """Whether every channel is ready, and each one's report by name."""
        reports = {
            c.name: c.report(c.clock() if now is None else now, self.stale_after) for c in self.channels
        }
        return all(r["ok"] for r in reports.values()), reports


def health_of(channel: object) -> ChannelHealth | None:
    """A runtime channel's marks, if it keeps them (the terminal demo does not)."""
    health = getattr(channel, "health", None)
    return health if isinstance(health, ChannelHealth) else None


def _iso(at: float | None) -> str | None:
    import datetime as dt

    return None if at is None else dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def _age(now: float, at: float | None) -> float | None:
    return None if at is None else round(max(now - at, 0.0), 1)
