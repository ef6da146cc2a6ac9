"""Two bitswarm tracker processes over one Redis serve one set of swarms and one set of figures.

Each :class:`TrackerServer` here stands for a tracker process (or machine):
they share nothing but the Redis store. A peer that announced to one over
HTTP is handed out by the other over UDP, and the swarms outlive a tracker
restart. ``/stats`` and ``/metrics`` answer the same whole-tracker figures
from either, the request counters reaching Redis in one batch a period. The
clients are bitswarm's own tracker client; the last test runs real workers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest

from bitswarm.aio.tracker_client import TrackerClient
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.aio.tracker_shared import SYNC_PERIOD
from bitswarm.core.tracker.model import Event, SwarmCounts
from bitswarm.stores.redis_shared import RedisSharedState
from tracker_processes import announce_over_http, free_port, running_tracker, stats

INFO_HASH = b"\x5a" * 20
Tracker = Callable[[], AbstractAsyncContextManager[TrackerServer]]
WAIT = 5 * SYNC_PERIOD
"""How long counts may take to reach another process (a period, plus slack)."""


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


async def stats_of(http: aiohttp.ClientSession, server: TrackerServer) -> dict[str, Any]:
    assert server.http_address is not None
    async with http.get("http://{}:{}/stats".format(*server.http_address)) as response:
        document: dict[str, Any] = await response.json()
    return document


async def announce_http(server: TrackerServer, peer: int) -> None:
    assert server.http_address is not None
    url = "http://{}:{}/announce".format(*server.http_address)
    async with TrackerClient([[url]]) as client:
        await client.announce(INFO_HASH, b"-BS0100-%012d" % peer, 7000 + peer, 0, 0, 1, Event.NONE)


async def within(seconds: float, check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"not true within {seconds} s"
        await asyncio.sleep(0.05)


async def test_stats_and_metrics_are_the_whole_trackers_through_redis(redis_url: str) -> None:
    tracker = tracker_on(redis_url)
    async with tracker() as first, tracker() as second, aiohttp.ClientSession() as http:
        assert second.udp_address is not None
        for peer in range(4):  # four leechers over HTTP to the first
            await announce_http(first, peer)
        udp_url = "udp://{}:{}/announce".format(*second.udp_address)
        async with TrackerClient([[udp_url]]) as seed:  # one seeder over UDP to the second
            await seed.announce(INFO_HASH, b"-BS0100-seed00000000", 7100, 0, 0, 0, Event.NONE)
        expected_requests = {
            "http": {"announces": 4, "scrapes": 0, "errors": 0, "connects": 0},
            "udp": {"announces": 1, "scrapes": 0, "errors": 0, "connects": 1},
        }

        async def both_agree() -> bool:
            documents = [await stats_of(http, server) for server in (first, second)]
            return all(d["requests"] == expected_requests for d in documents)

        await within(WAIT, both_agree)
        document = await stats_of(http, second)
        assert document["scope"] == "tracker" and "worker" not in document
        assert (document["torrents"], document["seeders"], document["leechers"]) == (1, 1, 4)
        assert second.http_address is not None
        async with http.get("http://{}:{}/metrics".format(*second.http_address)) as response:
            text = await response.text()
        assert 'bitswarm_tracker_announces_total{protocol="http"} 4' in text
        assert 'bitswarm_tracker_connects_total{protocol="udp"} 1' in text
        assert "bitswarm_tracker_leechers 4" in text and "worker" not in text


async def test_counters_reach_redis_in_batches_and_outlive_a_stop(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[dict[str, int]] = []
    add_requests = RedisSharedState.add_requests

    async def counted(self: RedisSharedState, deltas: Mapping[str, int]) -> dict[str, int]:
        batches.append(dict(deltas))
        return await add_requests(self, deltas)

    monkeypatch.setattr(RedisSharedState, "add_requests", counted)
    tracker = tracker_on(redis_url)
    async with tracker() as server:
        for peer in range(30):
            await announce_http(server, peer)
        await asyncio.sleep(1.5 * SYNC_PERIOD)
        assert 1 <= len(batches) <= 3  # one batch a period, not one call per announce
        for peer in range(30, 35):
            await announce_http(server, peer)
    # the five announces since the last period are sent when the tracker stops
    assert sum(batch.get("http:announces", 0) for batch in batches) == 35
    async with tracker() as restarted, aiohttp.ClientSession() as http:
        assert (await stats_of(http, restarted))["requests"]["http"]["announces"] == 35


def test_workers_report_the_same_whole_tracker_figures(redis_url: str) -> None:
    port = free_port()
    with running_tracker(port, "--store", redis_url, workers=2):
        for peer in range(20):  # fresh connections, spread over both workers
            announce_over_http(port, peer)
        deadline = time.monotonic() + WAIT
        agreeing: set[int] = set()
        while agreeing != {0, 1}:
            assert time.monotonic() < deadline, f"workers {agreeing} agreed, not both"
            document = stats(port)
            assert document["scope"] == "tracker"
            if document["requests"]["http"]["announces"] == 20 and document["leechers"] == 20:
                agreeing.add(document["worker"])
            time.sleep(0.05)
