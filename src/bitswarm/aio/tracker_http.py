"""The HTTP tracker on aiohttp: announce, scrape, stats, metrics, admin API (BEP 3, 7, 23, 48).

Routes:

- ``GET /announce`` and ``/announce/<passkey>``; ``GET /scrape`` and
  ``/scrape/<passkey>``: bencoded replies, always with status 200. A malformed
  request, a refusal and even a failing store answer ``failure reason``;
  clients show that text to their users, while a 500 tells them nothing.
- ``GET /stats`` (JSON) and ``GET /metrics`` (Prometheus text).
- ``/admin/...`` when an admin token is configured, with
  ``Authorization: Bearer <token>``: ``GET /admin/access``, ``PUT`` or
  ``DELETE /admin/passkeys/<passkey>`` and ``/admin/torrents/<info-hash hex>``.

Behind a reverse proxy the client's address comes from a configured header
(``X-Forwarded-For``: its last entry, the one the proxy appended; or
``X-Real-IP``); without one it is the TCP peer's address. The query is parsed
from the raw request line, since ``info_hash`` and ``peer_id`` are binary.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from bitswarm.aio.tracker_context import TrackerContext
from bitswarm.aio.tracker_metrics import Kind
from bitswarm.core.tracker import http_reply
from bitswarm.core.tracker.errors import TrackerMessageError
from bitswarm.core.tracker.http_query import parse_announce, parse_scrape

log = logging.getLogger(__name__)

CONTEXT = web.AppKey("tracker_context", TrackerContext)
_T = TypeVar("_T")


class Refused(Exception):
    """A request the tracker answers with ``failure reason``."""


def create_app(
    context: TrackerContext,
    *,
    client_address_header: str | None = None,
    admin_token: str | None = None,
) -> web.Application:
    """The tracker's aiohttp application."""
    app = web.Application()
    app[CONTEXT] = context
    tracker = _TrackerRoutes(context, client_address_header)
    app.router.add_get("/announce", tracker.announce)
    app.router.add_get("/announce/{passkey}", tracker.announce)
    app.router.add_get("/scrape", tracker.scrape)
    app.router.add_get("/scrape/{passkey}", tracker.scrape)
    app.router.add_get("/stats", tracker.stats)
    app.router.add_get("/metrics", tracker.metrics)
    if admin_token:
        admin = _AdminRoutes(context, admin_token)
        app.router.add_get("/admin/access", admin.access)
        app.router.add_route("*", "/admin/passkeys/{passkey}", admin.passkey)
        app.router.add_route("*", "/admin/torrents/{info_hash}", admin.torrent)
    return app


class _TrackerRoutes:
    def __init__(self, context: TrackerContext, client_address_header: str | None) -> None:
        self.context = context
        self.header = client_address_header

    async def announce(self, request: web.Request) -> web.Response:
        return await self._bencoded(request, "announces", self._announce)

    async def scrape(self, request: web.Request) -> web.Response:
        return await self._bencoded(request, "scrapes", self._scrape)

    async def stats(self, request: web.Request) -> web.Response:
        stats = await self.context.store.stats()
        return web.json_response(self.context.metrics.as_json(stats))

    async def metrics(self, request: web.Request) -> web.Response:
        text = self.context.metrics.prometheus(await self.context.store.stats())
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def _bencoded(
        self, request: web.Request, kind: Kind, answer: Callable[[web.Request], Awaitable[bytes]]
    ) -> web.Response:
        metrics = self.context.metrics
        try:
            body = await answer(request)
            metrics.count("http", kind)
        except (TrackerMessageError, Refused) as refusal:
            metrics.count("http", "errors")
            body = http_reply.failure(str(refusal))
        except Exception:  # a failing store must still get a bencoded answer, never a 500
            log.exception("tracker request failed: %s", request.path)
            metrics.count("http", "errors")
            body = http_reply.failure("internal tracker error, try again later")
        return web.Response(body=body, content_type="text/plain")

    async def _announce(self, request: web.Request) -> bytes:
        query = parse_announce(_raw_query(request))
        self._check_access(request, query.info_hash)
        announcement = self.context.policy.http_announcement(query, self._client_host(request))
        result = await self.context.store.announce(announcement, self.context.clock())
        policy = self.context.policy
        return http_reply.announce(result, query, policy, warning=policy.warning(query))

    async def _scrape(self, request: web.Request) -> bytes:
        info_hashes = parse_scrape(_raw_query(request))
        for info_hash in info_hashes:
            self._check_access(request, info_hash)
        counts = await self.context.store.scrape(info_hashes)
        return http_reply.scrape(info_hashes, counts)

    def _check_access(self, request: web.Request, info_hash: bytes) -> None:
        refusal = self.context.access.refusal(request.match_info.get("passkey"), info_hash)
        if refusal:
            raise Refused(refusal)

    def _client_host(self, request: web.Request) -> str:
        if self.header is None:
            if request.remote is None:
                raise Refused("cannot tell the client's address")
            return request.remote
        value = request.headers.get(self.header, "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise Refused(f"no client address in the {self.header} header") from None


class _AdminRoutes:
    def __init__(self, context: TrackerContext, token: str) -> None:
        self.context = context
        self.expected = f"Bearer {token}".encode()

    def _authorize(self, request: web.Request) -> None:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, self.expected):
            raise web.HTTPUnauthorized(text="admin token required\n")

    async def access(self, request: web.Request) -> web.Response:
        self._authorize(request)
        return web.json_response(self.context.access.snapshot())

    async def passkey(self, request: web.Request) -> web.Response:
        self._authorize(request)
        passkey = request.match_info["passkey"]
        access = self.context.access
        return _change(request, lambda: access.add_passkey(passkey), access.remove_passkey, passkey)

    async def torrent(self, request: web.Request) -> web.Response:
        self._authorize(request)
        try:
            info_hash = bytes.fromhex(request.match_info["info_hash"])
        except ValueError:
            raise web.HTTPBadRequest(text="info-hash must be 40 hex digits\n") from None
        access = self.context.access
        return _change(request, lambda: access.allow(info_hash), access.disallow, info_hash)


def _change(
    request: web.Request, add: Callable[[], None], remove: Callable[[_T], bool], item: _T
) -> web.Response:
    """PUT adds, DELETE removes (404 if absent); anything else is 405."""
    if request.method == "PUT":
        try:
            add()
        except ValueError as error:
            raise web.HTTPBadRequest(text=f"{error}\n") from None
        return web.json_response({"ok": True})
    if request.method == "DELETE":
        if not remove(item):
            raise web.HTTPNotFound(text="not on the list\n")
        return web.json_response({"ok": True})
    raise web.HTTPMethodNotAllowed(request.method, ["PUT", "DELETE"])


def _raw_query(request: web.Request) -> bytes:
    """The query exactly as sent, still percent-encoded (aiohttp refuses raw non-ASCII)."""
    return request.raw_path.partition("?")[2].encode("latin-1", "replace")
