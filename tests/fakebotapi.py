"""A fake Telegram Bot API server on loopback HTTP, for end-to-end tests and benchmarks.

It speaks enough of the Bot API for python-telegram-bot's long polling and our calls: getMe, getUpdates
(long poll), sendMessage, answerCallbackQuery, editMessageReplyMarkup, editMessageText, deleteWebhook.
Tests push updates as a simulated person would send them and read what the bot sent back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 7000000001
TOKEN = "7000000001:fake-token-for-loopback-tests-only"


@dataclass
class SentMessage:
    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)

    @property
    def buttons(self) -> list[dict[str, str]]:
        """Inline buttons, flattened: [{"text": ..., "callback_data": ...}]."""
        if not self.reply_markup or "inline_keyboard" not in self.reply_markup:
            return []
        return [b for row in self.reply_markup["inline_keyboard"] for b in row]

    def button(self, label_part: str) -> dict[str, str]:
        for b in self.buttons:
            if label_part.lower() in b["text"].lower():
                return b
        raise KeyError(f"no button with {label_part!r} in {[b['text'] for b in self.buttons]}")


class FakeBotApi:
    """The server; ``base_url`` goes into TELEGRAM_API_URL / PTB's ``base_url``."""

    def __init__(self, *, latency: float = 0.0, host: str = "127.0.0.1") -> None:
        self.latency = latency
        self.host = host
        self.port = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[SentMessage] = []
        self.edits: list[dict[str, Any]] = []
        self.answered: list[str] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self._new_message = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.record_calls = True

    # ------------------------------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    async def start(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------- what a person does

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": "id"}

    def _chat(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "type": "private", "first_name": f"User{user_id}"}

    def _update(self, content: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **content}

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update for the bot's next getUpdates."""
        self._updates.append(update)
        self._new_update.set()
        return int(update["update_id"])

    def _message(self, user_id: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(user_id),
            "from": self._user(user_id),
            **content,
        }

    def text_update(self, user_id: int, text: str) -> dict[str, Any]:
        """The person types ``text``; commands get their bot_command entity like real clients send."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            length = len(text.split()[0])
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._update({"message": self._message(user_id, **content)})

    def contact_update(self, user_id: int, phone: str, contact_user_id: int | None = None) -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": "Kontak", "user_id": contact_user_id or user_id}
        return self._update({"message": self._message(user_id, contact=contact)})

    def sticker_update(self, user_id: int) -> dict[str, Any]:
        sticker = {
            "file_id": "CAAC", "file_unique_id": "AQAD", "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False,
        }  # fmt: skip
        return self._update({"message": self._message(user_id, sticker=sticker)})

    def send_text(self, user_id: int, text: str) -> int:
        return self.push(self.text_update(user_id, text))

    def send_contact(self, user_id: int, phone: str, contact_user_id: int | None = None) -> int:
        return self.push(self.contact_update(user_id, phone, contact_user_id))

    def send_sticker(self, user_id: int) -> int:
        return self.push(self.sticker_update(user_id))

    def press(self, user_id: int, message: SentMessage, data: str) -> int:
        """The person presses a button of a message the bot sent (or forges ``data``)."""
        return self.push(self.press_update(user_id, message, data))

    def press_update(self, user_id: int, message: SentMessage, data: str) -> dict[str, Any]:
        query = {
            "id": str(next(self._query_ids)),
            "from": self._user(user_id),
            "chat_instance": str(user_id),
            "data": data,
            "message": {
                "message_id": message.message_id,
                "date": int(time.time()),
                "chat": self._chat(message.chat_id),
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Lanjutkan"},
                "text": message.text,
                **({"reply_markup": message.reply_markup} if message.reply_markup else {}),
            },
        }
        return self._update({"callback_query": query})

    # ------------------------------------------------------------------------------ what the bot sent

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    async def wait_for(self, chat_id: int, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until ``chat_id`` has received at least ``count`` messages in all; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.messages_to(chat_id)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = [m.text[:60] for m in self.messages_to(chat_id)]
                raise TimeoutError(f"chat {chat_id}: wanted {count} messages, got {len(got)}: {got}")
            self._new_message.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_message.wait(), remaining)
        return self.messages_to(chat_id)

    async def next_reply(self, chat_id: int, timeout: float = 10.0) -> SentMessage:
        """Wait for one more message to ``chat_id`` than it had when called."""
        have = len(self.messages_to(chat_id))
        return (await self.wait_for(chat_id, have + 1, timeout))[-1]

    # -------------------------------------------------------------------------------------- the server

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json() if request.can_read_body else {}
        else:
            data = dict(await request.post())
        params: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, str) and value[:1] in "{[":
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            params[key] = value
        return params

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:  # as Telegram answers a revoked or mistyped token
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        result = await self.call(request.match_info["method"], await self._params(request))
        return web.json_response({"ok": True, "result": result})

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Answer one Bot API call; used over HTTP, and directly by the offline request of unit tests."""
        if self.record_calls:
            self.calls.append((method, params))
        if self.latency and method != "getUpdates":
            await asyncio.sleep(self.latency)
        handler = getattr(self, f"_api_{method}", None)
        return await handler(params) if handler else True

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID, "is_bot": True, "first_name": "Lanjutkan", "username": "LanjutkanTestBot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False,
        }  # fmt: skip

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        # Confirmed updates (below offset) are forgotten, as Telegram does.
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), min(timeout, 1.0))
        return self._updates[:limit]

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = SentMessage(
            chat_id, next(self._message_ids), str(params.get("text", "")), params.get("reply_markup")
        )
        self.sent.append(message)
        self._new_message.set()
        result: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Lanjutkan"},
            "text": message.text,
        }
        if isinstance(message.reply_markup, dict) and "inline_keyboard" in message.reply_markup:
            result["reply_markup"] = message.reply_markup
        return result

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.answered.append(str(params.get("callback_query_id")))
        return True

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> bool:
        self.edits.append(params)
        return True

    async def _api_editMessageText(self, params: dict[str, Any]) -> bool:
        self.edits.append(params)
        return True
