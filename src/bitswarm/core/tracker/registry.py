"""The tracker's swarms in memory: who is in each torrent, and who gets whom (BEP 3, 48).

Theory of operation
-------------------
A swarm is a dict from a peer's compact address (6 bytes for IPv4, 18 for
IPv6: the key BEP 23 makes natural, and the identity a tracker can verify)
to one integer packing the expiry time (whole seconds), a seeder bit and the
160-bit peer id: a 56-byte object, 8 less than the same fields as bytes.
Small keys, int records and one dict per torrent are the cheapest containers
CPython offers: about 145 bytes per peer at a million peers (10 per torrent
or all in one, resident memory measured), against several hundred for a
dataclass per peer. The swarm also keeps running counts of seeders and
of completed downloads, so a scrape is O(1).

An announce first updates the announcer (``stopped`` removes it), moving it
to the end of its swarm's dict, so a dict runs from the oldest announce to the
newest, in order of expiry (an expiry is never set below the newest one's, even
if the clock steps back). Then it picks peers, skipping the announcer, expired
records, the wrong address family when asked, and seeders when the announcer
is itself a seeder. Peers are handed out as the compact bytes they are keyed
by, so a reply is a join of stored bytes. A small swarm is walked from a
random position, wrapping around once (a C-level ``islice`` skips to the
start). When nothing needs skipping (the oldest record is alive, so all are;
the announcer is the only seeder or a leecher; one address family or either
wanted) the walk is pure ``islice`` over the keys, without a Python-level
step per peer; that is the common case. A seeder in such a swarm only skips
seeders, one bit test per peer. When the announcer wants every suitable peer,
they are handed out in stored order, with no random start to draw.

A large swarm is sampled at random positions of a snapshot of its keys,
retaken once an eighth of the swarm has changed, so a pick costs O(numwant)
whatever the swarm's size; peers that joined since the snapshot are handed
out after the next one. Only if the draws do not find enough suitable peers
(a seeder in a swarm of seeders) does the walk follow.

Nothing here reads a clock: callers pass ``now``. Expired peers are skipped at
once and removed by :meth:`Registry.expire_swarm`, which callers spread over
time so that a million-peer sweep never stalls a server; the sweep of a swarm
stops at its first live record, as the expired ones come first.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from typing import TypeVar

from bitswarm.core.tracker.compact import V6_SIZE
from bitswarm.core.tracker.model import (
    Announcement,
    AnnounceResult,
    Event,
    StoreStats,
    SwarmCounts,
)

_T = TypeVar("_T")
_STOPPED = Event.STOPPED
_COMPLETED = Event.COMPLETED

# A record is expiry << 161 | seeder << 160 | peer id (as a big-endian integer).
_SEEDER_BIT = 160
_SEEDER_FLAG = 1 << _SEEDER_BIT
_EXPIRY_SHIFT = 161
_PEER_ID_MASK = (1 << 160) - 1
_FLAGS_AND_ID_MASK = (1 << _EXPIRY_SHIFT) - 1

SAMPLE_ABOVE = 512
"""Swarms larger than this are sampled at random positions instead of walked."""

SAMPLE_TRIES = 3
"""Random draws per wanted peer before a large swarm falls back to a walk."""


class _Swarm:
    """One torrent's peers and counters, and a key snapshot for sampling large swarms."""

    __slots__ = ("_churn", "_snapshot", "downloaded", "peers", "seeders", "v6")

    def __init__(self) -> None:
        self.peers: dict[bytes, int] = {}  # oldest announce first, so in order of expiry
        self.seeders = 0
        self.v6 = 0
        self.downloaded = 0
        self._snapshot: list[bytes] | None = None
        self._churn = 0  # peers added or removed since the snapshot was taken

    def counts(self) -> SwarmCounts:
        return SwarmCounts(self.seeders, len(self.peers) - self.seeders, self.downloaded)

    def remove(self, address: bytes) -> int | None:
        record = self.peers.pop(address, None)
        if record is not None:
            self._churn += 1
            self.v6 -= len(address) == V6_SIZE
            if _is_seeder(record):
                self.seeders -= 1
        return record

    def put(self, address: bytes, record: int) -> int | None:
        """Make ``address`` the newest peer; return its previous record, if any.

        Its expiry is raised to the newest peer's should the clock have
        stepped back, so that expiry order and announce order stay one.
        """
        peers = self.peers
        previous = peers.pop(address, None)
        if peers:
            newest = next(reversed(peers.values()))
            if newest > record and newest >> _EXPIRY_SHIFT > record >> _EXPIRY_SHIFT:
                record = newest >> _EXPIRY_SHIFT << _EXPIRY_SHIFT | record & _FLAGS_AND_ID_MASK
        peers[address] = record
        if previous is None:
            self._churn += 1
            self.v6 += len(address) == V6_SIZE
        elif _is_seeder(previous):
            self.seeders -= 1
        if _is_seeder(record):
            self.seeders += 1
        return previous

    def uniform(self, family: int, live: int) -> bool:
        """Whether every peer is alive and of the address ``family`` (0: either)."""
        peers = self.peers
        return next(iter(peers.values())) >= live and (  # the oldest is alive, so all are
            not family or self.v6 == (len(peers) if family == V6_SIZE else 0)
        )

    def snapshot(self) -> list[bytes]:
        """The peers' keys, retaken once an eighth of the swarm has come or gone."""
        if self._snapshot is None or self._churn * 8 > len(self.peers):
            self._snapshot = list(self.peers)
            self._churn = 0
        return self._snapshot

    def drop_snapshot(self) -> None:
        self._snapshot = None


class Registry:
    """Every swarm a tracker knows; peers are forgotten ``peer_ttl`` seconds after announcing."""

    def __init__(self, peer_ttl: float, rng: random.Random | None = None) -> None:
        if peer_ttl <= 0:
            raise ValueError(f"peer_ttl must be positive, not {peer_ttl}")
        self.peer_ttl = peer_ttl
        self._rng = rng or random.Random()
        self._swarms: dict[bytes, _Swarm] = {}

    def announce(self, announcement: Announcement, now: float) -> AnnounceResult:
        """Record (or, on ``stopped``, remove) the announcer, then pick its peers."""
        a = announcement
        before = self._swarms.get(a.info_hash)  # still counted if ``stopped`` empties it
        peers, *_ = self.announce_values(
            a.info_hash, a.address, a.peer_id, a.seeder, a.event, a.numwant, a.same_family_only, now
        )
        swarm = self._swarms.get(a.info_hash, before)
        if swarm is None:
            return AnnounceResult((), SwarmCounts())
        if a.peer_ids_wanted:
            ids = tuple((swarm.peers[p] & _PEER_ID_MASK).to_bytes(20) for p in peers)
            return AnnounceResult(peers, swarm.counts(), ids)
        return AnnounceResult(peers, swarm.counts())

    def announce_values(
        self,
        info_hash: bytes,
        address: bytes,
        peer_id: bytes,
        seeder: bool,
        event: int,
        numwant: int,
        same_family_only: bool,
        now: float,
    ) -> tuple[tuple[bytes, ...], int, int, int]:
        """:meth:`announce` from plain values: the peers, then seeders, leechers and
        completed downloads.

        The servers' hot paths call this with the fields they unpacked,
        building no :class:`Announcement` and no :class:`AnnounceResult`;
        ``event`` is BEP 15's number (an :class:`Event` is one).
        """
        swarm = self._swarms.get(info_hash)
        if event == _STOPPED:
            if swarm is None:
                return (), 0, 0, 0
            swarm.remove(address)
            if not swarm.peers:
                del self._swarms[info_hash]
            return (), swarm.seeders, len(swarm.peers) - swarm.seeders, swarm.downloaded
        if swarm is None:
            swarm = self._swarms[info_hash] = _Swarm()
        expiry = math.ceil(now + self.peer_ttl)
        record = expiry << _EXPIRY_SHIFT | seeder << _SEEDER_BIT | int.from_bytes(peer_id)
        previous = swarm.put(address, record)
        if event == _COMPLETED and not (previous is not None and previous & _SEEDER_FLAG):
            swarm.downloaded += 1
        peers = self._pick(swarm, address, seeder, numwant, same_family_only, now)
        return peers, swarm.seeders, len(swarm.peers) - swarm.seeders, swarm.downloaded

    def scrape(self, info_hashes: Iterable[bytes]) -> list[SwarmCounts]:
        """Counts for each info-hash, zeros for unknown ones."""
        empty = SwarmCounts()
        found = self._swarms.get
        return [swarm.counts() if (swarm := found(h)) else empty for h in info_hashes]

    def info_hashes(self) -> list[bytes]:
        """A snapshot of the known info-hashes, for sweeping in slices."""
        return list(self._swarms)

    def expire_swarm(self, info_hash: bytes, now: float) -> int:
        """Forget the expired peers of one torrent (and the torrent if none is left)."""
        swarm = self._swarms.get(info_hash)
        if swarm is None:
            return 0
        live = _live_from(now)
        stale = []
        for address, record in swarm.peers.items():  # in order of expiry
            if record >= live:
                break
            stale.append(address)
        for address in stale:
            swarm.remove(address)
        if not swarm.peers:
            del self._swarms[info_hash]
        return len(stale)

    def expire(self, now: float) -> int:
        """Forget every expired peer at once; servers prefer :meth:`expire_swarm` in slices."""
        return sum(self.expire_swarm(info_hash, now) for info_hash in self.info_hashes())

    def stats(self) -> StoreStats:
        """Torrents, seeders and leechers (expired peers count until swept)."""
        seeders = sum(swarm.seeders for swarm in self._swarms.values())
        peers = sum(len(swarm.peers) for swarm in self._swarms.values())
        return StoreStats(len(self._swarms), seeders, peers - seeders)

    def _pick(
        self,
        swarm: _Swarm,
        me: bytes,
        seeder: bool,
        wanted: int,
        same_family_only: bool,
        now: float,
    ) -> tuple[bytes, ...]:
        """Up to ``wanted`` peers suitable for ``me``: compact addresses, as they are stored."""
        peers = swarm.peers
        if wanted <= 0 or len(peers) <= 1:
            return ()
        live = _live_from(now)
        family = len(me) if same_family_only else 0
        if len(peers) <= SAMPLE_ABOVE and swarm.uniform(family, live):
            swarm.drop_snapshot()
            others = len(peers) - 1  # all but the announcer, the newest and so the last
            skip_seeders = seeder and swarm.seeders > 1
            if others - skip_seeders * (swarm.seeders - 1) <= wanted:  # every suitable peer
                if not skip_seeders:
                    return tuple(islice(peers, others))
                return tuple([p for p, record in peers.items() if not record & _SEEDER_FLAG])
            start = self._rng.randrange(others)
            if not skip_seeders:
                return tuple(islice(_rotated(peers.keys(), start, others), wanted))
            walk = _rotated(peers.items(), start, others)
            leechers = (address for address, record in walk if not record & _SEEDER_FLAG)
            return tuple(islice(leechers, wanted))
        candidates = self._candidates(swarm, wanted)
        suitable = (
            address
            for address, record in candidates
            if record >= live
            and address != me
            and not (family and len(address) != family)
            and not (seeder and record & _SEEDER_FLAG)
        )
        if len(peers) <= SAMPLE_ABOVE:  # a walk meets every peer at most once
            return tuple(islice(suitable, wanted))
        picked: dict[bytes, None] = {}
        for address in suitable:
            picked[address] = None
            if len(picked) == wanted:
                break
        return tuple(picked)

    def _candidates(self, swarm: _Swarm, numwant: int) -> Iterator[tuple[bytes, int]]:
        """Random peers: sampled from a snapshot in a large swarm, then a walk as a fallback."""
        peers = swarm.peers
        start = self._rng.randrange(len(peers))
        walk = _rotated(peers.items(), start, len(peers))
        if len(peers) <= SAMPLE_ABOVE:
            swarm.drop_snapshot()
            return walk
        return chain(self._sample(swarm, numwant), walk)

    def _sample(self, swarm: _Swarm, numwant: int) -> Iterator[tuple[bytes, int]]:
        snapshot = swarm.snapshot()
        for _ in range(SAMPLE_TRIES * numwant):
            address = snapshot[self._rng.randrange(len(snapshot))]
            record = swarm.peers.get(address)
            if record is not None:
                yield address, record


def _rotated(view: Iterable[_T], start: int, stop: int) -> Iterator[_T]:
    """The first ``stop`` entries of ``view`` from ``start`` on, wrapping around once."""
    return chain(islice(view, start, stop), islice(view, start))


def _live_from(now: float) -> int:
    """The smallest record still listed at ``now``: expiry < now exactly when record < this."""
    return math.ceil(now) << _EXPIRY_SHIFT


def _is_seeder(record: int) -> bool:
    return bool(record & _SEEDER_FLAG)
