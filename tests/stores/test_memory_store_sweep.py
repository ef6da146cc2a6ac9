"""The memory store sweeps expired peers in slices, letting the event loop run between them."""

from __future__ import annotations

import asyncio

from bitswarm.core.tracker.compact import pack_address
from bitswarm.core.tracker.model import Announcement, Event
from bitswarm.stores.base import PeerStore
from bitswarm.stores.memory import SWARMS_PER_SLICE, MemoryStore


def announcement(torrent: int) -> Announcement:
    return Announcement(
        info_hash=torrent.to_bytes(20, "big"), peer_id=b"p" * 20,
        address=pack_address("127.0.0.1", 6881), uploaded=0, downloaded=0, left=1,
        event=Event.STARTED, numwant=0,
    )  # fmt: skip


async def test_sweep_yields_between_slices_and_forgets_everything() -> None:
    store = MemoryStore(peer_ttl=10)
    assert isinstance(store, PeerStore)
    torrents = 3 * SWARMS_PER_SLICE + 7
    for torrent in range(torrents):
        await store.announce(announcement(torrent), now=0)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    assert await store.expire(now=5) == 0
    assert await store.expire(now=11) == torrents
    task.cancel()
    assert ticks - before >= 6  # at least three yields in each of the two sweeps
    stats = await store.stats()
    assert (stats.torrents, stats.peers) == (0, 0)
    await store.close()
