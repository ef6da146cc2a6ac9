"""One tracker process: HTTP and UDP front ends over one peer store (BEP 3, 15).

:class:`TrackerServer` is the composition root of the tracker: it opens the
store named by URL (``memory``, or ``redis://...`` for the Redis store, loaded
only when asked for), builds the shared :class:`TrackerContext`, binds the
HTTP server (:mod:`.tracker_http_accept`'s listener, which answers one-shot
announces as it accepts them, and the lean announce front of
:mod:`.tracker_http_lean`, which hands other requests to the aiohttp
application) and the UDP endpoint (optionally
with ``SO_REUSEPORT``, so that
several processes share the ports), keeps the access lists in step with
the other processes of the tracker (:mod:`.tracker_shared`, when the store is
shared), and sweeps expired peers in the background. ``stop()`` undoes all of
it in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from dataclasses import dataclass, field
from typing import cast

from aiohttp import web

from bitswarm.aio.tracker_answers import HttpAnswers
from bitswarm.aio.tracker_context import TrackerContext
from bitswarm.aio.tracker_http import create_app
from bitswarm.aio.tracker_http_accept import HttpListener
from bitswarm.aio.tracker_http_lean import KEEP_ALIVE_SECONDS, LeanHttpServer
from bitswarm.aio.tracker_http_limits import MAX_CONNECTIONS, MAX_PER_ADDRESS, ConnectionLimits
from bitswarm.aio.tracker_shared import TrackerSync
from bitswarm.aio.tracker_udp import UdpTrackerEndpoint
from bitswarm.core.tracker.access import AccessList, check_passkey
from bitswarm.core.tracker.connection_ids import ConnectionIds
from bitswarm.core.tracker.http_head import MAX_HEAD_BYTES, MAX_HEADERS
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.core.tracker.rate_limit import RateLimiter
from bitswarm.core.tracker.udp_server import UdpTracker
from bitswarm.stores.base import PeerStore, SharingStore
from bitswarm.stores.memory import MemoryStore

log = logging.getLogger(__name__)

HostPort = tuple[str, int]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
"""Store URLs that select the Redis store."""


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Everything a tracker process is started with."""

    http: HostPort | None = ("0.0.0.0", 6969)
    udp: HostPort | None = ("0.0.0.0", 6969)
    store_url: str = "memory"
    policy: TrackerPolicy = field(default_factory=TrackerPolicy)
    private: bool = False
    passkeys: tuple[str, ...] = ()
    allowed_info_hashes: tuple[bytes, ...] = ()
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    """Key of the UDP connection-id MAC; give every process of one tracker the same."""
    admin_token: str | None = None
    client_address_header: str | None = None
    reuse_port: bool = False
    connect_rate: float = 2.0
    """UDP connects per second allowed from one IP address, after a burst of ``connect_burst``."""
    connect_burst: float = 20.0
    max_connections: int = MAX_CONNECTIONS
    """Open HTTP connections at most (never more than the open-file limit allows)."""
    max_connections_per_address: int | None = None
    """Open HTTP connections from one address at most; 0 for no bound; ``None`` for the
    default: :data:`~bitswarm.aio.tracker_http_limits.MAX_PER_ADDRESS`, or no bound
    behind a reverse proxy (``client_address_header``), where all come from the proxy."""
    worker: int | None = None
    """This process's number (from 0) when it is one of several workers of one tracker."""

    def __post_init__(self) -> None:
        for passkey in self.passkeys:
            check_passkey(passkey)
        if not self.secret:
            raise ValueError("the connection-id secret must not be empty")
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {self.max_connections}")
        if (self.max_connections_per_address or 0) < 0:
            raise ValueError("max_connections_per_address must be 0 (no bound) or more")

    def connection_limits(self) -> ConnectionLimits:
        """The HTTP connection bounds this configuration asks for."""
        per_address = self.max_connections_per_address
        if per_address is None:
            per_address = 0 if self.client_address_header else MAX_PER_ADDRESS
        return ConnectionLimits(self.max_connections, per_address)


async def open_store(url: str, peer_ttl: float) -> PeerStore:
    """The peer store a URL names: ``memory`` or a Redis URL."""
    if url == "memory":
        return MemoryStore(peer_ttl)
    if url.startswith(REDIS_SCHEMES):
        from bitswarm.stores.redis_store import RedisStore  # only when asked: needs redis-py

        return RedisStore(url, peer_ttl)
    raise ValueError(f"unknown store {url!r}: use 'memory' or a redis:// URL")


class TrackerServer:
    """Start with :meth:`start` and stop with :meth:`stop`, or use ``async with``.

    ``http_address`` and ``udp_address`` are the bound addresses once started
    (useful with port 0).
    """

    def __init__(self, config: TrackerConfig) -> None:
        self.config = config
        self.context: TrackerContext | None = None
        self.http_address: HostPort | None = None
        self.udp_address: HostPort | None = None
        self._runner: web.AppRunner | None = None
        self._http: tuple[HttpListener, LeanHttpServer] | None = None
        self._udp: UdpTrackerEndpoint | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._sync: TrackerSync | None = None

    async def __aenter__(self) -> TrackerServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        config = self.config
        store = await open_store(config.store_url, config.policy.peer_ttl)
        access = AccessList(private=config.private)
        context = self.context = TrackerContext(store, config.policy, access)
        shared = store.shared_state() if isinstance(store, SharingStore) else None
        sync = self._sync = TrackerSync(access, context.metrics, shared, worker=config.worker)
        try:
            await sync.start(config.passkeys, config.allowed_info_hashes)
            if config.http is not None:
                await self._start_http(context, sync, config.http)
            if config.udp is not None:
                await self._start_udp(context, config.udp)
        except BaseException:
            await self.stop()
            raise
        self._sweeper = asyncio.create_task(self._sweep(context))

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._udp is not None:
            await self._udp.close()
            self._udp = None
        if self._http is not None:
            listener, lean = self._http
            listener.close()
            lean.close_connections()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._sync is not None:
            await self._sync.stop()
            self._sync = None
        if self.context is not None:
            await self.context.store.close()
            self.context = None

    def describe(self) -> str:
        """One line naming the addresses (bound ones once started) and the store."""
        parts = []
        http = self.http_address or self.config.http
        udp = self.udp_address or self.config.udp
        if http:
            parts.append(f"http://{_join(http)}/announce")
        if udp:
            parts.append(f"udp://{_join(udp)}/announce")
        mode = "private" if self.config.private else "open"
        return f"tracker ({mode}, store {self.config.store_url}) on " + " ".join(parts)

    async def _start_http(
        self, context: TrackerContext, sync: TrackerSync, where: HostPort
    ) -> None:
        app = create_app(
            context,
            sync,
            client_address_header=self.config.client_address_header,
            admin_token=self.config.admin_token,
        )
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=KEEP_ALIVE_SECONDS,  # the same bounds as the lean front's
            max_line_size=MAX_HEAD_BYTES,
            max_field_size=MAX_HEAD_BYTES,
            max_headers=MAX_HEADERS,
        )
        await self._runner.setup()
        header = self.config.client_address_header
        fallback = self._runner.server
        assert fallback is not None  # set up just above
        limits = self.config.connection_limits()
        lean = LeanHttpServer(HttpAnswers(context, header), fallback, header, limits)
        listener = await HttpListener.bind(
            lean, where[0], where[1], reuse_port=self.config.reuse_port
        )
        self._http = (listener, lean)
        self.http_address = listener.address

    async def _start_udp(self, context: TrackerContext, where: HostPort) -> None:
        config = self.config
        tracker = UdpTracker(
            context.policy,
            context.access,
            ConnectionIds(config.secret),
            RateLimiter(config.connect_rate, config.connect_burst),
        )
        sock = await _udp_socket(where, reuse_port=config.reuse_port)
        self._udp = UdpTrackerEndpoint(tracker, context, sock)
        self.udp_address = _host_port(self._udp.address)

    async def _sweep(self, context: TrackerContext) -> None:
        period = min(60.0, context.policy.interval / 4)
        while True:
            await asyncio.sleep(period)
            try:
                removed = await context.store.expire(context.clock())
            except Exception:  # a store hiccup must not end the sweeping
                log.exception("expiring peers failed")
            else:
                if removed:
                    log.debug("expired %d peers", removed)


async def _udp_socket(where: HostPort, *, reuse_port: bool) -> socket.socket:
    """A UDP socket bound to ``where`` (a name is resolved as the event loop would)."""
    family = socket.AF_INET6 if ":" in where[0] else socket.AF_INET
    found = await asyncio.get_running_loop().getaddrinfo(
        where[0], where[1], family=family, type=socket.SOCK_DGRAM
    )
    family, kind, protocol, _, address = found[0]
    sock = socket.socket(family, kind, protocol)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _host_port(sockname: tuple[object, ...]) -> HostPort:
    return str(sockname[0]), int(cast(int, sockname[1]))


def _join(address: HostPort) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
