"""A bare pywa echo bot on the same server stack as `lanjutkan run`'s WhatsApp channel: the ceiling
``benchmarks/whatsapp.py`` compares our bot to.

The same pieces, without our application: FastAPI + uvicorn (configured as :mod:`bot.runtime` configures it:
no access log, no lifespan, h11 on asyncio), ``POST /whatsapp`` checked with pywa's
``utils.webhook_updates_validator`` (as :mod:`bot.channels.whatsapp.channel` does), answered 200 at once,
and one handler per message in the background: read with pywa's update types (Message, CallbackButton,
CallbackSelection, as :mod:`bot.channels.whatsapp.inbound` reads them) and answered with one
``send_message`` (one text) through pywa_async, on the client
:func:`bot.channels.whatsapp.client.build_client` makes (httpx, 64 connections, pointed at
``WHATSAPP_API_URL``). No database, no inbox, no per-person turn. The garbage collector is tuned as the
bot's start-up tunes it (:func:`bot.runtime.tune_memory`), so the comparison is of the code, not of the
collector's settings.

Run as a subprocess with the bot's environment (``WHATSAPP_PHONE_ID``, ``WHATSAPP_TOKEN``,
``WHATSAPP_APP_SECRET``, ``WHATSAPP_API_URL``, ``LANJUTKAN_PORT``): ``python benchmarks/echo_whatsapp.py``;
SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from fastapi import FastAPI, Request, Response  # noqa: E402
from fastapi.responses import PlainTextResponse  # noqa: E402
from pywa import utils as pywa_utils  # noqa: E402
from pywa_async import WhatsApp  # noqa: E402
from pywa_async.types import CallbackButton, CallbackSelection, Message  # noqa: E402
from pywa_async.types.base_update import RawUpdate  # noqa: E402

from bot.channels.whatsapp.client import build_client  # noqa: E402
from bot.runtime import GC_THRESHOLDS  # noqa: E402


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers (as bot.runtime): SIGTERM is handled below."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def build(client: WhatsApp, app_secret: str) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    handling: set[asyncio.Task[None]] = set()

    async def echo(delivery: dict[str, Any]) -> None:
        message = delivery["entry"][0]["changes"][0]["value"]["messages"][0]
        raw = RawUpdate(json.dumps(delivery).encode(), hmac_header=None, update_hash=message["id"])
        interactive = (message.get("interactive") or {}).get("type")
        update: Message | CallbackButton | CallbackSelection
        if interactive == "list_reply":
            update = CallbackSelection.from_update(client, raw)
        elif interactive == "button_reply":
            update = CallbackButton.from_update(client, raw)
        else:
            update = Message.from_update(client, raw)
        text = getattr(update, "text", None) or getattr(update, "title", None) or "ok"
        try:
            await client.send_message(to=update.from_user.wa_id or update.from_user.bsuid, text=text)
        except Exception as error:  # the benchmark counts what reached the fake
            print(f"echo: send failed: {type(error).__name__}", file=sys.stderr, flush=True)

    @app.get("/healthz")
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.post("/whatsapp")
    async def receive(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("x-hub-signature-256")
        if not signature:
            return PlainTextResponse("Unauthorized", status_code=401)
        if not pywa_utils.webhook_updates_validator(
            app_secret=app_secret, request_body=body, x_hub_signature=signature
        ):
            return PlainTextResponse("Forbidden", status_code=403)
        payload = json.loads(body)
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                for message in value.get("messages") or []:
                    single = {**change, "value": {**value, "messages": [message]}}
                    one = {**payload, "entry": [{**entry, "changes": [single]}]}
                    task = asyncio.create_task(echo(one))
                    handling.add(task)
                    task.add_done_callback(handling.discard)
        return PlainTextResponse("OK")

    return app


async def main() -> None:
    client = build_client(
        phone_id=os.environ["WHATSAPP_PHONE_ID"],
        token=os.environ["WHATSAPP_TOKEN"],
        api_url=os.environ["WHATSAPP_API_URL"],
    )
    app = build(client, os.environ["WHATSAPP_APP_SECRET"])
    config = uvicorn.Config(
        app,
        host=os.environ.get("LANJUTKAN_HOST", "127.0.0.1"),
        port=int(os.environ["LANJUTKAN_PORT"]),
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, lambda: setattr(server, "should_exit", True))
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    await server.serve()


if __name__ == "__main__":
    asyncio.run(main())
