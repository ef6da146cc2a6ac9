"""Two bitswarm tracker processes over one Redis serve one set of swarms.

Each :class:`TrackerServer` here stands for a tracker process (or machine):
they share nothing but the Redis store. A peer that announced to one over
HTTP is handed out by the other over UDP, and the swarms outlive a tracker
restart. The clients are bitswarm's own tracker client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from bitswarm.aio.tracker_client import TrackerClient
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.tracker.model import Event, SwarmCounts

INFO_HASH = b"\x5a" * 20
Tracker = Callable[[], AbstractAsyncContextManager[TrackerServer]]


def tracker_on(redis_url: str) -> Tracker:
    @asynccontextmanager
    async def running() -> AsyncIterator[TrackerServer]:
        where = ("127.0.0.1", 0)
        server = TrackerServer(TrackerConfig(http=where, udp=where, store_url=redis_url))
        await server.start()
        try:
            yield server
        finally:
            await server.stop()

    return running


async def test_trackers_share_swarms_through_redis(redis_url: str) -> None:
    tracker = tracker_on(redis_url)
    async with tracker() as first, tracker() as second:
        assert first.http_address is not None and second.udp_address is not None
        http_url = "http://{}:{}/announce".format(*first.http_address)
        udp_url = "udp://{}:{}/announce".format(*second.udp_address)
        async with TrackerClient([[http_url]]) as seed, TrackerClient([[udp_url]]) as leech:
            await seed.announce(INFO_HASH, b"-BS0100-seed00000000", 7001, 0, 0, 0, Event.STARTED)
            found = await leech.announce(
                INFO_HASH, b"-BS0100-leech0000000", 7002, 0, 0, 9, Event.STARTED
            )
            assert found.peers == (("127.0.0.1", 7001),)
            assert (found.reply.complete, found.reply.incomplete) == (1, 1)
    async with tracker() as restarted:
        assert restarted.http_address is not None
        url = "http://{}:{}/announce".format(*restarted.http_address)
        async with TrackerClient([[url]]) as client:
            counts = await client.scrape([INFO_HASH])
    assert counts == {INFO_HASH: SwarmCounts(complete=1, incomplete=1, downloaded=0)}
