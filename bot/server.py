"""The HTTP server: health today; the webhooks of WhatsApp (and of Telegram in production mode) next.

One FastAPI application for every route, run by uvicorn on ``LANJUTKAN_HOST:LANJUTKAN_PORT`` behind a
reverse proxy with HTTPS. Routes answer from the database, never from memory, so several processes
behind one proxy answer alike.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from handlers.context import Services

log = logging.getLogger(__name__)


def build_server(services: Services) -> FastAPI:
    """The application with its routes; the caller runs it (uvicorn) next to the channels."""
    app = FastAPI(title="LANJUTKAN", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the database answers, 503 otherwise (for a load balancer or systemd)."""
        try:
            async with services.sessions() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        except Exception as error:  # unreachable, locked out, wrong password: by type only
            log.warning("health check: database unavailable: %s", type(error).__name__)
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    return app
