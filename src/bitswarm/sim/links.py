"""Virtual links: each peer's upload and download capacity and latency (the bandwidth model).

The model, chosen to be simple, documented and fast:

* Every peer has one **uplink**, a FIFO server of ``upload`` bytes/s shared by
  all its connections. A message is serialised when the uplink is free, so
  peers share a sender's capacity at message (block) granularity, in
  the order the sender's core chose: a per-peer fair share, as TCP
  connections leaving one access link get. The driver applies back-pressure
  as a socket buffer does: a block is read from disk only once the uplink
  has less than :data:`SEND_BUFFER` bytes queued.
* The message then travels ``sender.latency + receiver.latency`` seconds
  (each peer's one-way delay to the core of the network, which has no
  bottleneck of its own).
* Every peer has one **downlink**, a FIFO server of ``download`` bytes/s fed
  in arrival order; an unlimited downlink (``math.inf``, the default when a
  scenario gives no ``--peer-down``) costs no event at all.

Capacities count wire bytes (message headers included); the bound the report
compares with counts payload, so the simulator can never beat it by cheating
on overhead. TCP's slow start, losses and the handshake's round trips are
left out; connections take one round trip to open.

Coarse blocks (``Scenario.block_size`` above 16 KiB, the fast path only): a
``piece``, ``request``, ``cancel`` or ``reject`` of a coarse block stands for
the train of 16 KiB messages a real peer would send, and :func:`wire_size`
charges exactly their bytes (a header per 16 KiB), so links carry the same
bytes in the same time and only the number of events falls. What moves later
than it would is the front of a train: its first 16 KiB arrive with its last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bitswarm.core.swarm.pieces import BLOCK_SIZE
from bitswarm.core.wire.messages import Cancel, Message, Piece, RejectRequest, Request

SEND_BUFFER = 64 * 1024
"""Bytes a peer lets queue on its uplink before it reads more blocks to send."""
_SPANS = (Request, Cancel, RejectRequest)
_PIECE_HEADER = 13
"""Length prefix, id, index and begin of a ``piece`` message."""
_SPAN_SIZE = 17
"""A whole ``request``, ``cancel`` or ``reject`` message."""


def wire_size(message: Message) -> int:
    """Bytes ``message`` takes on the wire (length prefix included), without encoding it;
    for a block above 16 KiB, the bytes of the 16 KiB messages it stands for."""

    if type(message) is Piece:
        length = len(message.block)
        return length + _PIECE_HEADER * max(1, -(-length // BLOCK_SIZE))
    if isinstance(message, _SPANS):
        return _SPAN_SIZE * max(1, -(-message.length // BLOCK_SIZE))
    fixed: int | None = getattr(message, "PAYLOAD_SIZE", None)
    if fixed is not None:
        return 5 + fixed
    return len(message.encode())


@dataclass(slots=True)
class Endpoint:
    """One peer's access link: capacities in bytes/s, one-way latency in seconds."""

    upload: float
    download: float = math.inf
    latency: float = 0.025
    up_free_at: float = 0.0
    down_free_at: float = 0.0
    wire_up: int = 0
    """Wire bytes serialised on the uplink so far."""

    def __post_init__(self) -> None:
        if not self.upload > 0 or not self.download > 0:
            raise ValueError(
                f"link capacities must be positive (upload {self.upload}, download {self.download})"
            )
        if self.latency < 0:
            raise ValueError(f"latency must not be negative, got {self.latency}")

    def send(self, size: int, now: float) -> float:
        """Serialise ``size`` bytes on the uplink; returns when the last byte has left."""

        start = self.up_free_at if self.up_free_at > now else now
        self.up_free_at = start + size / self.upload
        self.wire_up += size
        return self.up_free_at

    def read_ready_at(self, now: float) -> float:
        """When a block read may complete: the uplink has room in its send buffer."""

        ready = self.up_free_at - SEND_BUFFER / self.upload
        return ready if ready > now else now

    def receive(self, size: int, now: float) -> float:
        """``size`` bytes reached the downlink at ``now``; returns when the last byte is in."""

        start = self.down_free_at if self.down_free_at > now else now
        self.down_free_at = start + size / self.download
        return self.down_free_at
