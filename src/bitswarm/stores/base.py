"""The interface every tracker peer store implements (BEP 3, 15, 48).

A store holds, per info-hash, the peers that announced recently, and answers
an announce with other peers plus the swarm's counts. The tracker servers talk
to a store only through :class:`PeerStore`, so the in-memory store and the
Redis store are interchangeable, and several tracker processes can share one
Redis.

The methods are coroutines because a networked store needs to be awaited; an
in-memory store simply never suspends. Time is passed in (``now``, in seconds
on any monotonic-enough clock shared by the processes using the store), so
tests and the simulator control it.

Contract of :meth:`PeerStore.announce`:

- the announcer is recorded (or removed on ``stopped``) before peers are
  chosen, and never appears among its own peers;
- a seeder (``left == 0``) is given no seeders;
- at most ``numwant`` peers, picked at random from the swarm;
- ``completed`` increments the torrent's ``downloaded`` count once per peer
  that was known as a leecher;
- a peer that does not announce again within the store's ``peer_ttl`` is
  forgotten (by :meth:`PeerStore.expire` or lazily);
- the counts reflect the swarm after this announce.

A store that holds its swarms in this process can also offer the same
announce and scrape as plain methods (:class:`ImmediateStore`); the UDP
server then answers inside its datagram callback, with no task per request.
A store that several processes share offers :class:`SharedState` too
(:class:`SharingStore`): the access lists of a private tracker and the
request counters, kept where every process sees them and a restart finds them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from bitswarm.core.tracker.access import AccessKind
from bitswarm.core.tracker.model import Announcement, AnnounceResult, StoreStats, SwarmCounts


@runtime_checkable
class PeerStore(Protocol):
    """Swarms of peers, keyed by info-hash; see the module docstring for the contract."""

    async def announce(self, announcement: Announcement, now: float) -> AnnounceResult:
        """Record the announcer, then return up to ``numwant`` other peers and the counts."""
        ...

    async def scrape(self, info_hashes: Sequence[bytes]) -> list[SwarmCounts]:
        """Counts for each info-hash, in order; an unknown torrent counts zero."""
        ...

    async def expire(self, now: float) -> int:
        """Forget peers whose time-to-live ran out; return how many were forgotten."""
        ...

    async def stats(self) -> StoreStats:
        """Torrents, seeders and leechers over the whole store."""
        ...

    async def close(self) -> None:
        """Release connections; the store is unusable afterwards."""
        ...


@runtime_checkable
class ImmediateStore(Protocol):
    """A store whose announce and scrape finish without waiting, offered as plain methods too."""

    def announce_now(self, announcement: Announcement, now: float) -> AnnounceResult:
        """:meth:`PeerStore.announce`, answered before returning."""
        ...

    def scrape_now(self, info_hashes: Sequence[bytes]) -> list[SwarmCounts]:
        """:meth:`PeerStore.scrape`, answered before returning."""
        ...

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
        """:meth:`announce_now` from plain values for a hot path: peers, seeders, leechers,
        completed downloads.

        As :meth:`~bitswarm.core.tracker.registry.Registry.announce_values`.
        """
        ...


@runtime_checkable
class SharedState(Protocol):
    """What the processes of one tracker share besides swarms: access lists, request counters.

    Every change of the lists bumps a version number, so a process learns that
    its copy is stale from one cheap read (:meth:`access_version`) and only
    then reloads the lists (:meth:`load_access`). Request counters are added
    in batches (:meth:`add_requests`), never one call per request.
    """

    async def change_access(self, kind: AccessKind, items: Sequence[str], add: bool) -> int:
        """Add or remove passkeys or info-hashes (hex); how many entries changed."""
        ...

    async def access_version(self) -> int:
        """A number that changes whenever either list does."""
        ...

    async def load_access(self) -> tuple[int, set[str], set[bytes]]:
        """The version, the passkeys and the allowed info-hashes, read together."""
        ...

    async def add_requests(self, deltas: Mapping[str, int]) -> dict[str, int]:
        """Add to the tracker-wide counters (``'http:announces'``...); every total after."""
        ...


@runtime_checkable
class SharingStore(Protocol):
    """A store that several tracker processes share, with the rest of their state."""

    def shared_state(self) -> SharedState:
        """The access lists and request counters kept beside the swarms."""
        ...
