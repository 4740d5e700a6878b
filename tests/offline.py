"""An offline request object for PTB: Bot API calls are answered in-process by :class:`FakeBotApi`.

The same idea as python-telegram-bot's own test suite: the real ``Application`` and ``Bot``, no network.
Error answers come back as Telegram sends them (HTTP status and JSON body), so PTB raises its own errors;
a call given an explicit read timeout (the outbox courier's) times out as it would over HTTP.
"""

from __future__ import annotations

import asyncio
import json

from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from tests.fakebotapi import ApiError, FakeBotApi


class OfflineRequest(BaseRequest):
    """Hands every Bot API call to a :class:`FakeBotApi` without HTTP."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = json.loads(json.dumps(request_data.parameters)) if request_data else {}
        if request_data is not None and request_data.contains_files:  # sendDocument: the file as uploaded
            for name, (filename, content, _) in request_data.multipart_data.items():
                params[name] = {"filename": filename, "content": content}
        timeout = None if isinstance(read_timeout, DefaultValue) else read_timeout
        try:
            async with asyncio.timeout(timeout):
                result = await self.api.call(api_method, params)
        except ApiError as error:
            return error.code, json.dumps(error.body()).encode()
        except TimeoutError as error:
            raise TimedOut from error
        return 200, json.dumps({"ok": True, "result": result}).encode()
