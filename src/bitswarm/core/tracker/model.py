"""What a tracker knows about a swarm, independent of HTTP or UDP (BEP 3, 15, 48).

Both transports parse their requests into one :class:`Announcement`, every
peer store answers with one :class:`AnnounceResult`, and scrapes count with
:class:`SwarmCounts`. The numbering of :class:`Event` is BEP 15's, so a UDP
packet needs no translation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from bitswarm.core.tracker.compact import V6_SIZE

INFO_HASH_SIZE = 20
"""Bytes of a v1 info-hash, and of a v2 one truncated for trackers (BEP 52)."""

PEER_ID_SIZE = 20
"""Bytes of a peer id."""

DEFAULT_NUMWANT = 50
"""Peers returned when the client does not say (BEP 3 suggests 50)."""

MAX_NUMWANT = 200
"""Most peers one reply carries, whatever the client asks (UDP may cap lower)."""


class Event(IntEnum):
    """Why a peer announces; the values are BEP 15's on-the-wire numbers."""

    NONE = 0
    COMPLETED = 1
    STARTED = 2
    STOPPED = 3


@dataclass(frozen=True, slots=True)
class Announcement:
    """One announce, after the transport has checked and normalised it.

    ``address`` is the compact form (BEP 23/7) of the address the tracker will
    hand to other peers: the packet's source, or an ``ip=`` the policy allowed.
    ``numwant`` is already capped by the transport. ``same_family_only`` asks
    for peers of the announcer's own address family alone, as a UDP reply can
    carry only one (BEP 15); HTTP replies carry both (BEP 7).
    ``peer_ids_wanted`` asks for the peers' ids too, which only BEP 3's
    non-compact reply carries; stores skip that work otherwise.
    """

    info_hash: bytes
    peer_id: bytes
    address: bytes
    uploaded: int
    downloaded: int
    left: int
    event: Event
    numwant: int
    key: int | None = None
    same_family_only: bool = False
    peer_ids_wanted: bool = False

    @property
    def seeder(self) -> bool:
        """A peer with nothing left to download."""
        return self.left == 0

    @property
    def ipv6(self) -> bool:
        """Whether the announcing address is IPv6 (BEP 7)."""
        return len(self.address) == V6_SIZE


@dataclass(frozen=True, slots=True)
class SwarmCounts:
    """The scrape numbers of one torrent (BEP 48): seeders, leechers, finished downloads."""

    complete: int = 0
    incomplete: int = 0
    downloaded: int = 0


@dataclass(frozen=True, slots=True)
class AnnounceResult:
    """A store's answer to an announce: peers for the announcer and the swarm's counts.

    ``peers`` are compact addresses (BEP 23, 7), the form stores keep them
    in, so a reply is a join of them. They never include the announcer, hold
    no seeders when the announcer is a seeder, and mix IPv4 and IPv6 entries;
    transports split them by size (BEP 7's ``peers`` and ``peers6``).
    ``peer_ids`` holds the id of each peer, in the same order, when the
    announcement asked for them, and is empty otherwise.
    """

    peers: tuple[bytes, ...]
    counts: SwarmCounts
    peer_ids: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Totals over every swarm a store holds."""

    torrents: int
    seeders: int
    leechers: int

    @property
    def peers(self) -> int:
        """Seeders and leechers together."""
        return self.seeders + self.leechers
