"""What the torrent knows of one connected peer (BEP 3 flags, BEP 6 sets, counters).

:class:`PeerState` is the torrent state machine's record of a peer: the four
BEP 3 flags, the BEP 6 allowed-fast sets, the requests the peer has made of
us (:attr:`PeerState.requests_in`), our request pipeline to it, its rate
meters and byte counters, and the strikes it has earned. It holds no policy:
:mod:`~bitswarm.core.swarm.torrent` decides. :class:`PeerStats` is the frozen
snapshot the session shows; the choker gets its own from the same meters.
"""

from __future__ import annotations

from dataclasses import dataclass

from bitswarm.core.swarm.choker import PeerSnapshot
from bitswarm.core.swarm.pieces import PeerKey
from bitswarm.core.swarm.pipeline import PipelineConfig, RequestPipeline
from bitswarm.core.swarm.rates import RateMeter
from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.messages import FAST_MESSAGES, Message, Request


@dataclass(frozen=True, slots=True)
class PeerStats:
    """One peer at one moment: flags, rates (bytes/s) and payload byte counts."""

    key: PeerKey
    am_choking: bool
    am_interested: bool
    peer_choking: bool
    peer_interested: bool
    download_rate: float
    upload_rate: float
    downloaded: int
    uploaded: int
    wasted: int
    queue_depth: int
    outstanding: int
    snubbed: bool
    is_seed: bool


class PeerState:
    """The mutable record of one peer; see the module docstring."""

    __slots__ = (
        "allowed_fast_in",
        "allowed_fast_out",
        "am_choking",
        "am_interested",
        "connected_at",
        "down",
        "fast",
        "key",
        "last_heard",
        "last_sent",
        "peer_choking",
        "peer_interested",
        "piece_count",
        "pipeline",
        "reads_under_way",
        "requests_in",
        "strikes",
        "suggested_in",
        "up",
        "wasted",
    )

    def __init__(
        self,
        key: PeerKey,
        fast: bool,
        now: float,
        pipeline: PipelineConfig,
        *,
        wire_blocks: int = 1,
    ) -> None:
        self.key = key
        self.fast = fast
        """Both handshakes set the BEP 6 bit."""
        self.am_choking = True
        self.am_interested = False
        self.peer_choking = True
        self.peer_interested = False
        self.allowed_fast_in: set[int] = set()
        """Pieces the peer serves us while it chokes us."""
        self.allowed_fast_out: set[int] = set()
        """Pieces we serve the peer while we choke it."""
        self.suggested_in: list[int] = []
        """Pieces the peer suggested (BEP 6), the latest eight, oldest first; picked first
        while we lack them (those we got since are dropped at its next suggestion)."""
        self.requests_in: dict[Request, bool] = {}
        """The peer's requests not yet answered, oldest first -> whether a read is under way."""
        self.reads_under_way = 0
        """The ``True`` values of :attr:`requests_in`, counted as they change."""
        self.pipeline = RequestPipeline(pipeline, wire_blocks=wire_blocks)
        self.down = RateMeter(now)
        """Payload bytes received (blocks we asked for and could use or not)."""
        self.up = RateMeter(now)
        """Payload bytes sent."""
        self.wasted = 0
        """Payload bytes received that we could not use (duplicates, unrequested, bad)."""
        self.strikes = 0
        """Protocol offences short of fatal; the peer is dropped at a limit."""
        self.piece_count = 0
        """Pieces the peer has announced."""
        self.connected_at = now
        self.last_heard = now
        self.last_sent = now

    def check_negotiated(self, message: Message) -> None:
        """BEP 6 messages only when both handshakes set the fast bit.

        Raises :class:`ProtocolError` for a message the peer may not send; call before
        handling it.
        """

        if isinstance(message, FAST_MESSAGES) and not self.fast:
            name = type(message).__name__
            raise ProtocolError(f"{name} received, but the fast extension was not negotiated")

    def may_request(self, piece: int) -> bool:
        """Whether a request for ``piece`` may go to the peer now (unchoked, or allowed fast)."""

        return not self.peer_choking or piece in self.allowed_fast_in

    def serves(self, piece: int) -> bool:
        """Whether we serve the peer's requests for ``piece`` now."""

        return not self.am_choking or piece in self.allowed_fast_out

    def snapshot(self, now: float) -> PeerSnapshot:
        """What the choker needs of this peer now."""

        return PeerSnapshot(  # positional, in field order: half the cost of keywords
            self.key,
            self.peer_interested,
            self.down.rate(now),
            self.up.rate(now),
            self.am_choking,
            self.connected_at,
            self.am_interested,
            self.pipeline.last_block_at,
            self.up.total,
        )

    def stats(self, now: float, *, is_seed: bool) -> PeerStats:
        rate = self.down.rate(now)
        return PeerStats(
            key=self.key,
            am_choking=self.am_choking,
            am_interested=self.am_interested,
            peer_choking=self.peer_choking,
            peer_interested=self.peer_interested,
            download_rate=rate,
            upload_rate=self.up.rate(now),
            downloaded=self.down.total,
            uploaded=self.up.total,
            wasted=self.wasted,
            queue_depth=self.pipeline.depth(rate),
            outstanding=len(self.pipeline),
            snubbed=self.pipeline.snubbed,
            is_seed=is_seed,
        )
