"""The HTTP tracker on aiohttp: announce, scrape, stats, metrics, admin API (BEP 3, 7, 23, 48).

Routes:

- ``GET /announce``, ``/<passkey>/announce`` and ``/announce/<passkey>``;
  ``GET /scrape``, ``/<passkey>/scrape`` and ``/scrape/<passkey>``. BEP 48
  derives a scrape URL by replacing the last ``announce`` of the path with
  ``scrape``, so ``/<passkey>/announce`` is the form whose clients can scrape.
  Bencoded replies, always with status 200. A malformed request, a refusal
  and even a failing store answer ``failure reason``; clients show that text
  to their users, while a 500 tells them nothing.
- ``GET /stats`` (JSON) and ``GET /metrics`` (Prometheus text): the whole
  tracker's figures, or one worker's when workers share nothing (see
  :mod:`.tracker_metrics`).
- ``/admin/...`` when an admin token is configured, with
  ``Authorization: Bearer <token>``: ``GET /admin/access``, ``PUT`` or
  ``DELETE /admin/passkeys/<passkey>`` and ``/admin/torrents/<info-hash hex>``.

Plain announces and scrapes usually never reach this application: the lean
front of :mod:`.tracker_http_lean` answers them on the same port and hands
every other request (and every connection whose store must be awaited) over
to it. Both answer through :mod:`.tracker_answers`, so the replies agree.

Behind a reverse proxy the client's address comes from a configured header
(``X-Forwarded-For``: its last entry, the one the proxy appended; or
``X-Real-IP``); without one it is the TCP peer's address. The query is parsed
from the raw request line, since ``info_hash`` and ``peer_id`` are binary.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from bitswarm.aio.tracker_answers import HttpAnswers, TrackerRequest
from bitswarm.aio.tracker_context import TrackerContext
from bitswarm.aio.tracker_metrics import Figures, Kind
from bitswarm.aio.tracker_shared import SharedStateUnavailable, TrackerSync

CONTEXT = web.AppKey("tracker_context", TrackerContext)
MAX_BODY_BYTES = 4096
"""Largest request body read: no route of the tracker takes one."""
_T = TypeVar("_T")


def create_app(
    context: TrackerContext,
    sync: TrackerSync,
    *,
    client_address_header: str | None = None,
    admin_token: str | None = None,
) -> web.Application:
    """The tracker's aiohttp application; ``sync`` keeps its access lists (see there)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[CONTEXT] = context
    tracker = _TrackerRoutes(context, sync, client_address_header)
    app.router.add_get("/announce", tracker.announce)
    app.router.add_get("/announce/{passkey}", tracker.announce)
    app.router.add_get("/scrape", tracker.scrape)
    app.router.add_get("/scrape/{passkey}", tracker.scrape)
    app.router.add_get("/{passkey}/announce", tracker.announce)
    app.router.add_get("/{passkey}/scrape", tracker.scrape)
    app.router.add_get("/stats", tracker.stats)
    app.router.add_get("/metrics", tracker.metrics)
    if admin_token:
        admin = _AdminRoutes(sync, admin_token)
        app.router.add_get("/admin/access", admin.access)
        app.router.add_route("*", "/admin/passkeys/{passkey}", admin.passkey)
        app.router.add_route("*", "/admin/torrents/{info_hash}", admin.torrent)
    return app


class _TrackerRoutes:
    def __init__(
        self, context: TrackerContext, sync: TrackerSync, client_address_header: str | None
    ) -> None:
        self.context = context
        self.sync = sync
        self.answers = HttpAnswers(context, client_address_header)

    async def announce(self, request: web.Request) -> web.Response:
        return await self._bencoded(request, "announces")

    async def scrape(self, request: web.Request) -> web.Response:
        return await self._bencoded(request, "scrapes")

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response((await self._figures()).as_json())

    async def metrics(self, request: web.Request) -> web.Response:
        text = (await self._figures()).prometheus()
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def _figures(self) -> Figures:
        sync = self.sync
        try:
            requests = await sync.request_counts()
        except SharedStateUnavailable as error:
            raise web.HTTPServiceUnavailable(text=f"{error}\n") from None
        stats = await self.context.store.stats()
        return Figures(stats, requests, sync.worker, sync.per_worker)

    async def _bencoded(self, request: web.Request, kind: Kind) -> web.Response:
        header = self.answers.header
        tracker_request = TrackerRequest(
            kind,
            request.raw_path.partition("?")[2].encode("latin-1", "replace"),
            request.match_info.get("passkey"),
            request.remote,
            request.headers.get(header) if header else None,
        )
        body = await self.answers.answer(tracker_request)
        return web.Response(body=body, content_type="text/plain")


class _AdminRoutes:
    def __init__(self, sync: TrackerSync, token: str) -> None:
        self.sync = sync
        self.expected = f"Bearer {token}".encode()

    def _authorize(self, request: web.Request) -> None:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, self.expected):
            raise web.HTTPUnauthorized(text="admin token required\n")

    async def access(self, request: web.Request) -> web.Response:
        self._authorize(request)
        try:
            return web.json_response(await self.sync.snapshot())
        except SharedStateUnavailable as error:
            raise web.HTTPServiceUnavailable(text=f"{error}\n") from None

    async def passkey(self, request: web.Request) -> web.Response:
        self._authorize(request)
        sync = self.sync
        return await _change(
            request, sync.add_passkey, sync.remove_passkey, request.match_info["passkey"]
        )

    async def torrent(self, request: web.Request) -> web.Response:
        self._authorize(request)
        try:
            info_hash = bytes.fromhex(request.match_info["info_hash"])
        except ValueError:
            raise web.HTTPBadRequest(text="info-hash must be 40 hex digits\n") from None
        return await _change(request, self.sync.allow, self.sync.disallow, info_hash)


async def _change(
    request: web.Request,
    add: Callable[[_T], Awaitable[None]],
    remove: Callable[[_T], Awaitable[bool]],
    item: _T,
) -> web.Response:
    """PUT adds, DELETE removes (404 if absent); anything else is 405.

    With shared state, the change is stored before the answer, so a 200 means
    every process of the tracker applies it within a second.
    """
    if request.method not in ("PUT", "DELETE"):
        raise web.HTTPMethodNotAllowed(request.method, ["PUT", "DELETE"])
    try:
        if request.method == "PUT":
            await add(item)
        elif not await remove(item):
            raise web.HTTPNotFound(text="not on the list\n")
    except ValueError as error:
        raise web.HTTPBadRequest(text=f"{error}\n") from None
    except SharedStateUnavailable as error:
        raise web.HTTPServiceUnavailable(text=f"{error}\n") from None
    return web.json_response({"ok": True})
