"""The HTTP server: health, readiness and metrics; the webhooks of WhatsApp (and of Telegram in production
mode) are added by their channels.

One FastAPI application for every route, run by uvicorn on ``LANJUTKAN_HOST:LANJUTKAN_PORT`` behind a
reverse proxy with HTTPS. ``/healthz`` and the database part of ``/readyz`` answer from the database, so
several processes behind one proxy answer alike; the channels' part of ``/readyz`` is this process's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from bot.health import STALE_AFTER, Health
from bot.metrics import DEFAULT_ALLOW, Allowed, Metrics
from handlers.context import Services

log = logging.getLogger(__name__)

SCHEMA_TTL = 10.0  # seconds a schema check holds: it changes only by `lanjutkan db upgrade`
# Headers a reverse proxy adds: a request carrying one came from outside, whatever the proxy's address
PROXIED = ("x-forwarded-for", "forwarded", "x-real-ip")


@dataclass(frozen=True, slots=True)
class Observability:
    """The server's settings for ``/readyz`` and ``/metrics`` (``Settings.observability``)."""

    metrics: bool = True  # LANJUTKAN_METRICS
    metrics_allow: tuple[str, ...] = DEFAULT_ALLOW  # LANJUTKAN_METRICS_ALLOW
    stale_after: float = STALE_AFTER  # seconds of failing calls before a channel is not ready


class SchemaCheck:
    """Whether the database is at alembic's head, checked in a thread and held for ``ttl`` seconds."""

    def __init__(self, database_url: str, *, ttl: float = SCHEMA_TTL) -> None:
        self.database_url = database_url
        self.ttl = ttl
        self._result: tuple[float, bool] | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> bool | None:
        """True at head, False behind (or ahead), None when it could not be read."""
        async with self._lock:  # one check at a time; those waiting get its result
            if self._result is not None and time.monotonic() - self._result[0] < self.ttl:
                return self._result[1]
            from models.migrate import is_current

            try:
                current = await asyncio.to_thread(is_current, self.database_url)
            except Exception as error:  # unreachable: not cached, the next probe asks again
                log.warning("readiness: schema not read: %s", type(error).__name__)
                return None
            self._result = (time.monotonic(), current)
            return current


def build_server(
    services: Services,
    *,
    health: Health | None = None,
    metrics: Metrics | None = None,
    observability: Observability | None = None,
) -> FastAPI:
    """The application with its routes; the caller runs it (uvicorn) next to the channels. Without
    ``metrics``, ``/metrics`` is not served; without ``health``, ``/readyz`` checks the database only."""
    app = FastAPI(title="LANJUTKAN", docs_url=None, redoc_url=None, openapi_url=None)
    options = observability or Observability()
    health = health or Health(stale_after=options.stale_after)
    schema = SchemaCheck(services.database_url)
    allowed = Allowed(options.metrics_allow)

    async def database_up(where: str) -> bool:
        try:
            async with services.sessions() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        except Exception as error:  # unreachable, locked out, wrong password: by type only
            log.warning("%s: database unavailable: %s", where, type(error).__name__)
            services.events.database_error(where)
            return False
        return True

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the database answers, 503 otherwise (for a load balancer or systemd)."""
        if not await database_up("healthz"):
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 when the database answers at the current schema and no channel's calls have been failing
        for ``stale_after`` seconds; 503 otherwise. Each check in the body."""
        up = await database_up("readyz")
        current = await schema.current() if up else None
        channels_ready, channels = health.report()
        ready = up and current is True and channels_ready
        body = {
            "status": "ready" if ready else "not_ready",
            "database": {"ok": up},
            "schema": {"ok": current is True, "current": current},
            "channels": channels,
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    if metrics is not None and options.metrics:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        @app.get("/metrics")
        async def metrics_route(request: Request) -> Response:
            """Prometheus text format, to the allowed client addresses only (loopback by default)."""
            client = request.client.host if request.client is not None else None
            if client not in allowed or any(h in request.headers for h in PROXIED):
                return PlainTextResponse("Forbidden", status_code=403)
            await metrics.refresh()
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
