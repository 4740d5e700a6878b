"""A fake Telegram Bot API server on loopback HTTP, for end-to-end tests and benchmarks.

It speaks enough of the Bot API for python-telegram-bot's long polling and our calls: getMe, getUpdates
(long poll), sendMessage, answerCallbackQuery, editMessageReplyMarkup, editMessageText, deleteMessage,
setWebhook and deleteWebhook (getUpdates answers 409 while a webhook is set, as Telegram does).
Tests push updates as a simulated person would send them and read what the bot sent back.

For the outbox it can also behave like Telegram under load and trouble, on sendMessage and editMessageText
only (the calls that put a message in a chat):

- **Limits** (``enforce_limits=True``, off by default): at most ``per_second`` accepted calls in any sliding
  one-second window overall and ``chat_interval`` seconds between two accepted calls to one chat, checked
  when a call arrives; beyond them it answers 429 with an integer ``retry_after`` (>= 1), as Telegram does,
  and counts it in ``too_many``.
- **Faults**: ``fail_next`` (5xx), ``time_out_next`` (no answer until the client gives up), ``flood_next``
  (429), and for good ``block`` (403, the person blocked the bot) and ``forget_chat`` (400, chat not found).

**Random faults** (``inject_faults(share, seed=...)``, off by default) are for chaos runs: a ``share`` of
every call that writes to a chat or answers a press (``FAULTY_METHODS``: sendMessage, editMessageText,
editMessageReplyMarkup, answerCallbackQuery, sendPhoto, sendDocument) fails at random, evenly among 429
with a ``retry_after``, 5xx, and no answer before the client gives up (half of those carried out, the answer
lost on the way back). getUpdates, getMe and the start-up calls keep working: the inbox's guarantees are
about what the bot does with the updates it got, and a failing getUpdates only makes polling retry.

Every such call is logged in ``arrivals`` (when it arrived, for which chat, what was answered, and the
``retry_after`` of a 429); a refused call is never recorded as sent. ``sends_in_flood_windows`` counts the
calls that arrived while a 429 said to wait. Errors are raised as :class:`ApiError` inside
:meth:`FakeBotApi.call` and reach the client as Telegram's HTTP status and JSON body, over HTTP and through
``tests.offline``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import itertools
import json
import math
import random
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from aiohttp import web

from tests.fakes import serve, wait_for_count

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


class ApiError(Exception):
    """A Bot API error answer: the HTTP status, Telegram's description and its ``parameters``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        """The JSON Telegram answers with."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


BLOCKED = (403, "Forbidden: bot was blocked by the user")
CHAT_NOT_FOUND = (400, "Bad Request: chat not found")
EDIT_NOT_FOUND = (400, "Bad Request: message to edit not found")
TIMEOUT = 0  # the "status" of a fault that answers nothing before the client gives up

# the calls limits and faults apply to
MESSAGE_METHODS = frozenset({"sendMessage", "editMessageText", "sendPhoto"})
# the calls random faults (inject_faults) apply to
FAULTY_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
        "sendPhoto",
        "sendDocument",
    }
)


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


@dataclass
class Fault:
    """The next ``remaining`` message calls (to ``chat_id``, or any chat) fail this way."""

    status: int  # the HTTP status answered, or TIMEOUT: no answer before the client's timeout
    remaining: int
    chat_id: int | None = None
    delivered: bool = False  # TIMEOUT only: the message arrives, its answer is lost on the way back
    retry_after: int = 1  # 429 only


@dataclass
class RandomFaults:
    """What :meth:`FakeBotApi.inject_faults` set: the share of calls that fail and the dice."""

    share: float
    rng: random.Random
    max_retry_after: int = 2
    injected: collections.Counter[str] = field(default_factory=collections.Counter)  # by kind
    lost: list[tuple[str, int | None]] = field(default_factory=list)  # (method, chat) never carried out


@dataclass(frozen=True)
class Arrival:
    """One sendMessage/editMessageText call as it arrived, and its fate: the HTTP status answered, 0 for
    a request lost on the way, 200 for a message accepted (even when its answer is then lost)."""

    at: float  # time.monotonic()
    method: str
    chat_id: int | None
    status: int
    retry_after: int | None = None  # 429 only: the seconds the answer said to wait


def _retry_after(error: ApiError) -> int | None:
    """The seconds a 429 answer says to wait; None for other errors."""
    return int(error.parameters["retry_after"]) if error.code == 429 and error.parameters else None


@dataclass
class SentDocument:
    chat_id: int
    filename: str
    content: bytes
    caption: str | None


class FakeBotApi:
    """The server; ``base_url`` goes into TELEGRAM_API_URL / PTB's ``base_url``."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        enforce_limits: bool = False,
        per_second: int = 30,
        chat_interval: float = 1.0,
        hang_for: float = 30.0,
    ) -> None:
        self.latency = latency
        self.host = host
        # Telegram's limits, checked when a message call arrives (see the module's docstring).
        self.enforce_limits = enforce_limits
        self.per_second = per_second
        self.chat_interval = chat_interval
        self.too_many = 0  # 429s answered (limits and flood_next)
        self.hang_for = hang_for  # how long a timed-out call stays unanswered (the client gives up first)
        self.arrivals: list[Arrival] = []
        self.faults: list[Fault] = []
        self.blocked: set[int] = set()
        self.unknown_chats: set[int] = set()
        self._window: collections.deque[float] = collections.deque()  # accepted calls of the last second
        self._chat_last: dict[int, float] = {}  # when each chat last had a call accepted
        self._closing = asyncio.Event()
        self.port = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[SentMessage] = []
        self.edits: list[dict[str, Any]] = []
        self.deleted: list[tuple[int, int]] = []  # (chat_id, message_id) of deleteMessage calls
        self.answered: list[str] = []
        self.documents: list[SentDocument] = []
        self.photos: list[SentDocument] = []
        self._updates: list[dict[str, Any]] = []
        # setWebhook's parameters while a webhook is set (getUpdates is then refused, as Telegram does)
        self.webhook: dict[str, Any] | None = None
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self._new_message = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.record_calls = True
        self.random_faults: RandomFaults | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot"

    async def start(self) -> FakeBotApi:
        self._closing.clear()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner, self.port = await serve(app, self.host)
        return self

    async def stop(self) -> None:
        self._closing.set()  # calls left hanging answer now, so the server can close
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

    # ------------------------------------------------------------------------------ Telegram in trouble

    def fail_next(self, count: int, *, status: int = 500, chat_id: int | None = None) -> None:
        """The next ``count`` message calls (to ``chat_id``, or any) answer ``status`` (a 5xx)."""
        self.faults.append(Fault(status, count, chat_id))

    def time_out_next(self, count: int, *, chat_id: int | None = None, delivered: bool = False) -> None:
        """The next ``count`` message calls get no answer for ``hang_for`` seconds (the client times out).

        By default the request is lost on the way (nothing is sent); ``delivered=True`` loses the answer on
        the way back instead: the message is in the chat, but the client cannot know it.
        """
        self.faults.append(Fault(TIMEOUT, count, chat_id, delivered=delivered))

    def flood_next(self, count: int, *, retry_after: int = 1, chat_id: int | None = None) -> None:
        """The next ``count`` message calls answer 429 with ``retry_after`` seconds, limits or not."""
        self.faults.append(Fault(429, count, chat_id, retry_after=retry_after))

    def block(self, chat_id: int) -> None:
        """The person blocked the bot: every message call to the chat answers 403 from now on."""
        self.blocked.add(chat_id)

    def forget_chat(self, chat_id: int) -> None:
        """The chat does not exist: every message call to it answers 400 "chat not found" from now on."""
        self.unknown_chats.add(chat_id)

    def inject_faults(self, share: float, *, seed: int = 0, max_retry_after: int = 2) -> RandomFaults | None:
        """From now on a ``share`` of the FAULTY_METHODS calls fail at random (see the module's docstring);
        ``share=0`` stops it. Returns the record of what is injected."""
        self.random_faults = RandomFaults(share, random.Random(seed), max_retry_after) if share > 0 else None
        return self.random_faults

    async def _random_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        """Roll the dice for one call: raise its error (after hanging, for a lost request), return a
        lost-answer fault to apply once it is carried out, or None to let it through."""
        faults = self.random_faults
        if faults is None or method not in FAULTY_METHODS or faults.rng.random() >= faults.share:
            return None
        chat_id = int(params["chat_id"]) if "chat_id" in params else None
        kind = faults.rng.choice(("429", "5xx", "timeout"))
        if kind == "timeout" and faults.rng.random() < 0.5:
            kind = "lost_answer"
        faults.injected[kind] += 1
        if kind == "lost_answer":
            return Fault(TIMEOUT, 1, chat_id, delivered=True)
        faults.lost.append((method, chat_id))
        error = ApiError(504, "Gateway Timeout")
        if kind == "429":
            error = too_many_requests(faults.rng.randint(1, faults.max_retry_after))
        elif kind == "5xx":
            status = faults.rng.choice((500, 502, 503))
            error = ApiError(status, HTTPStatus(status).phrase)
        if method in MESSAGE_METHODS:
            status = TIMEOUT if kind == "timeout" else error.code
            self.arrivals.append(Arrival(time.monotonic(), method, chat_id, status, _retry_after(error)))
        if kind == "timeout":
            await self._hang()
        raise error

    def _fault_for(self, chat_id: int | None) -> Fault | None:
        for fault in self.faults:
            if fault.chat_id is None or fault.chat_id == chat_id:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _over_limit(self, chat_id: int | None, now: float) -> int | None:
        """Seconds to wait (Telegram's integer retry_after) if accepting a call now breaks a limit."""
        window = self._window
        while window and window[0] <= now - 1.0:
            window.popleft()
        waits = []
        if len(window) >= self.per_second:
            waits.append(window[0] + 1.0 - now)
        last = self._chat_last.get(chat_id) if chat_id is not None else None
        if last is not None and now - last < self.chat_interval:
            waits.append(last + self.chat_interval - now)
        return max(1, math.ceil(max(waits))) if waits else None

    async def _admit(self, method: str, params: dict[str, Any]) -> Fault | None:
        """Decide a message call's fate on arrival: raise its error, or let it through (with a lost-answer
        fault to apply after it is handled)."""
        now = time.monotonic()
        chat_id = int(params["chat_id"]) if "chat_id" in params else None
        fault = self._fault_for(chat_id)
        error: ApiError | None = None
        if fault is not None and fault.status == TIMEOUT:
            if fault.delivered:
                self._accept(method, chat_id, now, 200)
                return fault
            self.arrivals.append(Arrival(now, method, chat_id, TIMEOUT))
            await self._hang()
            raise ApiError(504, "Gateway Timeout")
        if fault is not None and fault.status == 429:
            error = too_many_requests(fault.retry_after)
        elif fault is not None:
            error = ApiError(fault.status, HTTPStatus(fault.status).phrase)
        elif self.enforce_limits and (wait := self._over_limit(chat_id, now)) is not None:
            error = too_many_requests(wait)
        elif chat_id in self.blocked:
            error = ApiError(*BLOCKED)
        elif chat_id in self.unknown_chats:
            error = ApiError(*CHAT_NOT_FOUND)
        elif method == "editMessageText" and self._stored(params) is None:
            error = ApiError(*EDIT_NOT_FOUND)
        if error is not None:
            if error.code == 429:
                self.too_many += 1
            self.arrivals.append(Arrival(now, method, chat_id, error.code, _retry_after(error)))
            raise error
        self._accept(method, chat_id, now, 200)
        return None

    def _accept(self, method: str, chat_id: int | None, now: float, status: int) -> None:
        self.arrivals.append(Arrival(now, method, chat_id, status))
        self._window.append(now)
        if chat_id is not None:
            self._chat_last[chat_id] = now

    def sends_in_flood_windows(self, margin: float = 0.25) -> int:
        """Message calls (any chat, any fate) that arrived while a 429 said to wait: at ``a`` with
        ``t + margin < a < t + retry_after`` for a 429 answered at ``t``; each call counted once.

        ``margin`` spares the calls already on their way when the 429 was answered: sent before the
        client could know, they are not its fault. Only MESSAGE_METHODS calls are in ``arrivals``, so a 429
        to another call (answerCallbackQuery, under random faults) opens no window here.
        """
        windows = sorted((a.at + margin, a.at + a.retry_after) for a in self.arrivals if a.retry_after)
        inside = 0
        reach = -math.inf  # the latest end of the windows opened before the call
        i = 0
        for at in sorted(a.at for a in self.arrivals):
            while i < len(windows) and windows[i][0] < at:
                reach = max(reach, windows[i][1])
                i += 1
            inside += at < reach
        return inside

    async def _hang(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.hang_for):
                await self._closing.wait()

    # ------------------------------------------------------------------------------ what the bot sent

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.sent if m.chat_id == chat_id]

    async def wait_for(self, chat_id: int, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until ``chat_id`` has received at least ``count`` messages in all; return them all."""
        read = functools.partial(self.messages_to, chat_id)
        return await wait_for_count(read, self._new_message, count, timeout, f"chat {chat_id}")

    async def next_reply(self, chat_id: int, timeout: float = 10.0) -> SentMessage:
        """Wait for one more message to ``chat_id`` than it had when called."""
        have = len(self.messages_to(chat_id))
        return (await self.wait_for(chat_id, have + 1, timeout))[-1]

    def _stored(self, params: dict[str, Any]) -> int | None:
        """Where in ``sent`` the message a call names (chat_id, message_id) is, if the bot sent it."""
        chat_id = int(params.get("chat_id") or 0)
        message_id = int(params.get("message_id") or 0)
        for i in range(len(self.sent) - 1, -1, -1):
            if self.sent[i].message_id == message_id and self.sent[i].chat_id == chat_id:
                return i
        return None

    # -------------------------------------------------------------------------------------- the server

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data = await request.json() if request.can_read_body else {}
        else:
            data = dict(await request.post())
        params: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, web.FileField):  # an uploaded file (sendDocument)
                params[key] = {"filename": value.filename, "content": value.file.read()}
                continue
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
        try:
            result = await self.call(request.match_info["method"], await self._params(request))
        except ApiError as error:
            return web.json_response(error.body(), status=error.code)
        return web.json_response({"ok": True, "result": result})

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Answer one Bot API call; used over HTTP, and directly by the offline request of unit tests.

        Raises :class:`ApiError` for an error answer (limits, faults, unknown messages).
        """
        if self.record_calls:
            self.calls.append((method, params))
        injected = await self._random_fault(method, params) if self.random_faults is not None else None
        lost_answer = await self._admit(method, params) if method in MESSAGE_METHODS else None
        lost_answer = lost_answer or injected
        if self.latency and method != "getUpdates":
            await asyncio.sleep(self.latency)
        handler = getattr(self, f"_api_{method}", None)
        result = await handler(params) if handler else True
        if lost_answer is not None:  # done, but the answer never reaches the client
            await self._hang()
            raise ApiError(504, "Gateway Timeout")
        return result

    async def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID, "is_bot": True, "first_name": "Lanjutkan", "username": "LanjutkanTestBot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False,
        }  # fmt: skip

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = dict(params)
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
                "delete the webhook first"
            )  # fmt: skip
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

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        """A file the bot sends: kept in ``documents`` (name, bytes, caption) for the test to open."""
        sent, message = self._file_message(params, "document")
        self.documents.append(sent)
        document = {"file_id": "BQAC", "file_unique_id": "AgAD", "file_name": sent.filename}
        return message | {"document": document}

    async def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        """A picture the bot sends (the summary's chart): kept in ``photos`` for the test to open."""
        sent, message = self._file_message(params, "photo")
        self.photos.append(sent)
        photo = {"file_id": "AgAC", "file_unique_id": "AQAD", "width": 1080, "height": 800}
        return message | {"photo": [photo]}

    def _file_message(self, params: dict[str, Any], field: str) -> tuple[SentDocument, dict[str, Any]]:
        """The uploaded file of a sendDocument/sendPhoto call, and the answering message but its file."""
        chat_id = int(params["chat_id"])
        upload = params.get(field)
        if isinstance(upload, str) and upload.startswith("attach://"):
            upload = params.get(upload.removeprefix("attach://"))
        if not isinstance(upload, dict):
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        sent = SentDocument(chat_id, str(upload["filename"]), bytes(upload["content"]), params.get("caption"))
        self._new_message.set()
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Lanjutkan"},
            **({"caption": sent.caption} if sent.caption else {}),
        }
        return sent, message

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        self.answered.append(str(params.get("callback_query_id")))
        return True

    async def _api_deleteMessage(self, params: dict[str, Any]) -> bool:
        """Remove a message (the bot's or, in a private chat, the person's): recorded in ``deleted``."""
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        self.deleted.append((chat_id, message_id))  # kept in ``sent`` too: tests count what a chat received
        return True

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> bool:
        self.edits.append(params)
        return True

    async def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        """Replace a message's text and inline keyboard (none when the call carries none), as Telegram does.

        The stored message is replaced by an updated copy in ``sent``: ``messages_to`` shows the current
        state, a SentMessage a test kept shows the message as it was.
        """
        found = self._stored(params)
        if found is None:
            raise ApiError(*EDIT_NOT_FOUND)
        self.edits.append(params)
        markup = params.get("reply_markup")
        new = dataclasses.replace(self.sent[found], text=str(params.get("text", "")), reply_markup=markup)
        self.sent[found] = new
        self._new_message.set()
        result: dict[str, Any] = {
            "message_id": new.message_id,
            "date": int(time.time()),
            "edit_date": int(time.time()),
            "chat": self._chat(new.chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Lanjutkan"},
            "text": new.text,
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            result["reply_markup"] = markup
        return result
