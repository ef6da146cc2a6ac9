"""What the peer interop tests share: a bitswarm HTTP tracker, torrent files, waiting, checking.

The tracker is bitswarm's own (:class:`~bitswarm.aio.tracker_server.TrackerServer`)
on 127.0.0.1 with a 2 s interval, so that peers which announce again learn of
each other quickly. Torrents are made by bitswarm as v1 (the clients under test
all speak v1; libtorrent alone speaks v2) and written to a ``.torrent`` file
that third-party programs read.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from peers import PeerProcess

from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.metainfo import Torrent
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.storage.create import create_torrent

ANNOUNCE_INTERVAL = 2


@asynccontextmanager
async def http_tracker() -> AsyncIterator[TrackerServer]:
    """bitswarm's tracker, HTTP only, on 127.0.0.1 and a free port."""
    policy = TrackerPolicy(interval=ANNOUNCE_INTERVAL, min_interval=1)
    async with TrackerServer(
        TrackerConfig(http=("127.0.0.1", 0), udp=None, policy=policy)
    ) as server:
        yield server


def announce_url(server: TrackerServer) -> str:
    assert server.http_address is not None
    host, port = server.http_address
    return f"http://{host}:{port}/announce"


async def seeders_listed(server: TrackerServer, count: int = 1) -> bool:
    """Whether the tracker lists ``count`` seeds or more."""
    assert server.context is not None
    return (await server.context.store.stats()).seeders >= count


async def peers_listed(server: TrackerServer) -> bool:
    """Whether the tracker lists anyone."""
    assert server.context is not None
    stats = await server.context.store.stats()
    return stats.seeders + stats.leechers > 0


def write_torrent(content: Path, tracker: str, piece_length: int, at: Path) -> tuple[Torrent, Path]:
    """A v1 torrent of ``content`` (file or folder) announcing to ``tracker``, saved at ``at``."""
    torrent = create_torrent(content, version="v1", piece_length=piece_length, trackers=[tracker])
    at.write_bytes(torrent.to_bytes())
    return torrent, at


def files_match(
    torrent: Torrent, source: Path, copy: Path, *, empty_files_made: bool = True
) -> list[str]:
    """Paths of ``torrent``'s files whose bytes under ``copy`` differ from those under ``source``.

    ``source`` and ``copy`` are the folders the torrent was saved into (each
    holds ``torrent.name``); a missing file counts as different, except an
    empty one when ``empty_files_made`` is off (Transmission 3.00 never
    creates zero-length files).
    """
    different = []
    for entry in torrent.files:
        if entry.is_pad or (entry.length == 0 and not empty_files_made):
            continue
        relative = Path(*entry.path)
        theirs = copy / relative
        if not theirs.is_file() or theirs.read_bytes() != (source / relative).read_bytes():
            different.append(str(relative))
    return different


async def until(
    condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 60.0
) -> None:
    """Poll ``condition`` (plain or async) every 100 ms; fail naming ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await _value(condition()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.1)


async def _value(answer: bool | Awaitable[bool]) -> bool:
    return await answer if inspect.isawaitable(answer) else answer


@asynccontextmanager
async def running(peer: PeerProcess) -> AsyncIterator[None]:
    """Start a third-party peer off the loop (the tracker keeps answering), stop it after.

    A start that fails half-way (a process spawned, then a time-out) stops it too.
    """
    try:
        await asyncio.to_thread(peer.start)
        yield
    finally:
        await asyncio.to_thread(peer.stop)
