"""The composition root of a peer: one listener, many torrents, shared limits (BEP 3, BEP 20).

A :class:`Session` owns what its torrents share: the peer id (BEP 20 style,
``-BS0100-`` and 12 random bytes, new for every session), the one listening
socket whose incoming connections it routes by info-hash, the global upload
and download buckets, the global connection limit, and one HTTP client
session for every tracker. Each torrent is a
:class:`~bitswarm.aio.torrent_runner.TorrentRunner` with its own buckets and
per-torrent limits, chained to the session's.

Stopping is orderly: every torrent closes its peers, finishes its disk work,
saves its resume data and says ``stopped`` to its trackers, then the
listener and the HTTP session close. :func:`run` runs a coroutine on uvloop
when it is installed (an optional speed-up) and on asyncio's loop otherwise.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bitswarm import __version__
from bitswarm.aio.announcer import Announcer
from bitswarm.aio.http_client import LazyHttp
from bitswarm.aio.listener import Listener, listen
from bitswarm.aio.ratelimit import Limiters, RateLimits
from bitswarm.aio.torrent_runner import Disk, RunnerConfig, TorrentRunner
from bitswarm.aio.tracker_client import TrackerClient
from bitswarm.core.metainfo import Torrent
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.torrent import TorrentSwarm


def peer_id_prefix(version: str) -> bytes:
    """BEP 20's Azureus style: ``-BS`` and four version digits, ``0.1.0`` -> ``-BS0100-``."""

    digits = [int(part) for part in version.split(".")[:4]]
    digits += [0] * (4 - len(digits))
    if any(not 0 <= digit <= 9 for digit in digits):
        raise ValueError(f"version {version} does not fit a BEP 20 peer id")
    return b"-BS" + bytes(ord("0") + digit for digit in digits) + b"-"


PEER_ID_PREFIX = peer_id_prefix(__version__)

_T = TypeVar("_T")


def new_peer_id() -> bytes:
    return PEER_ID_PREFIX + os.urandom(20 - len(PEER_ID_PREFIX))


@dataclass(frozen=True, slots=True)
class SessionConfig:
    bind: str | None = None
    """Address to listen on (``127.0.0.1``, ``::1``); ``None`` for every interface."""
    port: int = 6881
    """0 picks a free port."""
    max_up: float = 0
    """Bytes per second for all torrents together; 0 is unlimited."""
    max_down: float = 0
    max_connections: int = 200
    max_peers_per_torrent: int = 50
    max_outgoing_per_torrent: int = 20
    peer_id: bytes = field(default_factory=new_peer_id)


@dataclass(frozen=True, slots=True)
class TorrentParts:
    """What the session needs to run a torrent, opened by the caller (state machine, disk)."""

    torrent: Torrent
    swarm: TorrentSwarm
    disk: Disk
    have: Bitfield
    save_resume: Callable[[Bitfield], None] | None = None
    close: Callable[[], Awaitable[None]] | None = None
    """Awaited once the torrent has stopped (closes its files)."""
    max_up: float = 0
    max_down: float = 0


class Session:
    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.peer_id = config.peer_id
        self.limits = RateLimits.of(config.max_up, config.max_down)
        self.torrents: dict[bytes, TorrentRunner] = {}
        self._parts: dict[bytes, TorrentParts] = {}
        self._clients: list[TrackerClient] = []
        self._listener: Listener | None = None
        self._http = LazyHttp()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the session is not started")
        return self._listener.port

    async def start(self) -> None:
        self._listener = await listen(self.config.bind, self.config.port, self.peer_id, self)

    def route(self, info_hash: bytes) -> TorrentRunner | None:
        """The torrent an incoming connection asks for, unless the session is full."""

        if self.connection_count() >= self.config.max_connections:
            return None
        return self.torrents.get(info_hash)

    def connection_count(self) -> int:
        return sum(len(runner.connections) for runner in self.torrents.values())

    def add(self, parts: TorrentParts, *, announce: bool = True) -> TorrentRunner:
        """Start running a torrent; its trackers are announced to unless ``announce`` is off."""

        torrent = parts.torrent
        if torrent.info_hash in self.torrents:
            raise ValueError(f"torrent {torrent.info_hash.hex()} is already in the session")
        config = RunnerConfig(
            peer_id=self.peer_id,
            port=self.port,
            max_peers=self.config.max_peers_per_torrent,
            max_outgoing=self.config.max_outgoing_per_torrent,
        )
        limiters = Limiters.chain(RateLimits.of(parts.max_up, parts.max_down), self.limits)
        runner = TorrentRunner(
            torrent,
            parts.swarm,
            parts.disk,
            parts.have,
            config,
            limiters,
            announcer=self._announcer if announce and torrent.trackers else lambda _: None,
            save_resume=parts.save_resume,
            session_room=lambda: self.config.max_connections - self.connection_count(),
        )
        self.torrents[torrent.info_hash] = runner
        self._parts[torrent.info_hash] = parts
        runner.start()
        return runner

    def _announcer(self, runner: TorrentRunner) -> Announcer:
        client = TrackerClient(runner.torrent.trackers, session=self._http)
        self._clients.append(client)
        return Announcer(
            client,
            runner.info_hash,
            self.peer_id,
            self.port,
            runner.totals,
            runner.add_peers,
        )

    async def remove(self, info_hash: bytes) -> None:
        runner = self.torrents.pop(info_hash)
        parts = self._parts.pop(info_hash)
        await runner.stop()
        if parts.close is not None:
            await parts.close()

    async def close(self) -> None:
        """Stop every torrent (resume data saved, ``stopped`` announced), then the listener."""

        await asyncio.gather(*(self.remove(h) for h in list(self.torrents)))
        if self._listener is not None:
            await self._listener.close()
        for client in self._clients:
            await client.close()
        await self._http.close()


def run(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` on uvloop when it is installed, else on asyncio's own loop."""

    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
