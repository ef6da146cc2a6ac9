"""The request pipeline to one peer: how many blocks to keep asked for, and for how long.

BEP 3 leaves the queue depth open ("a good rule of thumb is to keep a few
requests pending"); with 16 KiB blocks and a fixed handful in flight, one
round trip caps a peer at ``depth * 16 KiB / rtt``, which starves a fast peer
on loopback and a far one alike. So, as libtorrent and Transmission do, the
depth follows the measured download rate:

    depth = ceil(rate * target_latency / 16 KiB), clamped to min_depth..max_depth

so the peer always has ``target_latency`` seconds of work queued. A new peer
has no rate yet: the pipeline starts in *slow start*, adding one to the depth
for every block received while the queue was full (doubling every round trip,
as TCP does, and not growing a depth the picker leaves unused), and
leaves it when the rate-derived depth catches up, when a block's round trip
exceeds the target (the peer's queue, not the link, sets the pace), or
at the first sign of trouble (a reject or a time-out).

The depths and the ramp count 16 KiB blocks whatever the geometry's block
(``wire_blocks`` of them a request, more than one only on the simulator's
coarse fast path, see :mod:`~bitswarm.core.swarm.pieces`): the depth in
requests is the depth in 16 KiB blocks divided by ``wire_blocks``, rounded
up, and a block received grows the ramp by ``wire_blocks``, so a coarse
pipeline keeps as many bytes asked for as a real one.

Time-outs: peers serve requests in order, so only the oldest can be late. A
request older than ``clamp(4 * smoothed round trip, timeout_min, timeout_max)``
(``timeout_initial`` before the first sample) has timed out: the caller
re-issues it to other peers and cancels it here. The peer is then *snubbed*
(libtorrent's word): one request at a time until a block arrives.

Answers: a block or a BEP 6 reject must match an outstanding request, or one
we cancelled or lost to a choke (answers may cross our cancel on the wire);
anything else is the peer's fault and :meth:`RequestPipeline.answered` says
so. The same block may be asked for and cancelled twice before the first
answer arrives (endgame does that), so cancelled requests are counted, not
merely remembered: each cancel excuses one late answer. Their table is bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from bitswarm.core.swarm.pieces import BLOCK_SIZE, BlockRef

REFILL_FRACTION = 4
"""Past slow start, new requests go out once ``1/REFILL_FRACTION`` of the depth is free."""


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    target_latency: float = 1.5
    """Seconds of work to keep queued at the peer."""
    min_depth: int = 4
    max_depth: int = 500
    timeout_initial: float = 20.0
    timeout_min: float = 10.0
    timeout_max: float = 60.0
    """Also the snub time: a peer whose oldest request is this late is snubbed whatever its RTT."""
    reject_backoff: float = 1.0
    """Seconds without new requests after the peer rejects one while it unchokes us."""


class Answer(Enum):
    EXPECTED = "expected"
    """The request was outstanding."""
    LATE = "late"
    """We had cancelled it (or lost it to a choke): a crossing answer, not an offence."""
    UNREQUESTED = "unrequested"
    """Never asked for: the peer is misbehaving."""


class RequestPipeline:
    """Our requests to one peer, its round trip, and the depth it deserves."""

    __slots__ = (
        "_cancelled",
        "_outstanding",
        "_ramp",
        "_wire_blocks",
        "config",
        "hold_until",
        "last_block_at",
        "slow_start",
        "snubbed",
        "srtt",
    )

    def __init__(self, config: PipelineConfig, *, wire_blocks: int = 1) -> None:
        self.config = config
        self._wire_blocks = wire_blocks
        """16 KiB blocks a request asks for (see the module docstring)."""
        self._outstanding: dict[BlockRef, float] = {}
        """Block asked for -> when; insertion order is sending order. Blocks, not
        :class:`~bitswarm.core.wire.messages.Request` messages, key the books: every
        block that arrives is looked up, and a :class:`BlockRef` hashes in C."""
        self._cancelled: dict[BlockRef, int] = {}
        """Cancelled request -> answers it may still get (one per cancel)."""
        self.srtt: float | None = None
        """Smoothed round trip of a block, request to data (queueing at the peer included)."""
        self._ramp = config.min_depth
        self.slow_start = True
        self.snubbed = False
        self.hold_until = -math.inf
        self.last_block_at: float | None = None

    @property
    def outstanding(self) -> list[BlockRef]:
        return list(self._outstanding)

    def __len__(self) -> int:
        return len(self._outstanding)

    def __contains__(self, request: object) -> bool:
        return request in self._outstanding

    # -- depth ----------------------------------------------------------------------

    def depth(self, rate: float) -> int:
        """Requests to keep outstanding for a peer sending ``rate`` bytes/s."""

        config = self.config
        if self.snubbed:
            return 1
        by_rate = self._by_rate(rate)
        wanted = max(by_rate, self._ramp) if self.slow_start else by_rate
        blocks = max(config.min_depth, min(config.max_depth, wanted))
        return -(-blocks // self._wire_blocks)

    def _by_rate(self, rate: float) -> int:
        """The depth the rate deserves, in 16 KiB blocks."""

        return math.ceil(rate * self.config.target_latency / BLOCK_SIZE)

    def room(self, rate: float, now: float) -> int:
        """How many new requests to send now; slow start ends once the rate leads.

        Past slow start the queue is topped up in batches: nothing until a quarter of
        the depth is free, then all of it. The peer still has three quarters of
        ``target_latency`` queued, and one pick of many blocks costs far less than
        many picks of one (a fast peer answers thousands of blocks a second)."""

        if self.slow_start and self._by_rate(rate) >= self._ramp:
            self.slow_start = False
        if now < self.hold_until:
            return 0
        depth = self.depth(rate)
        room = depth - len(self._outstanding)
        if room <= 0 or (not self.slow_start and REFILL_FRACTION * room < depth):
            return 0
        return room

    # -- requests and answers -----------------------------------------------------------

    def sent(self, request: BlockRef, now: float) -> None:
        self._outstanding[request] = now

    def answered(self, request: BlockRef, now: float) -> Answer:
        """A block for ``request`` arrived."""

        sent_at = self._outstanding.pop(request, None)
        if sent_at is None:
            return self._late(request)
        self.last_block_at = now
        self.snubbed = False
        sample = now - sent_at
        self.srtt = sample if self.srtt is None else 0.875 * self.srtt + 0.125 * sample
        if self.slow_start:
            if sample > self.config.target_latency:  # the queue is deep enough
                self.slow_start = False
            elif (len(self._outstanding) + 1) * self._wire_blocks >= self._ramp:  # a depth in use
                self._ramp = min(self.config.max_depth, self._ramp + self._wire_blocks)
        return Answer.EXPECTED

    def rejected(self, request: BlockRef, now: float, *, choked: bool) -> Answer:
        """A BEP 6 reject for ``request``; rejects from an unchoking peer back off a while."""

        if self._outstanding.pop(request, None) is None:
            return self._late(request)
        if not choked:
            self.slow_start = False
            self.hold_until = now + self.config.reject_backoff
        return Answer.EXPECTED

    def _late(self, request: BlockRef) -> Answer:
        pending = self._cancelled.get(request)
        if pending is not None:
            if pending > 1:
                self._cancelled[request] = pending - 1
            else:
                del self._cancelled[request]
            return Answer.LATE
        return Answer.UNREQUESTED

    def cancel(self, request: BlockRef) -> bool:
        """Stop waiting for ``request`` (cancelled, timed out); an answer may still come."""

        if self._outstanding.pop(request, None) is None:
            return False
        self._cancelled[request] = self._cancelled.get(request, 0) + 1
        if len(self._cancelled) > self.config.max_depth:
            del self._cancelled[next(iter(self._cancelled))]
        return True

    def drop_all(self) -> list[BlockRef]:
        """The peer choked us without BEP 6: every outstanding request is void."""

        dropped = list(self._outstanding)
        for request in dropped:
            self.cancel(request)
        return dropped

    # -- time-outs ----------------------------------------------------------------------

    def timeout(self) -> float:
        config = self.config
        if self.srtt is None:
            return config.timeout_initial
        return max(config.timeout_min, min(config.timeout_max, 4 * self.srtt))

    def deadline(self) -> float | None:
        """When the oldest request times out (or the reject back-off ends)."""

        held = self.hold_until if self.hold_until > -math.inf else None
        if not self._outstanding:
            return held
        oldest = next(iter(self._outstanding.values())) + self.timeout()
        return oldest if held is None else min(held, oldest)

    def expire(self, now: float) -> list[BlockRef]:
        """Cancel and return every request that has timed out; the peer is snubbed if any."""

        timeout = self.timeout()  # the sum deadline() names: ``now - timeout`` may round below
        late = [r for r, sent_at in self._outstanding.items() if sent_at + timeout <= now]
        for request in late:
            self.cancel(request)
        if late:
            self.snubbed = True
            self.slow_start = False
        if self.hold_until <= now:
            self.hold_until = -math.inf
        return late
