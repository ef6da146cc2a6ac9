"""The Redis peer store keeps PeerStore's contract exactly as the memory store does.

The contract tests run against both stores; the rest is what Redis adds:
several tracker processes share swarms, a tracker restart keeps them, and one
announce is one round trip.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError

from bitswarm.core.tracker.compact import pack_address
from bitswarm.core.tracker.model import Announcement, Event, StoreStats, SwarmCounts
from bitswarm.stores.base import PeerStore
from bitswarm.stores.memory import MemoryStore
from bitswarm.stores.redis_store import RedisStore

TTL = 100.0
TORRENT = b"T" * 20
OTHER = b"O" * 20
RUNS = itertools.count()  # one key prefix per hypothesis example


def announcement(
    n: int,
    *,
    left: int = 10,
    event: Event = Event.NONE,
    numwant: int = 50,
    info_hash: bytes = TORRENT,
    host: str | None = None,
    same_family_only: bool = False,
) -> Announcement:
    """Peer ``n`` of a swarm, at 127.0.0.1 port 1000+n unless ``host`` is given."""
    return Announcement(
        info_hash=info_hash,
        peer_id=b"-BS0100-%012d" % n,
        address=pack_address(host or "127.0.0.1", 1000 + n),
        uploaded=0,
        downloaded=0,
        left=left,
        event=event,
        numwant=numwant,
        same_family_only=same_family_only,
    )


def port_of(address: bytes) -> int:
    return int.from_bytes(address[-2:], "big")


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[PeerStore]:
    made: PeerStore
    if request.param == "memory":
        made = MemoryStore(TTL, random.Random(5))
    else:
        made = RedisStore(request.getfixturevalue("redis_url"), TTL, rng=random.Random(5))
    yield made
    await made.close()


async def test_first_announcer_is_alone_then_found(store: PeerStore) -> None:
    first = await store.announce(announcement(1), 0.0)
    assert first.peers == () and first.counts == SwarmCounts(0, 1, 0)
    second = await store.announce(replace(announcement(2), peer_ids_wanted=True), 1.0)
    assert [port_of(p) for p in second.peers] == [1001]
    assert second.peer_ids == (b"-BS0100-000000000001",)
    assert (await store.announce(announcement(2), 1.0)).peer_ids == ()
    assert second.counts == SwarmCounts(0, 2, 0)


async def test_numwant_bounds_the_answer_and_never_includes_the_announcer(
    store: PeerStore,
) -> None:
    for n in range(30):
        await store.announce(announcement(n), 0.0)
    result = await store.announce(announcement(7, numwant=10), 1.0)
    ports = [port_of(p) for p in result.peers]
    assert len(ports) == 10 == len(set(ports)) and 1007 not in ports
    assert set(ports) <= set(range(1000, 1030))
    assert (await store.announce(announcement(8, numwant=0), 1.0)).peers == ()


async def test_seeders_get_no_seeders(store: PeerStore) -> None:
    await store.announce(announcement(1, left=0), 0.0)
    await store.announce(announcement(2, left=0), 0.0)
    await store.announce(announcement(3, left=5), 0.0)
    result = await store.announce(announcement(4, left=0), 0.0)
    assert [port_of(p) for p in result.peers] == [1003]
    assert result.counts == SwarmCounts(complete=3, incomplete=1, downloaded=0)


async def test_completed_counts_once_and_moves_the_peer(store: PeerStore) -> None:
    await store.announce(announcement(1, left=5, event=Event.STARTED), 0.0)
    done = await store.announce(announcement(1, left=0, event=Event.COMPLETED), 1.0)
    assert done.counts == SwarmCounts(complete=1, incomplete=0, downloaded=1)
    again = await store.announce(announcement(1, left=0, event=Event.COMPLETED), 2.0)
    assert again.counts == SwarmCounts(complete=1, incomplete=0, downloaded=1)


async def test_stopped_removes_the_peer_and_an_empty_swarm(store: PeerStore) -> None:
    await store.announce(announcement(1), 0.0)
    await store.announce(announcement(2, left=0), 0.0)
    gone = await store.announce(announcement(1, event=Event.STOPPED), 1.0)
    assert gone.peers == () and gone.counts == SwarmCounts(1, 0, 0)
    await store.announce(announcement(2, event=Event.STOPPED), 1.0)
    assert await store.stats() == StoreStats(0, 0, 0)
    assert await store.scrape([TORRENT]) == [SwarmCounts()]


async def test_expired_peers_are_not_handed_out_and_are_swept(store: PeerStore) -> None:
    await store.announce(announcement(1), 0.0)
    await store.announce(announcement(2, info_hash=OTHER, left=0), 0.0)
    await store.announce(announcement(3), 50.0)
    late = await store.announce(announcement(4), TTL + 10)
    assert [port_of(p) for p in late.peers] == [1003]
    # Memory sweeps peers 1 and 2 now; Redis swept peer 1 during the last announce.
    expected = 2 if isinstance(store, MemoryStore) else 1
    assert await store.expire(TTL + 10) == expected
    assert await store.expire(2 * TTL + 60) == 2  # peers 3 and 4
    assert await store.stats() == StoreStats(0, 0, 0)


async def test_scrape_and_stats(store: PeerStore) -> None:
    await store.announce(announcement(1, left=0), 0.0)
    await store.announce(announcement(2), 0.0)
    await store.announce(announcement(3, info_hash=OTHER), 0.0)
    assert await store.scrape([TORRENT, OTHER, b"?" * 20]) == [
        SwarmCounts(1, 1, 0),
        SwarmCounts(0, 1, 0),
        SwarmCounts(),
    ]
    assert await store.stats() == StoreStats(torrents=2, seeders=1, leechers=2)


async def test_same_family_only(store: PeerStore) -> None:
    await store.announce(announcement(1, host="::1"), 0.0)
    await store.announce(announcement(2), 0.0)
    v4 = await store.announce(announcement(3, same_family_only=True), 0.0)
    assert [port_of(p) for p in v4.peers] == [1002]
    v6 = await store.announce(announcement(4, host="::1", same_family_only=True), 0.0)
    assert list(v6.peers) == [pack_address("::1", 1001)]
    mixed = await store.announce(announcement(5), 0.0)
    assert len(mixed.peers) == 4


# -- what only Redis gives -------------------------------------------------------


async def test_two_tracker_processes_share_swarms_and_survive_a_restart(redis_url: str) -> None:
    first, second = RedisStore(redis_url, TTL), RedisStore(redis_url, TTL)
    await first.announce(announcement(1), 0.0)
    seen = await second.announce(announcement(2), 0.0)
    assert [port_of(p) for p in seen.peers] == [1001]
    await first.close()
    await second.close()
    restarted = RedisStore(redis_url, TTL)
    result = await restarted.announce(announcement(3), 1.0)
    assert sorted(port_of(p) for p in result.peers) == [1001, 1002]
    await restarted.close()


async def test_prefixes_keep_trackers_apart(redis_url: str) -> None:
    one, two = RedisStore(redis_url, TTL, prefix="a"), RedisStore(redis_url, TTL, prefix="b")
    await one.announce(announcement(1), 0.0)
    assert (await two.announce(announcement(2), 0.0)).peers == ()
    assert (await two.stats()).peers == 1
    await one.close()
    await two.close()


async def test_one_announce_is_one_round_trip(redis_url: str, redis_server: int) -> None:
    store = RedisStore(redis_url, TTL)
    for n in range(1, 12):  # the first call also loads the script
        await store.announce(announcement(n), 0.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", redis_server)
    writer.write(b"MONITOR\r\n")
    assert await reader.readline() == b"+OK\r\n"
    result = await store.announce(announcement(12), 0.0)
    writer.write(b"PING\r\n")  # its +PONG comes after every command logged before it
    seen = []
    while (line := await reader.readline()) != b"+PONG\r\n":
        seen.append(line)
    writer.close()
    await store.close()
    from_clients = [line for line in seen if b"[0 lua]" not in line]
    assert len(from_clients) == 1 and b'"EVALSHA"' in from_clients[0]
    assert len(result.peers) == 11


def redis_command(port: int, command: bytes) -> bytes:
    """One inline command on a connection of its own; the raw reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(command + b"\r\n")
        return connection.recv(65536)


async def test_concurrent_announces_are_batched_over_one_connection(
    redis_url: str, redis_server: int
) -> None:
    store = RedisStore(redis_url, TTL)
    results = await asyncio.gather(
        *(store.announce(announcement(n, numwant=0), 0.0) for n in range(300))
    )
    # Each announce is atomic: the 300 counts seen are 1..300, each exactly once.
    assert sorted(result.counts.incomplete for result in results) == list(range(1, 301))
    clients = redis_command(redis_server, b"CLIENT LIST").count(b"cmd=")
    assert clients <= 2  # the store's one connection, and this CLIENT LIST
    await store.close()


async def test_scripts_lost_by_a_redis_restart_are_loaded_again(
    redis_url: str, redis_server: int
) -> None:
    store = RedisStore(redis_url, TTL)
    await store.announce(announcement(1), 0.0)
    assert redis_command(redis_server, b"SCRIPT FLUSH").startswith(b"+OK")
    result = await store.announce(announcement(2), 0.0)
    assert [port_of(p) for p in result.peers] == [1001]
    await store.close()


async def test_a_redis_error_reaches_every_caller_of_the_batch(redis_url: str) -> None:
    store = RedisStore(redis_url.rsplit(":", 1)[0] + ":1/0", TTL)  # nothing listens on port 1
    calls = [store.announce(announcement(n), 0.0) for n in range(3)]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(outcome, RedisConnectionError) for outcome in outcomes), outcomes
    await store.close()


operations = st.lists(
    st.tuples(
        st.integers(0, 5),  # peer
        st.sampled_from(list(Event)),
        st.booleans(),  # seeder
        st.integers(0, 3),  # numwant
        st.integers(0, 150),  # time step
    ),
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_redis_and_memory_agree_on_counts(
    redis_url: str, ops: list[tuple[int, Event, bool, int, int]]
) -> None:
    async def run() -> None:
        redis_store = RedisStore(redis_url, TTL, prefix=f"run{next(RUNS)}")
        memory_store = MemoryStore(TTL)
        now = 0.0
        try:
            for peer, event, seeder, numwant, step in ops:
                now += step
                # Sweep both first: the stores may sweep lazily at different moments, and a
                # swarm's ``downloaded`` count lives only as long as the swarm.
                await redis_store.expire(now)
                await memory_store.expire(now)
                a = announcement(peer, left=0 if seeder else 9, event=event, numwant=numwant)
                got = await redis_store.announce(a, now)
                want = await memory_store.announce(a, now)
                assert len(got.peers) == len(want.peers)
                assert a.address not in got.peers
            assert await redis_store.scrape([TORRENT]) == await memory_store.scrape([TORRENT])
            assert await redis_store.stats() == await memory_store.stats()
        finally:
            await redis_store.close()

    asyncio.run(run())


async def test_expiring_a_large_swarm_takes_several_bounded_sweeps(redis_url: str) -> None:
    store = RedisStore(redis_url, TTL)
    for n in range(2500):
        await store.announce(announcement(n, numwant=0), 0.0)
    assert await store.expire(TTL + 1) == 2500
    assert await store.stats() == StoreStats(0, 0, 0)
    await store.close()
