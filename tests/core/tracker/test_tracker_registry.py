"""Swarm registry rules: self-exclusion, seeders, events, counts, expiry, families."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bitswarm.core.tracker.compact import pack_address, packed_ip
from bitswarm.core.tracker.errors import TrackerMessageError
from bitswarm.core.tracker.model import Announcement, Event, SwarmCounts
from bitswarm.core.tracker.registry import SAMPLE_ABOVE, Registry

HASH = b"\x11" * 20
TTL = 100.0


def peer(n: int, *, left: int = 1, event: Event = Event.NONE, numwant: int = 50,
         v6: bool = False, info_hash: bytes = HASH, same_family_only: bool = False,
         ) -> Announcement:  # fmt: skip
    host = f"2001:db8::{n}" if v6 else f"10.0.0.{n}"
    return Announcement(
        info_hash=info_hash, peer_id=n.to_bytes(20, "big"), address=pack_address(host, 6000 + n),
        uploaded=0, downloaded=0, left=left, event=event, numwant=numwant,
        same_family_only=same_family_only,
    )  # fmt: skip


@pytest.fixture
def registry() -> Registry:
    return Registry(TTL, random.Random(7))


def test_first_peer_gets_nobody_and_counts_itself(registry: Registry) -> None:
    result = registry.announce(peer(1, event=Event.STARTED), 0)
    assert result.peers == ()
    assert result.counts == SwarmCounts(complete=0, incomplete=1, downloaded=0)


def test_peers_never_get_themselves_and_carry_peer_ids(registry: Registry) -> None:
    for n in range(1, 6):
        registry.announce(peer(n), 0)
    result = registry.announce(replace(peer(3), peer_ids_wanted=True), 1)
    addresses = set(result.peers)
    assert len(addresses) == 4
    assert peer(3).address not in addresses
    ids = dict(zip(result.peers, result.peer_ids, strict=True))
    assert ids == {peer(n).address: n.to_bytes(20, "big") for n in (1, 2, 4, 5)}
    assert registry.announce(peer(3), 2).peer_ids == ()


def test_seeders_get_no_seeders_but_leechers_get_both(registry: Registry) -> None:
    registry.announce(peer(1, left=0), 0)
    registry.announce(peer(2, left=0), 0)
    registry.announce(peer(3), 0)
    seeder = registry.announce(peer(1, left=0), 1)
    assert list(seeder.peers) == [peer(3).address]
    leecher = registry.announce(peer(3), 1)
    assert set(leecher.peers) == {peer(1).address, peer(2).address}
    assert leecher.counts == SwarmCounts(complete=2, incomplete=1, downloaded=0)


def test_numwant_limits_and_zero_means_none(registry: Registry) -> None:
    for n in range(1, 31):
        registry.announce(peer(n), 0)
    assert len(registry.announce(peer(1, numwant=10), 1).peers) == 10
    assert registry.announce(peer(1, numwant=0), 1).peers == ()


def test_picks_are_spread_over_the_swarm(registry: Registry) -> None:
    for n in range(1, 101):
        registry.announce(peer(n), 0)
    seen = set()
    for _ in range(50):
        seen |= set(registry.announce(peer(1, numwant=5), 1).peers)
    assert len(seen) > 60


def test_completed_counts_once_and_turns_leecher_into_seeder(registry: Registry) -> None:
    registry.announce(peer(1, event=Event.STARTED), 0)
    done = registry.announce(peer(1, left=0, event=Event.COMPLETED), 1)
    assert done.counts == SwarmCounts(complete=1, incomplete=0, downloaded=1)
    again = registry.announce(peer(1, left=0, event=Event.COMPLETED), 2)
    assert again.counts.downloaded == 1


def test_stopped_removes_the_peer_and_forgets_empty_swarms(registry: Registry) -> None:
    registry.announce(peer(1, left=0), 0)
    registry.announce(peer(2), 0)
    result = registry.announce(peer(2, event=Event.STOPPED), 1)
    assert result.peers == ()
    assert result.counts == SwarmCounts(complete=1, incomplete=0)
    registry.announce(peer(1, left=0, event=Event.STOPPED), 1)
    assert registry.stats().torrents == 0
    assert registry.announce(peer(9, event=Event.STOPPED), 1).counts == SwarmCounts()


def test_expired_peers_are_skipped_then_swept(registry: Registry) -> None:
    registry.announce(peer(1), 0)
    registry.announce(peer(2), 50)
    late = 0 + TTL + 1
    assert list(registry.announce(peer(3), late).peers) == [peer(2).address]
    assert registry.expire(late) == 1
    assert registry.stats().leechers == 2
    assert registry.expire(late + TTL + 1) == 2
    assert registry.stats().torrents == 0


def test_same_family_only_filters_v6_from_a_v4_announcer(registry: Registry) -> None:
    registry.announce(peer(1, v6=True), 0)
    registry.announce(peer(2), 0)
    mixed = registry.announce(peer(3), 1)
    assert len(mixed.peers) == 2
    v4_only = registry.announce(peer(3, same_family_only=True), 1)
    assert list(v4_only.peers) == [peer(2).address]


def test_scrape_and_stats(registry: Registry) -> None:
    other = b"\x22" * 20
    registry.announce(peer(1, left=0), 0)
    registry.announce(peer(2, info_hash=other), 0)
    registry.announce(peer(3, info_hash=other), 0)
    assert registry.scrape([HASH, other, b"\x33" * 20]) == [
        SwarmCounts(1, 0, 0),
        SwarmCounts(0, 2, 0),
        SwarmCounts(),
    ]
    stats = registry.stats()
    assert (stats.torrents, stats.seeders, stats.leechers, stats.peers) == (2, 1, 2, 3)


def test_reannounce_as_seeder_updates_counts_without_duplicates(registry: Registry) -> None:
    registry.announce(peer(1), 0)
    registry.announce(peer(1, left=0), 1)
    assert registry.scrape([HASH]) == [SwarmCounts(complete=1, incomplete=0)]


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="peer_ttl"):
        Registry(0)


def big_swarm(registry: Registry, size: int, *, seeders: bool = False) -> None:
    for n in range(size):
        host = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        registry.announce(
            Announcement(HASH, n.to_bytes(20, "big"), pack_address(host, 6881), 0, 0,
                         0 if seeders else 1, Event.NONE, 0),
            0,
        )  # fmt: skip


def test_large_swarms_are_sampled_without_duplicates_or_self(registry: Registry) -> None:
    big_swarm(registry, SAMPLE_ABOVE * 4)
    me = Announcement(HASH, b"m" * 20, pack_address("10.0.0.7", 6881), 0, 0, 1, Event.NONE, 200)
    seen: set[bytes] = set()
    for _ in range(20):
        peers = list(registry.announce(me, 1).peers)
        assert len(peers) == len(set(peers)) == 200
        assert me.address not in peers
        seen |= set(peers)
    assert len(seen) > SAMPLE_ABOVE * 3  # spread over the whole swarm


def test_a_seeder_in_a_large_swarm_of_seeders_still_finds_the_leecher(registry: Registry) -> None:
    big_swarm(registry, SAMPLE_ABOVE * 4, seeders=True)
    registry.announce(peer(1), 0)  # the one leecher
    seeder = Announcement(HASH, b"s" * 20, pack_address("10.0.0.9", 6881), 0, 0, 0, Event.NONE, 50)
    assert list(registry.announce(seeder, 1).peers) == [peer(1).address]


def test_newcomers_to_a_large_swarm_are_handed_out_after_enough_churn(registry: Registry) -> None:
    size = SAMPLE_ABOVE * 2
    big_swarm(registry, size)
    asker = Announcement(HASH, b"a" * 20, pack_address("10.0.0.1", 6881), 0, 0, 1, Event.NONE, 200)
    registry.announce(asker, 1)  # takes the snapshot
    newcomers = set()
    for n in range(1, 200):  # more than an eighth of the swarm
        registry.announce(peer(n, numwant=0), 1)
        newcomers.add(peer(n).address)
    seen: set[bytes] = set()
    for _ in range(30):
        seen |= set(registry.announce(asker, 2).peers)
    assert seen & newcomers


def test_a_clock_stepping_back_keeps_peers_in_expiry_order(registry: Registry) -> None:
    registry.announce(peer(1), 100)
    registry.announce(peer(2), 40)  # the clock stepped back: peer 2 lives as long as peer 1
    assert set(registry.announce(peer(3), 40 + TTL + 1).peers) == {peer(1).address, peer(2).address}
    assert registry.expire(40 + TTL + 1) == 0
    assert registry.expire(100 + TTL + 1) == 2


def test_a_reannounce_moves_the_peer_behind_the_others(registry: Registry) -> None:
    for n in range(1, 4):
        registry.announce(peer(n), 0)
    registry.announce(peer(1), 60)  # peer 1 now outlives peers 2 and 3
    assert registry.expire(TTL + 1) == 2
    assert list(registry.announce(peer(4), TTL + 1).peers) == [peer(1).address]


def test_packed_ips_of_hosts_as_sockets_give_them() -> None:
    assert packed_ip("127.0.0.1") == bytes([127, 0, 0, 1])
    assert packed_ip("::ffff:10.1.2.3") == bytes([10, 1, 2, 3])
    assert packed_ip("fe80::1%lo") == bytes.fromhex("fe80" + "00" * 13 + "01")
    assert packed_ip("::1") == bytes(15) + b"\x01"
    with pytest.raises(TrackerMessageError, match="not an IP address"):
        packed_ip("not an address")
