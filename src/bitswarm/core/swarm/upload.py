"""Serving the requests peers make of us (BEP 3 request/piece/cancel, BEP 6 reject).

Theory of operation
-------------------
A ``request`` is checked (a real piece, a span of at most one block of the
geometry inside it, 16 KiB for every real peer: anything else is a protocol
error that drops the peer), then
answered in one of three ways:

* queued, when we have the piece and serve the peer now (unchoked, or the
  piece is in the peer's BEP 6 allowed-fast set) and its queue has room;
* rejected (with BEP 6; silently dropped without it) when we choke the peer,
  when its queue is full (``max_requests_in``), or when we lack the piece;
  the last two are offences as well (:class:`Offence`), which the torrent
  counts toward dropping the peer, so a request flood ends in a disconnect;
* ignored, when it repeats a request already queued.

Queued requests become :class:`~bitswarm.core.swarm.actions.ReadBlock`
commands, at most ``reads_per_peer`` in flight per peer so one greedy peer
cannot fill the disk queue; each :meth:`Uploader.block_read` sends its
``piece`` and starts the next read. A ``cancel`` removes a queued request
(BEP 6: and rejects it, as every request gets exactly one answer); a read
already under way is then dropped when it completes. Choking a peer drops
its queue except allowed-fast pieces, rejecting each, after the ``choke``
(BEP 6: "choke first and then reject").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.peer_state import PeerState
from bitswarm.core.swarm.pieces import PieceGeometry
from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.messages import Cancel, Message, Piece, RejectRequest, Request


@dataclass(frozen=True, slots=True)
class UploadConfig:
    """Counts of 16 KiB blocks; a coarser geometry (the simulator's) divides them."""

    max_requests_in: int = 500
    """Queued requests per peer; more are rejected and counted as offences."""
    reads_per_peer: int = 16
    """Disk reads in flight per peer."""


class Offence(Exception):
    """The peer did something wrong but not fatal; the caller counts it."""


class Uploader:
    """Request handling for every peer; sends through the torrent's callbacks."""

    def __init__(
        self,
        geometry: PieceGeometry,
        have: Bitfield,
        config: UploadConfig,
        send: Callable[[PeerState, Message], None],
        read: Callable[[PeerState, Request], None],
    ) -> None:
        self._geometry = geometry
        self._have = have
        """The torrent's own bitfield (shared, not copied): what we can serve."""
        self._max_requests = geometry.blocks(config.max_requests_in)
        self._max_reads = geometry.blocks(config.reads_per_peer)
        self._send = send
        self._read = read

    def request(self, peer: PeerState, request: Request) -> None:
        """Handle ``request``; raises ProtocolError (drop) or :class:`Offence` (count)."""

        self._check(request)
        if request in peer.requests_in:
            return
        if not peer.serves(request.index):
            self._reject(peer, request)
            return
        if not self._have[request.index]:
            self._reject(peer, request)
            raise Offence(f"request for piece {request.index}, which we never announced")
        if len(peer.requests_in) >= self._max_requests:
            self._reject(peer, request)
            raise Offence(f"more than {self._max_requests} requests queued")
        peer.requests_in[request] = False
        self._start_reads(peer)

    def _check(self, request: Request) -> None:
        geometry = self._geometry
        if not 0 <= request.index < geometry.piece_count:
            raise ProtocolError(
                f"request names piece {request.index}, but the torrent has {geometry.piece_count}"
            )
        size, block = geometry.piece_size(request.index), geometry.block_size
        if not 0 < request.length <= block or request.begin + request.length > size:
            raise ProtocolError(
                f"request for {request.length} bytes at offset {request.begin} of piece "
                f"{request.index} ({size} bytes); at most {block} inside the piece"
            )

    def _reject(self, peer: PeerState, request: Request) -> None:
        if peer.fast:
            self._send(peer, RejectRequest(request.index, request.begin, request.length))

    def _start_reads(self, peer: PeerState) -> None:
        """Reads for the oldest requests, up to the bound; those under way come first in
        the queue, since reads start in its order, so only they are stepped over."""

        reading, bound = peer.reads_under_way, self._max_reads
        if reading >= bound:
            return
        queue = peer.requests_in
        for request, under_way in queue.items():
            if not under_way:
                queue[request] = True
                reading += 1
                self._read(peer, request)
                if reading >= bound:
                    break
        peer.reads_under_way = reading

    def cancel(self, peer: PeerState, cancel: Cancel) -> None:
        request = Request(cancel.index, cancel.begin, cancel.length)
        under_way = peer.requests_in.pop(request, None)
        if under_way is not None:
            peer.reads_under_way -= under_way
            self._reject(peer, request)

    def choked(self, peer: PeerState) -> None:
        """We just sent ``choke``: drop (and reject) what we no longer serve."""

        for request in [r for r in peer.requests_in if not peer.serves(r.index)]:
            peer.reads_under_way -= peer.requests_in.pop(request)
            self._reject(peer, request)

    def block_read(self, peer: PeerState, request: Request, data: bytes, now: float) -> int:
        """The disk answered a read: send the block if still wanted; returns bytes sent."""

        if len(data) != request.length:
            raise ValueError(f"read of {request} returned {len(data)} bytes")
        if not peer.requests_in.get(request, False):
            return 0  # cancelled or choked while the read was under way
        del peer.requests_in[request]
        peer.reads_under_way -= 1
        self._send(peer, Piece(request.index, request.begin, data))
        peer.up.add(len(data), now)
        self._start_reads(peer)
        return len(data)
