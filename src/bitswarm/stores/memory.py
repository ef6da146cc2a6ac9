"""The embedded peer store: the core :class:`~bitswarm.core.tracker.registry.Registry`
behind the async :class:`~bitswarm.stores.base.PeerStore` interface (BEP 3, 48).

It is an :class:`~bitswarm.stores.base.ImmediateStore`: servers may call
:meth:`MemoryStore.announce_now` inline instead of awaiting a coroutine.
One process, no dependencies, about 145 bytes per peer at a million peers (see
``bench/tracker.py``). Several worker processes each keep their own
swarms with this store; sharing swarms between them takes the Redis store.
Expiry walks the swarms in slices and yields to the event loop between
them, so sweeping a million peers never stalls the server.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from bitswarm.core.tracker.model import Announcement, AnnounceResult, StoreStats, SwarmCounts
from bitswarm.core.tracker.registry import Registry

SWARMS_PER_SLICE = 1000
"""Swarms swept between two yields to the event loop."""


class MemoryStore:
    """A :class:`~bitswarm.stores.base.PeerStore` held in this process's memory."""

    def __init__(self, peer_ttl: float, rng: random.Random | None = None) -> None:
        self.registry = Registry(peer_ttl, rng)
        self.announce_values = self.registry.announce_values
        """The announce from plain values, for a server's hot path: the registry's own method."""

    async def announce(self, announcement: Announcement, now: float) -> AnnounceResult:
        return self.registry.announce(announcement, now)

    async def scrape(self, info_hashes: Sequence[bytes]) -> list[SwarmCounts]:
        return self.registry.scrape(info_hashes)

    def announce_now(self, announcement: Announcement, now: float) -> AnnounceResult:
        """The announce without a coroutine, for servers that answer inline."""
        return self.registry.announce(announcement, now)

    def scrape_now(self, info_hashes: Sequence[bytes]) -> list[SwarmCounts]:
        """The scrape without a coroutine."""
        return self.registry.scrape(info_hashes)

    async def expire(self, now: float) -> int:
        removed = 0
        for count, info_hash in enumerate(self.registry.info_hashes(), 1):
            removed += self.registry.expire_swarm(info_hash, now)
            if count % SWARMS_PER_SLICE == 0:
                await asyncio.sleep(0)
        return removed

    async def stats(self) -> StoreStats:
        return self.registry.stats()

    async def close(self) -> None:
        """Nothing to release."""
