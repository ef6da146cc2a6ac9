"""What a tracker client sends and learns, whatever the transport (BEP 3, 7, 15, 23, 48).

The HTTP and UDP client machines both take one :class:`AnnounceParams` and
both produce one :class:`AnnounceReply`, so the code that announces (the peer
engine, through :mod:`bitswarm.aio.tracker_client`) never looks at the
transport. Scrapes answer with the server side's
:class:`~bitswarm.core.tracker.model.SwarmCounts` per info-hash.

Two kinds of trouble are kept apart: a tracker that answered properly but said
no (``failure reason`` in HTTP, an error packet in UDP) raises
:class:`TrackerFailure` carrying its words, while a reply that breaks the
protocol raises :class:`ReplyError`, which says what and where.
"""

from __future__ import annotations

from dataclasses import dataclass

from bitswarm.core.tracker.compact import Address
from bitswarm.core.tracker.errors import TrackerMessageError
from bitswarm.core.tracker.model import INFO_HASH_SIZE, PEER_ID_SIZE, Event

MAX_U64 = (1 << 64) - 1
"""Largest byte count a UDP announce can carry (BEP 15 uses 64-bit fields)."""


class TrackerFailure(Exception):
    """The tracker refused the request; ``reason`` is its own explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"tracker failure: {reason}")
        self.reason = reason


class ReplyError(TrackerMessageError):
    """A tracker reply that breaks the protocol; ``where`` names the key or byte."""


@dataclass(frozen=True, slots=True)
class AnnounceParams:
    """One announce as the client means it (BEP 3's request keys).

    ``numwant`` ``None`` leaves the count to the tracker; ``key`` is the
    client's 32-bit session key, which lets a tracker recognise it after an
    address change; ``ip`` is BEP 3's optional address override (most trackers
    ignore it unless configured otherwise).
    """

    info_hash: bytes
    peer_id: bytes
    port: int
    uploaded: int = 0
    downloaded: int = 0
    left: int = 0
    event: Event = Event.NONE
    numwant: int | None = None
    key: int | None = None
    ip: str | None = None

    def __post_init__(self) -> None:
        if len(self.info_hash) != INFO_HASH_SIZE:
            raise ValueError(f"info_hash is {len(self.info_hash)} bytes, not {INFO_HASH_SIZE}")
        if len(self.peer_id) != PEER_ID_SIZE:
            raise ValueError(f"peer_id is {len(self.peer_id)} bytes, not {PEER_ID_SIZE}")
        if not 0 <= self.port <= 0xFFFF:
            raise ValueError(f"port {self.port} is outside 0..65535")
        for name in ("uploaded", "downloaded", "left"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_U64:
                raise ValueError(f"{name} {value} is outside 0..2**64-1")
        if self.numwant is not None and not 0 <= self.numwant <= 0x7FFFFFFF:
            raise ValueError(f"numwant {self.numwant} is outside 0..2**31-1")
        if self.key is not None and not 0 <= self.key <= 0xFFFFFFFF:
            raise ValueError(f"key {self.key} is outside 0..2**32-1")


@dataclass(frozen=True, slots=True)
class AnnounceReply:
    """What a tracker answered to an announce.

    ``peers`` holds IPv4 and IPv6 peers alike (BEP 7's ``peers6`` merged in).
    ``complete`` / ``incomplete`` are the seeders and leechers the tracker
    counts, when it says. ``tracker_id`` must be echoed on the next announce
    to the same tracker (BEP 3); ``warning`` is a message for the user that
    does not make the announce fail.
    """

    interval: int
    peers: tuple[Address, ...]
    min_interval: int | None = None
    complete: int | None = None
    incomplete: int | None = None
    tracker_id: bytes | None = None
    warning: str | None = None
