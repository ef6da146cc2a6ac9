"""A whole swarm on loopback in one process: the point of BitTorrent, measured (BEP 3).

One origin with a modest upload cap has a file; N downloaders want it. Served
alone, the origin would need ``N * F / u_origin`` seconds; in a swarm every
downloader uploads the pieces it already has, so the time falls towards the
lower bound of the fluid model (Kumar and Ross, 2006)::

    T_min = max(F / u_origin, N * F / (u_origin + sum(u_i)))

— the origin must send every byte once at least, and all uploads together
must carry the N copies. :func:`run_demo` builds that swarm from the real
parts: the embedded HTTP tracker (:mod:`bitswarm.aio.tracker_server`), one
:class:`~bitswarm.aio.session.Session` per peer, each on its own port of
127.0.0.1 with its own upload cap, and measures how long it takes, how much
the origin uploaded and how much was delivered, checking each copy byte for
byte against the original.
"""

from __future__ import annotations

import asyncio
import contextlib
import filecmp
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from bitswarm.aio.session import Session, SessionConfig
from bitswarm.aio.torrent_open import default_state_dir, open_torrent
from bitswarm.aio.torrent_runner import TorrentRunner
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.metainfo import Torrent
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.storage.piece_store import disk_path

LOOPBACK = "127.0.0.1"
ANNOUNCE_INTERVAL = 5
"""Seconds between announces: short, so late peers are found within the demo."""


@dataclass(frozen=True, slots=True)
class DemoPlan:
    peers: int
    origin_up: int
    """Bytes per second the origin may upload (0: unlimited)."""
    peer_up: int
    """Bytes per second each downloader may upload (0: unlimited)."""


@dataclass(frozen=True, slots=True)
class DemoResult:
    peers: int
    size: int
    seconds: float
    """From the start of the swarm until the last downloader verified its last piece."""
    t_min: float | None
    """The fluid model's lower bound, ``None`` when the uploads are unlimited."""
    origin_uploaded: int
    delivered: int
    """Bytes of verified content the downloaders hold at the end."""
    peer_uploaded: int
    """Bytes the downloaders uploaded to each other."""
    finish_times: tuple[float, ...]
    byte_exact: bool
    """Every downloader's copy equals the original, byte for byte."""


def lower_bound(size: int, plan: DemoPlan) -> float | None:
    """``max(F / u_origin, N * F / (u_origin + sum u_i))``; ``None`` without an origin cap."""

    if not plan.origin_up:
        return None
    bound = size / plan.origin_up
    if plan.peer_up:
        bound = max(bound, plan.peers * size / (plan.origin_up + plan.peers * plan.peer_up))
    return bound


@contextlib.asynccontextmanager
async def embedded_tracker() -> AsyncIterator[str]:
    """An HTTP tracker on 127.0.0.1; yields its announce URL."""

    policy = TrackerPolicy(interval=ANNOUNCE_INTERVAL, min_interval=1)
    tracker = TrackerServer(TrackerConfig(http=(LOOPBACK, 0), udp=None, policy=policy))
    await tracker.start()
    try:
        assert tracker.http_address is not None
        host, port = tracker.http_address
        yield f"http://{host}:{port}/announce"
    finally:
        await tracker.stop()


async def _start_peer(
    stack: contextlib.AsyncExitStack, torrent: Torrent, root: Path, max_up: int
) -> TorrentRunner:
    session = Session(SessionConfig(bind=LOOPBACK, port=0, max_up=max_up))
    await session.start()
    stack.push_async_callback(session.close)
    parts = await open_torrent(torrent, root, default_state_dir(root))
    return session.add(parts)


async def run_demo(
    torrent: Torrent,
    origin_root: Path,
    folder: Path,
    plan: DemoPlan,
    on_start: Callable[[TorrentRunner, list[TorrentRunner]], None] = lambda origin, peers: None,
    timeout: float = 600.0,
) -> DemoResult:
    """Run the swarm until every downloader completes; ``torrent`` announces to a live tracker.

    ``origin_root`` holds the content; each downloader gets ``folder/peer-<i>``.
    ``on_start(origin, downloaders)`` lets the caller show progress.
    """

    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        origin = await _start_peer(stack, torrent, origin_root, plan.origin_up)
        roots = [folder / f"peer-{i + 1}" for i in range(plan.peers)]
        downloaders = [await _start_peer(stack, torrent, root, plan.peer_up) for root in roots]
        on_start(origin, downloaders)
        started = loop.time()
        finished_at: dict[int, float] = {}

        async def finish(index: int, runner: TorrentRunner) -> None:
            await runner.finished.wait()
            finished_at[index] = loop.time() - started

        async with asyncio.timeout(timeout):
            await asyncio.gather(*(finish(i, r) for i, r in enumerate(downloaders)))
        statuses = [runner.status() for runner in downloaders]
        origin_uploaded = origin.status().uploaded
    exact = all(
        filecmp.cmp(disk_path(origin_root, entry), disk_path(root, entry), shallow=False)
        for root in roots
        for entry in torrent.files
        if not (entry.is_pad or entry.is_symlink)
    )
    return DemoResult(
        peers=plan.peers,
        size=torrent.total_size,
        seconds=max(finished_at.values(), default=0.0),
        t_min=lower_bound(torrent.total_size, plan),
        origin_uploaded=origin_uploaded,
        delivered=sum(status.verified for status in statuses),
        peer_uploaded=sum(status.uploaded for status in statuses),
        finish_times=tuple(finished_at[i] for i in range(plan.peers)),
        byte_exact=exact,
    )
