"""A fake of Meta's WhatsApp Cloud API (the Graph API) on loopback HTTP, for the WhatsApp channel's tests.

It plays the part :mod:`tests.fakebotapi` plays for Telegram: the bot's pywa_async client sends to it, and the
test builds the signed webhooks Meta would POST to the bot and reads what the bot sent back.

**What pywa 4.5 does, read from its sources** (``pywa/api.py``, ``pywa/_helpers.py``, ``pywa/errors.py``,
``pywa/server.py``):

- The Graph API address is fixed: ``GraphAPI.__init__`` sets ``session.base_url =
  f"https://graph.facebook.com/v{api_version}"`` on the httpx client given as ``WhatsApp(session=...)``
  (``api_version`` is turned into a float: ``"23.0"`` -> ``/v23.0``). There is no base URL parameter, so
  :meth:`FakeWhatsApp.session` gives an ``httpx.AsyncClient`` whose transport sends every request to the fake
  (path kept, scheme/host/port replaced). ``server=None`` gives a client that only sends; webhooks are fed to
  ``await wa.webhook_update_validator(body, signature)`` and ``await wa.webhook_update_handler(body)``.
- Sends are ``POST /{phone_id}/messages`` with JSON ``{"messaging_product": "whatsapp", "recipient_type":
  "individual", "to": wa_id | "recipient": bsuid, "type": t, t: {...}}``: text ``{"body", "preview_url"}``;
  reply buttons ``interactive {"type": "button", "body": {"text"}, "action": {"buttons": [{"type": "reply",
  "reply": {"id", "title"}}]}}``; lists ``interactive {"type": "list", "action": {"button", "sections":
  [{"title", "rows": [{"id", "title", "description"?}]}]}}``; media ``{"id" | "link", "caption"?,
  "filename"?}`` after a multipart ``POST /{phone_id}/media`` (fields ``file``, ``messaging_product``,
  ``type``) answering ``{"id"}``; templates ``{"name", "language": {"code"}, "components"?}``. Mark as read
  (and the typing indicator) is ``POST /{phone_id}/messages`` with ``{"status": "read", "message_id"}``
  answering ``{"success": true}``. Templates are created with ``POST /{waba_id}/message_templates``.
  pywa checks none of Meta's length or count limits itself.
- An answer >= 400 becomes ``WhatsAppError.from_dict(body["error"])``, whose class is chosen by
  ``error.code`` alone (the HTTP status is ignored): 190 ExpiredAccessToken, 130429 RateLimitHit,
  131056 TooManyMessages, 131026 MessageUndeliverable, 131047 ReEngagementMessage, 131009
  InvalidParameter, 131008 MissingRequiredParameter, 132001 TemplateNotExists, 131000 UnknownError,
  131016 ServiceUnavailable; codes it does not know (100, 1, 2) give the base ``WhatsAppError``. So the
  fake answers Meta's 131009 for every payload it refuses (Meta answers some of them, e.g. a text body over
  4096 characters, with 100 "Invalid parameter", which pywa cannot tell from any other error).
- The webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, key app_secret>``;
  missing -> ("Unauthorized", 401), wrong -> ("Forbidden", 403). Updates need ``contacts[0].user_id`` (the
  business-scoped user id, "BSUID", ``CC.digits``; pywa's ``User.from_contact`` reads ``data["user_id"]``),
  ``wa_id`` is optional (absent for a person who chose a username); status updates need ``contacts`` too.
  ``interactive.button_reply`` -> CallbackButton, ``list_reply`` -> CallbackSelection (which needs
  ``context``), a template's quick reply (``type: "button"``, ``button: {payload, text}``) -> CallbackButton.

**Meta's rules it applies** (https://developers.facebook.com/documentation/business-messaging/whatsapp/):

- Authorization: ``Authorization: Bearer <token>``; wrong or missing -> HTTP 401, OAuthException code 190.
- Payloads (HTTP 400, code 131009): text body 1..4096; reply buttons 1..3, title 1..20, id 1..256, ids
  unique, body 1..1024; list: button text 1..20, 1..10 sections, 1..10 rows in all, section title <= 24
  (required with several sections), row title 1..24, description <= 72, row id 1..200, ids unique, body
  1..4096; header text <= 60 and footer <= 60 for both; media caption <= 1024; a media id must be one
  uploaded.
- Limits (``enforce_limits=True`` by default): throughput, at most ``per_second`` (80) accepted sends in any
  one-second window per business number -> 130429; pair rate, a token bucket per recipient of ``pair_burst``
  (Meta documents bursts of 45) refilled one per ``pair_interval`` (6 s) -> 131056. Both answer HTTP 400, as
  the Graph API does. Meta also counts inbound messages in the throughput; the fake does not.
- The 24-hour customer service window (``enforce_window=True``): a free-form (non-template) message to a
  person whose last inbound message (``last_inbound``, wall seconds of ``clock``) is older than 24 h, or who
  never wrote, is accepted (200 and a ``wamid``) and then fails: a ``failed`` status webhook with 131047 is
  queued for :meth:`FakeWhatsApp.pending_statuses`. Templates are delivered whatever the window.
- ``block(wa_id)``: the person cannot get messages: 131026 "Message undeliverable", answered at once (HTTP
  400) by default; ``block(wa_id, via_webhook=True)`` does what Meta mostly does, accept and then report it
  in a ``failed`` status webhook.

**Faults** (as in the Telegram fake): ``fail_next`` (5xx: 500 -> 131000, 503 -> 131016, others code 2),
``time_out_next`` (no answer; ``delivered=True`` loses only the answer), ``inject_faults(share, seed)`` (a
share of sends, uploads and read marks fail evenly among 130429, 5xx and no answer). Every call is in
``arrivals`` (when, what, for whom, the HTTP status and Meta code); a refused message is never in ``sent``.

**Webhooks** the test posts to the bot's ``/whatsapp`` endpoint: ``text_update``, ``button_reply`` (or
``press``), ``list_reply``, ``quick_reply_from_template``, ``username_text_update`` (no wa_id), and
``status_update`` (sent, delivered, read, failed with a code) return a :class:`Webhook` ``(body, headers)``
signed with ``app_secret``; ``forged`` spoils or drops the signature. Building an inbound message opens that
person's 24-hour window at once (``at=`` backdates it). ``pending_statuses()`` hands over the status
webhooks the fake queued itself (failures; sent and delivered too with ``report_delivery=True``).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import hashlib
import hmac
import itertools
import json
import random
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, NamedTuple

import httpx
from aiohttp import web

from tests.fakes import serve, wait_for_count

PHONE_ID = "106540352242922"  # the business number's Phone Number ID
WABA_ID = "102290129340398"  # the WhatsApp Business Account that owns it
DISPLAY_PHONE = "6281100000000"  # its number, as webhooks show it
TOKEN = "EAAFakeLoopbackTokenForTestsOnly0000000000000000000000000000"
APP_SECRET = "fake-app-secret-for-loopback-tests-only"
VERIFY_TOKEN = "fake-verify-token"
API_VERSION = "23.0"
DAY = 24 * 3600.0
_BSUID = re.compile(r"[A-Z]{2}\.(ENT\.)?\w+")  # a business-scoped user id: country, ".", up to 128 chars
TIMEOUT = 0  # the "status" of a call answered with nothing before the client gives up

# Meta's error texts: code -> (title as in "(#code) title", error_data.details)
ERRORS: dict[int, tuple[str, str]] = {
    2: ("Service temporarily unavailable", "Temporary error; retry."),
    100: ("Invalid parameter", "Invalid parameter"),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    131000: ("Something went wrong", "Message failed to send due to an unknown error."),
    131008: ("Required parameter is missing", "A required parameter is missing."),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid."),
    131016: ("Service unavailable", "A service is temporarily unavailable."),
    131026: (
        "Message undeliverable",
        "Unable to deliver message. Reasons can include: the recipient's phone number is not a WhatsApp "
        "phone number; the recipient has not accepted the new Terms of Service; the recipient uses an old "
        "WhatsApp version.",
    ),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to "
        "this number.",
    ),
    131053: ("Media upload error", "Unable to upload the media used in the message."),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the "
        "same phone number in a short period of time.",
    ),
    132001: ("Template name does not exist in the translation", "template name does not exist"),
}

# what fail_next / time_out_next / inject_faults apply to ("read" is a mark-as-read or typing call)
FAULTY_METHODS = frozenset({"messages", "media", "read"})
SUPPORTED_MEDIA = {  # MIME type -> the most bytes Meta takes
    "image/jpeg": 5 << 20, "image/png": 5 << 20, "image/webp": 500 << 10,
    "application/pdf": 100 << 20, "text/plain": 100 << 20, "text/csv": 100 << 20,
    "application/vnd.ms-excel": 100 << 20, "application/msword": 100 << 20,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 << 20,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 << 20,
    "audio/mpeg": 16 << 20, "audio/ogg": 16 << 20, "video/mp4": 16 << 20,
}  # fmt: skip
MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")


def _trace_id() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(23))


class ApiError(Exception):
    """A Graph API error answer: the HTTP status and Meta's error object."""

    def __init__(
        self,
        status: int,
        code: int,
        details: str | None = None,
        *,
        message: str | None = None,
        subcode: int | None = None,
        transient: bool | None = None,
    ) -> None:
        title, default_details = ERRORS.get(code, (HTTPStatus(status).phrase, ""))
        self.status = status
        self.code = code
        self.message = message or f"(#{code}) {title}"
        self.details = default_details if details is None else details
        self.subcode = subcode
        self.transient = transient
        super().__init__(f"{status} {self.message}: {self.details}")

    def body(self) -> dict[str, Any]:
        """The JSON Meta answers with."""
        error: dict[str, Any] = {"message": self.message, "type": "OAuthException", "code": self.code}
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = _trace_id()
        return {"error": error}

    def webhook_error(self) -> dict[str, Any]:
        """The same error as an entry of a status webhook's ``errors``."""
        title = ERRORS.get(self.code, (self.message, ""))[0]
        return {
            "code": self.code,
            "title": title,
            "message": title,
            "error_data": {"details": self.details},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }


def invalid(details: str) -> ApiError:
    """A payload Meta refuses: 131009, which pywa raises as InvalidParameter (see the module's docstring)."""
    return ApiError(400, 131009, details)


def server_error(status: int) -> ApiError:
    code = {500: 131000, 503: 131016}.get(status, 2)
    return ApiError(status, code, transient=True)


class ReplyButton(NamedTuple):
    id: str
    title: str


class ListRow(NamedTuple):
    id: str
    title: str
    description: str | None


@dataclass
class MediaFile:
    """An upload to ``/{phone_id}/media``: kept so a test can open the file the bot sent."""

    id: str
    filename: str
    mime_type: str
    content: bytes


@dataclass
class SentMessage:
    """A message the fake accepted, parsed from the JSON the client sent."""

    wamid: str
    to: str  # the person: their wa_id, or their user_id (BSUID) when no phone number is known
    payload: dict[str, Any]
    media: MediaFile | None = None  # the uploaded file a media message names by id
    failed: int | None = None  # the code of the failed status webhook reporting it (e.g. 131047)
    at: float = field(default_factory=time.monotonic)

    @property
    def type(self) -> str:
        """text, interactive, template, document, image, ..."""
        return str(self.payload.get("type"))

    @property
    def _content(self) -> dict[str, Any]:
        content = self.payload.get(self.type)
        return content if isinstance(content, dict) else {}

    @property
    def interactive_type(self) -> str | None:
        """button or list (for an interactive message)."""
        return self._content.get("type") if self.type == "interactive" else None

    @property
    def text(self) -> str:
        """The body text: text's body, an interactive message's body, a media caption; else ""."""
        content = self._content
        if self.type == "text":
            return str(content.get("body", ""))
        if self.type == "interactive":
            return str((content.get("body") or {}).get("text", ""))
        return str(content.get("caption", ""))

    @property
    def header(self) -> str | None:
        header = self._content.get("header") if self.type == "interactive" else None
        return header.get("text") if isinstance(header, dict) else None

    @property
    def footer(self) -> str | None:
        footer = self._content.get("footer") if self.type == "interactive" else None
        return footer.get("text") if isinstance(footer, dict) else None

    @property
    def buttons(self) -> list[ReplyButton]:
        """Reply buttons (id, title) of an interactive button message."""
        if self.interactive_type != "button":
            return []
        action = self._content.get("action") or {}
        return [ReplyButton(b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons", [])]

    def button(self, title_part: str) -> ReplyButton:
        for b in self.buttons:
            if title_part.lower() in b.title.lower():
                return b
        raise KeyError(f"no button with {title_part!r} in {[b.title for b in self.buttons]}")

    @property
    def list_button(self) -> str | None:
        """The text of the button that opens a list."""
        return (self._content.get("action") or {}).get("button") if self.interactive_type == "list" else None

    @property
    def sections(self) -> list[dict[str, Any]]:
        if self.interactive_type != "list":
            return []
        return list((self._content.get("action") or {}).get("sections", []))

    @property
    def rows(self) -> list[ListRow]:
        """A list message's rows (id, title, description) across its sections."""
        return [
            ListRow(r["id"], r["title"], r.get("description"))
            for s in self.sections
            for r in s.get("rows", [])
        ]

    @property
    def template_name(self) -> str | None:
        return self._content.get("name") if self.type == "template" else None

    @property
    def template_language(self) -> str | None:
        return (self._content.get("language") or {}).get("code") if self.type == "template" else None

    @property
    def template_params(self) -> list[str]:
        """The text parameters of a template's body, in order."""
        if self.type != "template":
            return []
        return [
            str(p.get("text", ""))
            for c in self._content.get("components") or []
            if str(c.get("type")).lower() == "body"  # pywa sends "BODY", Meta takes either
            for p in c.get("parameters", [])
        ]

    @property
    def filename(self) -> str | None:
        """A document's file name: the one the message gives, else the uploaded file's."""
        name = self._content.get("filename") if self.type in MEDIA_TYPES else None
        return name or (self.media.filename if self.media else None)

    @property
    def content(self) -> bytes | None:
        """The bytes of an uploaded file the message sends (None for a link)."""
        return self.media.content if self.media else None

    @property
    def link(self) -> str | None:
        return self._content.get("link") if self.type in MEDIA_TYPES else None


@dataclass(frozen=True)
class Arrival:
    """One call and its fate: the HTTP status (0: no answer before the client gave up, 200 even when the
    answer was then lost) and Meta's error code."""

    at: float  # time.monotonic()
    method: str  # messages, media, read, message_templates, or the path of anything else
    wa_id: str | None
    status: int
    code: int | None = None


@dataclass
class Fault:
    """The next ``remaining`` calls (sends to ``wa_id``, or any FAULTY_METHODS call) fail this way."""

    status: int  # a 5xx, or TIMEOUT
    remaining: int
    wa_id: str | None = None
    delivered: bool = False  # TIMEOUT only: carried out, the answer lost on the way back
    code: int | None = None  # Meta's error code to answer with (else the 5xx's)


@dataclass
class RandomFaults:
    share: float
    rng: random.Random
    injected: collections.Counter[str] = field(default_factory=collections.Counter)
    lost: list[tuple[str, str | None]] = field(default_factory=list)  # (method, wa_id) never carried out


class Webhook(NamedTuple):
    """A webhook POST as Meta sends it: the raw body and its headers (``X-Hub-Signature-256``)."""

    body: bytes
    headers: dict[str, str]

    @property
    def payload(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    @property
    def value(self) -> dict[str, Any]:
        return dict(self.payload["entry"][0]["changes"][0]["value"])

    @property
    def message_id(self) -> str:
        """The wamid of the message (or of the message a status is about)."""
        value = self.value
        return str((value.get("messages") or value["statuses"])[0]["id"])


class _ToFake(httpx.AsyncBaseTransport):
    """Sends every request to the fake: pywa's fixed https://graph.facebook.com/vXX.X becomes the loopback."""

    def __init__(self, fake: FakeWhatsApp) -> None:
        self._fake = fake
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=self._fake.host, port=self._fake.port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class FakeWhatsApp:
    """The server. Give pywa ``session=fake.session()`` (or point a client at ``base_url``)."""

    def __init__(
        self,
        *,
        phone_id: str = PHONE_ID,
        waba_id: str = WABA_ID,
        token: str = TOKEN,
        app_secret: str = APP_SECRET,
        verify_token: str = VERIFY_TOKEN,
        api_version: str = API_VERSION,
        host: str = "127.0.0.1",
        enforce_limits: bool = True,
        per_second: int = 80,
        pair_burst: int = 45,
        pair_interval: float = 6.0,
        enforce_window: bool = True,
        known_templates_only: bool = False,
        clock: Callable[[], float] = time.time,
        hang_for: float = 30.0,
        latency: float = 0.0,
        report_delivery: bool = False,
    ) -> None:
        self.phone_id = phone_id
        self.waba_id = waba_id
        self.token = token
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.api_version = api_version
        self.host = host
        self.port = 0
        self.enforce_limits = enforce_limits
        self.per_second = per_second
        self.pair_burst = pair_burst
        self.pair_interval = pair_interval
        self.enforce_window = enforce_window
        self.known_templates_only = known_templates_only  # else any template name is taken as approved
        self.clock = clock  # wall seconds: webhook timestamps and the 24-hour window
        self.hang_for = hang_for
        self.latency = latency
        self.arrivals: list[Arrival] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (method, JSON or form fields) as they came
        self.sent: list[SentMessage] = []
        self.media: dict[str, MediaFile] = {}
        self.templates: dict[tuple[str, str], dict[str, Any]] = {}  # (name, language) -> definition
        self.read: list[str] = []  # message ids marked as read
        self.typing: list[str] = []  # message ids a typing indicator was shown for
        # person (wa_id digits, or user_id without a number) -> clock() of their last message
        self.last_inbound: dict[str, float] = {}
        self.blocked: dict[str, bool] = {}  # person -> report by webhook
        self.faults: list[Fault] = []
        self.random_faults: RandomFaults | None = None
        self.statuses: list[Webhook] = []  # every status webhook built, in order
        self.report_delivery = report_delivery  # queue sent + delivered statuses for every delivered message
        self._pending: list[Webhook] = []
        self._phone_of: dict[str, str] = {}  # user_id -> wa_id
        self._user_of: dict[str, str] = {}  # wa_id -> user_id
        self._window: collections.deque[float] = collections.deque()
        self._buckets: dict[str, tuple[float, float]] = {}  # person -> (tokens, when)
        self._counter = itertools.count(1)
        self._inbound_ids: set[str] = set()
        self._new_message = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Where a Graph API client's base URL points, version included: http://127.0.0.1:PORT/v23.0"""
        return f"http://{self.host}:{self.port}/v{self.api_version}"

    def session(self, **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client for ``WhatsApp(session=...)``: its requests reach this fake (see the docstring)."""
        kwargs.setdefault("timeout", 5.0)
        return httpx.AsyncClient(transport=_ToFake(self), **kwargs)

    async def start(self) -> FakeWhatsApp:
        self._closing.clear()
        app = web.Application(client_max_size=128 << 20)
        app.router.add_post("/{version:v[0-9]+\\.[0-9]+}/{node}/messages", self._messages)
        app.router.add_post("/{version:v[0-9]+\\.[0-9]+}/{node}/media", self._upload)
        app.router.add_post("/{version:v[0-9]+\\.[0-9]+}/{node}/message_templates", self._create_template)
        app.router.add_route("*", "/{path:.*}", self._unsupported)
        self._runner, self.port = await serve(app, self.host)
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeWhatsApp:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------------------------- identities

    def user_id_for(self, wa_id: str, country: str = "ID") -> str:
        """The business-scoped user id Meta gives the person with ``wa_id`` (stable per number)."""
        if wa_id not in self._user_of:
            digits = int.from_bytes(hashlib.sha256(wa_id.encode()).digest()[:8], "big")
            self._learn(wa_id, f"{country}.{digits}")
        return self._user_of[wa_id]

    def _learn(self, wa_id: str | None, user_id: str) -> None:
        if wa_id:
            self._user_of[wa_id] = user_id
            self._phone_of[user_id] = wa_id

    def person(self, identifier: str) -> str:
        """The key the fake files a person under: their wa_id when known, else their user_id."""
        if _BSUID.fullmatch(identifier):
            return self._phone_of.get(identifier, identifier)
        return re.sub(r"\D", "", identifier)

    def _wamid(self, person: str) -> str:
        """A message id as Meta makes them: "wamid." and 56 base64 characters, unique."""
        raw = next(self._counter).to_bytes(8, "big") + person.encode()[:14].ljust(14, b"0")
        return "wamid." + base64.b64encode(raw + secrets.token_bytes(20)).decode()

    def _timestamp(self, at: float | None = None) -> str:
        return str(int(self.clock() if at is None else at))

    # ------------------------------------------------------------------------------ signed webhooks

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    def webhook(self, payload: dict[str, Any]) -> Webhook:
        """Sign ``payload`` as Meta does (its JSON escapes non-ASCII characters)."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Webhook(body, {"Content-Type": "application/json", "X-Hub-Signature-256": self.sign(body)})

    @staticmethod
    def forged(webhook: Webhook, *, missing: bool = False) -> Webhook:
        """The same body with a wrong signature (signed with another secret), or none at all."""
        headers = {k: v for k, v in webhook.headers.items() if k != "X-Hub-Signature-256"}
        if not missing:
            wrong = hmac.new(b"not-the-app-secret", webhook.body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = "sha256=" + wrong
        return Webhook(webhook.body, headers)

    def verify_challenge(
        self, *, verify_token: str | None = None, challenge: str | None = None
    ) -> dict[str, str]:
        """The query of Meta's GET when the webhook is registered (answer: the challenge, 200)."""
        return {
            "hub.mode": "subscribe",
            "hub.verify_token": self.verify_token if verify_token is None else verify_token,
            "hub.challenge": challenge or str(random.randrange(10**9, 10**10)),
        }

    def _envelope(self, value: dict[str, Any], phone_id: str | None) -> Webhook:
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": DISPLAY_PHONE, "phone_number_id": phone_id or self.phone_id},
            **value,
        }
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"value": value, "field": "messages"}]}],
        }
        return self.webhook(payload)

    def inbound(
        self,
        wa_id: str | None,
        message: dict[str, Any],
        *,
        user_id: str | None = None,
        name: str = "Warga Samosir",
        username: str | None = None,
        phone_id: str | None = None,
        at: float | None = None,
    ) -> Webhook:
        """A message from a person (``message`` holds its type and content); opens their 24-hour window.

        ``wa_id=None`` is a person with a username and no phone number shared: only ``user_id``.
        """
        if wa_id is None and user_id is None:
            raise ValueError("a sender needs a wa_id or a user_id")
        if wa_id is not None:
            wa_id = re.sub(r"\D", "", wa_id)
            user_id = user_id or self.user_id_for(wa_id)
        assert user_id is not None
        self._learn(wa_id, user_id)
        profile: dict[str, str] = {"name": name}
        if username:
            profile["username"] = username
        contact: dict[str, Any] = {"profile": profile, "user_id": user_id}
        sender: dict[str, Any] = {"from_user_id": user_id}
        if wa_id is not None:
            contact["wa_id"] = wa_id
            sender["from"] = wa_id
        stamp = self.clock() if at is None else at
        wamid = self._wamid(wa_id or user_id)
        self._inbound_ids.add(wamid)
        key = wa_id or user_id
        self.last_inbound[key] = max(self.last_inbound.get(key, stamp), stamp)
        body = {**sender, "id": wamid, "timestamp": self._timestamp(stamp), **message}
        return self._envelope({"contacts": [contact], "messages": [body]}, phone_id)

    def text_update(self, wa_id: str | None, text: str, **kwargs: Any) -> Webhook:
        """The person types ``text`` (keywords: user_id, name, username, phone_id, at)."""
        return self.inbound(wa_id, {"type": "text", "text": {"body": text}}, **kwargs)

    def username_text_update(
        self, user_id: str, text: str, *, username: str = "@warga", **kwargs: Any
    ) -> Webhook:
        """A message from a person who hides their number behind a username: no wa_id, only user_id."""
        return self.text_update(None, text, user_id=user_id, username=username, **kwargs)

    def _context(self, wamid: str) -> dict[str, Any]:
        return {"context": {"from": DISPLAY_PHONE, "id": wamid}}

    def button_reply(
        self, wa_id: str | None, id: str, title: str, context_wamid: str, **kwargs: Any
    ) -> Webhook:
        """The person presses reply button (``id``, ``title``) of the message ``context_wamid``."""
        reply = {"type": "button_reply", "button_reply": {"id": id, "title": title}}
        message = {"type": "interactive", "interactive": reply, **self._context(context_wamid)}
        return self.inbound(wa_id, message, **kwargs)

    def list_reply(
        self,
        wa_id: str | None,
        id: str,
        title: str,
        context_wamid: str,
        description: str | None = None,
        **kwargs: Any,
    ) -> Webhook:
        """The person picks row (``id``, ``title``) of the list message ``context_wamid``."""
        row = {"id": id, "title": title, **({"description": description} if description else {})}
        message = {
            "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": row},
            **self._context(context_wamid),
        }
        return self.inbound(wa_id, message, **kwargs)

    def press(self, wa_id: str | None, message: SentMessage, title_part: str, **kwargs: Any) -> Webhook:
        """The person presses the button of a message the bot sent whose title has ``title_part``."""
        button = message.button(title_part)
        return self.button_reply(wa_id, button.id, button.title, message.wamid, **kwargs)

    def quick_reply_from_template(
        self, wa_id: str | None, payload: str, text: str, context_wamid: str, **kwargs: Any
    ) -> Webhook:
        """The person presses a quick reply button of a template message (its ``payload``, its ``text``)."""
        message = {
            "type": "button",
            "button": {"payload": payload, "text": text},
            **self._context(context_wamid),
        }
        return self.inbound(wa_id, message, **kwargs)

    def status_update(
        self,
        wamid: str,
        status: str,
        *,
        to: str | None = None,
        error: ApiError | int | None = None,
        phone_id: str | None = None,
        at: float | None = None,
    ) -> Webhook:
        """A status (sent, delivered, read, failed) of a message the bot sent; ``error`` for failed ones."""
        if to is None:
            to = next((m.to for m in self.sent if m.wamid == wamid), None)
            if to is None:
                raise KeyError(f"{wamid} was not sent through the fake; give to=")
        person = self.person(to)
        wa_id: str | None = None
        if _BSUID.fullmatch(person):
            user_id = person
        else:
            wa_id, user_id = person, self.user_id_for(person)
        entry: dict[str, Any] = {"id": wamid, "status": status, "timestamp": self._timestamp(at)}
        contact: dict[str, Any] = {"user_id": user_id}
        if wa_id:
            entry["recipient_id"] = wa_id
            contact["wa_id"] = wa_id
        entry["recipient_user_id"] = user_id
        if error is not None:
            error = ApiError(400, error) if isinstance(error, int) else error
            entry["errors"] = [error.webhook_error()]
        webhook = self._envelope({"contacts": [contact], "statuses": [entry]}, phone_id)
        self.statuses.append(webhook)
        return webhook

    def pending_statuses(self) -> list[Webhook]:
        """The status webhooks the fake queued (failures, and deliveries with ``report_delivery``), oldest
        first; taking them empties the queue."""
        pending, self._pending = self._pending, []
        return pending

    # -------------------------------------------------------------------------------- Meta in trouble

    def fail_next(
        self, count: int, *, status: int = 500, wa_id: str | None = None, code: int | None = None
    ) -> None:
        """The next ``count`` calls (sends to ``wa_id``, or any send/upload/read) answer ``status``, with
        Meta's error ``code`` if given (``status=400, code=131047``: a refusal answered at once)."""
        self.faults.append(Fault(status, count, self.person(wa_id) if wa_id else None, code=code))

    def time_out_next(self, count: int, *, wa_id: str | None = None, delivered: bool = False) -> None:
        """The next ``count`` calls get no answer for ``hang_for`` seconds; ``delivered=True`` carries the
        call out and loses only the answer."""
        self.faults.append(Fault(TIMEOUT, count, self.person(wa_id) if wa_id else None, delivered))

    def block(self, wa_id: str, *, via_webhook: bool = False) -> None:
        """Messages to the person fail with 131026: answered at once, or reported by a status webhook."""
        self.blocked[self.person(wa_id)] = via_webhook

    def inject_faults(self, share: float, *, seed: int = 0) -> RandomFaults | None:
        """From now on a ``share`` of sends, uploads and read marks fail at random (130429, 5xx, no
        answer: half of those carried out, the answer lost); ``share=0`` stops it."""
        self.random_faults = RandomFaults(share, random.Random(seed)) if share > 0 else None
        return self.random_faults

    def _fault_for(self, method: str, person: str | None) -> Fault | None:
        faults = self.random_faults
        if faults is not None and faults.rng.random() < faults.share:
            kind = faults.rng.choice(("130429", "5xx", "timeout"))
            if kind == "timeout" and faults.rng.random() < 0.5:
                kind = "lost_answer"
            faults.injected[kind] += 1
            if kind != "lost_answer":
                faults.lost.append((method, person))
            if kind == "130429":
                return Fault(429, 1, person)
            if kind == "5xx":
                return Fault(faults.rng.choice((500, 502, 503)), 1, person)
            return Fault(TIMEOUT, 1, person, delivered=kind == "lost_answer")
        for fault in self.faults:
            if fault.wa_id is None or fault.wa_id == person:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _hang(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.hang_for):
                await self._closing.wait()

    # ------------------------------------------------------------------------------ what the bot sent

    def messages_to(self, wa_id: str, *, failed: bool = False) -> list[SentMessage]:
        """The messages delivered to the person (their wa_id or user_id), in order; ``failed=True``: the
        ones accepted and then reported failed (outside the 24-hour window, blocked by webhook)."""
        person = self.person(wa_id)
        return [m for m in self.sent if m.to == person and (m.failed is not None) == failed]

    async def wait_for(self, wa_id: str, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until the person has received at least ``count`` messages in all; return them all."""
        read = functools.partial(self.messages_to, wa_id)
        return await wait_for_count(read, self._new_message, count, timeout, wa_id)

    async def next_reply(self, wa_id: str, timeout: float = 10.0) -> SentMessage:
        have = len(self.messages_to(wa_id))
        return (await self.wait_for(wa_id, have + 1, timeout))[-1]

    def refused(self, code: int) -> list[Arrival]:
        """The calls answered with Meta's error ``code``."""
        return [a for a in self.arrivals if a.code == code]

    # -------------------------------------------------------------------------------------- the server

    def _authorized(self, request: web.Request) -> bool:
        return hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {self.token}")

    async def _serve(
        self, method: str, request: web.Request, handle: Callable[[], Any], person: str | None = None
    ) -> web.Response:
        """Answer one call: authorization, faults, then ``handle`` (which raises ApiError to refuse)."""
        now = time.monotonic()
        if not self._authorized(request):
            error = ApiError(401, 190, "")
            self.arrivals.append(Arrival(now, method, person, 401, 190))
            return web.json_response(error.body(), status=401)
        fault = self._fault_for(method, person) if method in FAULTY_METHODS else None
        if fault is not None and not (fault.status == TIMEOUT and fault.delivered):
            if fault.status == TIMEOUT:  # lost on the way: the client gives up before the late 504
                self.arrivals.append(Arrival(now, method, person, TIMEOUT))
                await self._hang()
                return web.json_response(server_error(504).body(), status=504)
            if fault.code is not None:
                error = ApiError(fault.status, fault.code)
            elif fault.status == 429:
                error = ApiError(400, 130429)
            else:
                error = server_error(fault.status)
            self.arrivals.append(Arrival(now, method, person, error.status, error.code))
            return web.json_response(error.body(), status=error.status)
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            result = await handle()
        except ApiError as refusal:
            self.arrivals.append(Arrival(now, method, person, refusal.status, refusal.code))
            return web.json_response(refusal.body(), status=refusal.status)
        self.arrivals.append(Arrival(now, method, person, 200))
        if fault is not None:  # carried out, the answer lost on the way back
            await self._hang()
            return web.json_response(server_error(504).body(), status=504)
        return web.json_response(result)

    async def _unsupported(self, request: web.Request) -> web.Response:
        path = request.match_info.get("path", "")

        async def refuse() -> Any:
            raise ApiError(
                400,
                100,
                "",
                message=f"Unsupported {request.method.lower()} request. Object with ID '{path}' does not "
                "exist, cannot be loaded due to missing permissions, or does not support this operation.",
                subcode=33,
            )

        return await self._serve(path, request, refuse)

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            payload = {}
        if payload.get("status") == "read":  # mark as read (and the typing indicator)
            self.calls.append(("read", payload))
            return await self._serve("read", request, lambda: self._mark_read(payload))
        self.calls.append(("messages", payload))
        target = payload.get("to") or payload.get("recipient")
        person = self.person(str(target)) if target else None
        node = request.match_info["node"]
        return await self._serve("messages", request, lambda: self._send(node, payload, person), person)

    async def _mark_read(self, payload: dict[str, Any]) -> dict[str, Any]:
        message_id = payload.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise ApiError(400, 131008, "The parameter message_id is required.")
        self.read.append(message_id)
        if "typing_indicator" in payload:
            self.typing.append(message_id)
        return {"success": True}

    async def _send(self, node: str, payload: dict[str, Any], person: str | None) -> dict[str, Any]:
        if node != self.phone_id:
            raise ApiError(
                400, 100, "", message=f"Unsupported post request. Object with ID '{node}' does not exist"
            )
        if payload.get("messaging_product") != "whatsapp":
            raise invalid("messaging_product must be 'whatsapp'")
        if person is None:
            raise ApiError(400, 131008, "The parameter to is required.")
        media = self._validate(payload)
        now = time.monotonic()
        if self.enforce_limits:
            self._check_rates(person, now)
        template = payload.get("type") == "template"
        blocked = self.blocked.get(person)
        if blocked is False:
            raise ApiError(400, 131026)
        message = SentMessage(self._wamid(person), person, payload, media, at=now)
        if blocked:
            message.failed = 131026
        elif self.enforce_window and not template and not self.in_window(person):
            message.failed = 131047
        self._accept(person, now)
        self.sent.append(message)
        if message.failed is not None:
            self._pending.append(self.status_update(message.wamid, "failed", to=person, error=message.failed))
        else:
            self._new_message.set()
            if self.report_delivery:
                self._pending.append(self.status_update(message.wamid, "sent", to=person))
                self._pending.append(self.status_update(message.wamid, "delivered", to=person))
        if payload.get("to"):
            contact = {"input": str(payload["to"]), "wa_id": person}
        else:
            contact = {"input": str(payload["recipient"]), "user_id": str(payload["recipient"])}
        sent: dict[str, Any] = {"id": message.wamid}
        if template:
            sent["message_status"] = "accepted"
        return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [sent]}

    def in_window(self, wa_id: str) -> bool:
        """Whether the person wrote in the last 24 hours (by ``clock``)."""
        person = self.person(wa_id)
        last = max(
            self.last_inbound.get(person, -DAY * 2),
            self.last_inbound.get(self._user_of.get(person, ""), -DAY * 2),
        )
        return self.clock() - last < DAY

    def _check_rates(self, person: str, now: float) -> None:
        while self._window and self._window[0] <= now - 1.0:
            self._window.popleft()
        if len(self._window) >= self.per_second:
            raise ApiError(400, 130429)
        tokens, when = self._buckets.get(person, (float(self.pair_burst), now))
        tokens = min(float(self.pair_burst), tokens + (now - when) / self.pair_interval)
        self._buckets[person] = (tokens, now)
        if tokens < 1.0:
            raise ApiError(400, 131056)

    def _accept(self, person: str, now: float) -> None:
        self._window.append(now)
        tokens, _ = self._buckets.get(person, (float(self.pair_burst), now))
        self._buckets[person] = (tokens - 1.0, now)

    # ---------------------------------------------------------------------------------- validation

    def _validate(self, payload: dict[str, Any]) -> MediaFile | None:
        """Refuse what Meta refuses (131009, see the module's docstring); the uploaded file a media
        message names."""
        typ = payload.get("type")
        content = payload.get(str(typ))
        if not isinstance(content, dict):
            raise ApiError(400, 131008, f"The parameter {typ} is required.")
        if typ == "text":
            _length("text['body']", content.get("body"), 1, 4096)
        elif typ == "interactive":
            return self._validate_interactive(content)
        elif typ == "template":
            _length("template['name']", content.get("name"), 1, 512)
            language = content.get("language")
            if not isinstance(language, dict) or not language.get("code"):
                raise ApiError(400, 131008, "The parameter template['language']['code'] is required.")
            known = (content["name"], language["code"]) in self.templates
            if self.known_templates_only and not known:
                raise ApiError(
                    404, 132001, f"template name ({content['name']}) does not exist in {language['code']}"
                )
        elif typ in MEDIA_TYPES:
            return self._validate_media(str(typ), content, caption_limit=1024)
        elif typ not in ("reaction", "location", "contacts", "audio", "sticker"):
            raise invalid(f"Unsupported message type: {typ}")
        return None

    def _validate_media(self, typ: str, content: dict[str, Any], caption_limit: int) -> MediaFile | None:
        if "caption" in content:
            _length(f"{typ}['caption']", content["caption"], 0, caption_limit)
        if "id" in content:
            media = self.media.get(str(content["id"]))
            if media is None:
                raise invalid(f"Media id {content['id']} was not uploaded to this phone number")
            return media
        if not str(content.get("link", "")).startswith(("http://", "https://")):
            raise ApiError(400, 131008, f"The parameter {typ}['id'] or {typ}['link'] is required.")
        return None

    def _validate_interactive(self, content: dict[str, Any]) -> MediaFile | None:
        kind = content.get("type")
        action = content.get("action")
        if not isinstance(action, dict):
            raise ApiError(400, 131008, "The parameter interactive['action'] is required.")
        header = content.get("header")
        media: MediaFile | None = None
        if isinstance(header, dict) and header.get("type") == "text":
            _length("Header text", header.get("text"), 1, 60)
        elif isinstance(header, dict) and header.get("type") in MEDIA_TYPES:
            if kind == "list":
                raise invalid("A list message's header must be text")
            media = self._validate_media(header["type"], header.get(header["type"]) or {}, caption_limit=0)
        if "footer" in content:
            _length("Footer text", (content["footer"] or {}).get("text"), 1, 60)
        body = (content.get("body") or {}).get("text")
        if kind == "button":
            _length("Body text", body, 1, 1024)
            buttons = action.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                count = len(buttons) if isinstance(buttons, list) else 0
                raise invalid(
                    f"Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3, got {count}"
                )
            ids = []
            for button in buttons:
                reply = button.get("reply") if isinstance(button, dict) else None
                if button.get("type") != "reply" or not isinstance(reply, dict):
                    raise invalid("Button type must be 'reply'")
                _length("Button title", reply.get("title"), 1, 20)
                _length("Button id", reply.get("id"), 1, 256)
                ids.append(reply["id"])
            if len(set(ids)) != len(ids):
                raise invalid("Button IDs must be unique")
        elif kind == "list":
            _length("Body text", body, 1, 4096)
            _length("Button text", action.get("button"), 1, 20)
            sections = action.get("sections")
            if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
                raise invalid("Invalid sections count. Min allowed sections: 1, Max allowed sections: 10")
            rows = [r for s in sections if isinstance(s, dict) for r in s.get("rows") or []]
            if not 1 <= len(rows) <= 10:
                raise invalid(
                    f"Invalid rows count. Min allowed rows: 1, Max allowed rows: 10, got {len(rows)}"
                )
            for section in sections:
                if len(sections) > 1 or "title" in section:
                    _length("Section title", section.get("title"), 1, 24)
                if not section.get("rows"):
                    raise invalid("Each section must have at least one row")
            for row in rows:
                _length("Row title", row.get("title"), 1, 24)
                _length("Row id", row.get("id"), 1, 200)
                if "description" in row:
                    _length("Row description", row["description"], 0, 72)
            if len({r["id"] for r in rows}) != len(rows):
                raise invalid("Row IDs must be unique")
        elif kind in ("cta_url", "flow", "location_request_message", "call_permission_request"):
            _length("Body text", body, 1, 1024)
        else:
            raise invalid(f"Unsupported interactive type: {kind}")
        return media

    # ------------------------------------------------------------------------------- media, templates

    async def _upload(self, request: web.Request) -> web.Response:
        form: dict[str, Any] = {}
        with contextlib.suppress(ValueError, AssertionError):
            form = dict(await request.post())
        upload = form.get("file")
        self.calls.append(("media", {k: v for k, v in form.items() if k != "file"}))

        async def store() -> dict[str, Any]:
            if request.match_info["node"] != self.phone_id:
                raise ApiError(400, 100, "", message="Unsupported post request.")
            if form.get("messaging_product") != "whatsapp":
                raise ApiError(400, 100, "The parameter messaging_product is required.")
            if not isinstance(upload, web.FileField):
                raise ApiError(400, 100, "The parameter file is required.")
            mime = str(form.get("type") or upload.content_type)
            content = upload.file.read()
            if mime not in SUPPORTED_MEDIA:
                raise ApiError(
                    400, 131053, f"Param file must be a file with one of the supported types: {mime}"
                )
            if len(content) > SUPPORTED_MEDIA[mime]:
                raise ApiError(400, 131053, f"File too big for {mime}: {len(content)} bytes")
            media_id = str(10**15 + next(self._counter))
            self.media[media_id] = MediaFile(media_id, upload.filename, mime, content)
            return {"id": media_id}

        return await self._serve("media", request, store)

    async def _create_template(self, request: web.Request) -> web.Response:
        try:
            definition = await request.json()
        except ValueError:
            definition = None
        self.calls.append(("message_templates", definition if isinstance(definition, dict) else {}))

        async def record() -> dict[str, Any]:
            if request.match_info["node"] != self.waba_id:
                raise ApiError(400, 100, "", message="Unsupported post request.")
            if not isinstance(definition, dict):
                raise ApiError(400, 100, "The template must be a JSON object.")
            name, language = definition.get("name"), definition.get("language")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,512}", name):
                raise ApiError(400, 100, "Template name: lowercase letters, digits and underscores only.")
            if not isinstance(language, str) or not language:
                raise ApiError(400, 100, "The parameter language is required.")
            category = definition.get("category")
            if category not in ("MARKETING", "UTILITY", "AUTHENTICATION"):
                raise ApiError(
                    400, 100, "The parameter category must be MARKETING, UTILITY or AUTHENTICATION."
                )
            if not isinstance(definition.get("components"), list):
                raise ApiError(400, 100, "The parameter components is required.")
            if (name, language) in self.templates:
                raise ApiError(400, 100, "Content in this language already exists.", subcode=2388024)
            template_id = str(10**15 + next(self._counter))
            self.templates[(name, language)] = {"id": template_id, **definition}
            return {"id": template_id, "status": "APPROVED", "category": category}

        return await self._serve("message_templates", request, record)


def _length(what: str, value: Any, low: int, high: int) -> None:
    """Refuse a text field outside ``low..high`` characters, as Meta does (131009)."""
    if not isinstance(value, str):
        if low == 0 and value is None:
            return
        raise invalid(f"{what} is required") if low else invalid(f"{what} must be a string")
    if not low <= len(value) <= high:
        raise invalid(f"{what} length invalid. Min length: {low}, Max length: {high}, got {len(value)}")
