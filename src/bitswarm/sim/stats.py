"""What the simulator measures while it runs: bytes uploaded, capacity offered, piece copies.

:class:`SwarmStats` is told of arrivals, departures, finished pieces and every
block sent, and takes a :class:`Sample` every ``interval`` virtual seconds.
The report turns the samples into the swarm's upload utilisation (payload
bytes sent over the capacity on offer: the upload of the peers present, free
riders excluded as they offer none), the origin's upload over time, and the
replication of pieces (the fewest and the mean copies among present peers).
"""

from __future__ import annotations

from dataclasses import dataclass

from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.wire.messages import Message, Piece
from bitswarm.sim.scenarios import PeerSpec


@dataclass(frozen=True, slots=True)
class Sample:
    time: float
    uploaded: int
    """Payload bytes sent by every peer so far."""
    origin_uploaded: int
    capacity: float
    """Upload bytes/s on offer from the peers present (free riders excluded)."""
    min_copies: int
    mean_copies: float


class SwarmStats:
    __slots__ = (
        "_capacity",
        "_copies",
        "dropped_payload",
        "interval",
        "origin_uploaded",
        "samples",
        "uploaded_total",
    )

    def __init__(self, piece_count: int, interval: float) -> None:
        if not interval > 0:
            raise ValueError(f"the sample interval must be positive, got {interval}")
        self.interval = interval
        self._copies = [0] * piece_count
        self._capacity = 0.0
        self.uploaded_total = 0
        self.origin_uploaded = 0
        self.dropped_payload = 0
        """Block bytes that were in flight on a connection that closed."""
        self.samples: list[Sample] = []

    @property
    def copies(self) -> list[int]:
        return list(self._copies)

    def arrived(self, spec: PeerSpec, have: Bitfield) -> None:
        if not spec.free_rider:
            self._capacity += spec.upload
        for piece in have:
            self._copies[piece] += 1

    def left(self, spec: PeerSpec, have: Bitfield) -> None:
        if not spec.free_rider:
            self._capacity -= spec.upload
        for piece in have:
            self._copies[piece] -= 1

    def piece_done(self, piece: int) -> None:
        self._copies[piece] += 1

    def uploaded(self, spec: PeerSpec, size: int, now: float) -> None:
        self.uploaded_total += size
        if spec.origin:
            self.origin_uploaded += size

    def dropped(self, payload: Message | bytes) -> None:
        if isinstance(payload, Piece):
            self.dropped_payload += len(payload.block)
        elif isinstance(payload, bytes) and len(payload) > 13 and payload[4] == 7:
            self.dropped_payload += len(payload) - 13

    def sample(self, now: float) -> None:
        copies = self._copies
        self.samples.append(
            Sample(
                now,
                self.uploaded_total,
                self.origin_uploaded,
                max(self._capacity, 0.0),
                min(copies, default=0),
                sum(copies) / len(copies) if copies else 0.0,
            )
        )
