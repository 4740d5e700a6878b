"""The pywa_async client the WhatsApp channel sends with, pointed at WHATSAPP_API_URL.

pywa 4.5 has no base URL parameter: it sets ``session.base_url = https://graph.facebook.com/vNN`` on the
httpx client it is given. :class:`Rebased` moves every request onto ``api_url`` instead (Meta's Graph API
in production, a fake or a proxy elsewhere), so ``/vNN/{phone_id}/messages`` becomes
``{api_url}/{phone_id}/messages``.
"""

from __future__ import annotations

import logging
import re

import httpx
from httpx_aiohttp import AiohttpTransport
from pywa_async import WhatsApp, utils

# pywa's own version segment, replaced by api_url's path (which carries the version in production)
_VERSION = re.compile(r"^/v\d+(?:\.\d+)?(?=/|$)")
POOL = 64  # connections: about as many concurrent sends as the outbox keeps in flight (Limits.max_in_flight)
UPLOAD_TIMEOUT = 120.0  # seconds to write a file of a few MB on a slow uplink


class Rebased(httpx.AsyncBaseTransport):
    """Sends each request to ``api_url``: scheme, host and port replaced, pywa's version segment swapped
    for the URL's path, the query kept."""

    def __init__(self, api_url: str, inner: httpx.AsyncBaseTransport) -> None:
        self._base = httpx.URL(api_url.rstrip("/"))
        self._inner = inner

    def target(self, url: httpx.URL) -> httpx.URL:
        """Where a request pywa addressed to ``url`` goes."""
        path = self._base.path.rstrip("/") + _VERSION.sub("", url.path, count=1)
        return url.copy_with(
            scheme=self._base.scheme, host=self._base.host, port=self._base.port, path=path or "/"
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self.target(request.url)
        # The Host header was set from pywa's address when the request was built: a proxy or a virtual
        # host routes by it, so it follows the URL.
        request.headers["Host"] = request.url.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def api_version(api_url: str) -> str | None:
    """The Graph API version in ``api_url`` ("23.0" for https://graph.facebook.com/v23.0), if any."""
    found = re.search(r"/v(\d+(?:\.\d+)?)/?$", api_url)
    return found.group(1) if found else None


def build_client(
    *,
    phone_id: str | None,
    token: str,
    api_url: str,
    app_secret: str | None = None,
    verify_token: str | None = None,
    waba_id: str | None = None,
    timeout: float = 10.0,
) -> WhatsApp:
    """A pywa_async client that only sends (our FastAPI server takes the webhooks), through ``api_url``."""
    limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
    # aiohttp's connection pool under httpx's API (pywa takes an httpx client): httpcore 1.0's pool walks
    # every connection on each request, a fifth of the bot's time in benchmarks/whatsapp.py.
    transport = Rebased(api_url, AiohttpTransport(limits=limits))
    session = httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout, write=max(timeout, UPLOAD_TIMEOUT)),
        limits=limits,
    )
    # pywa logs every request's body at DEBUG (a read-back carries a NIK): never below INFO here.
    pywa_log = logging.getLogger("pywa")
    pywa_log.setLevel(max(logging.INFO, pywa_log.getEffectiveLevel()))
    version = api_version(api_url)
    return WhatsApp(
        phone_id=phone_id,
        token=token,
        session=session,
        server=None,
        app_secret=app_secret,
        verify_token=verify_token,
        waba_id=waba_id,
        # No pywa handlers: updates are read by our server, so pywa must not answer them itself
        validate_updates=app_secret is not None,
        api_version=version or utils.Version.GRAPH_API,
    )
