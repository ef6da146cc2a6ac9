"""Super-seeding (BEP 16): an origin that hides its pieces and reveals them one peer at a time.

Theory of operation
-------------------
An origin with little upload wants each byte it sends to be a byte the swarm
lacks, and to be passed on. In super-seed mode it "masquerades as a normal
client with no data": its summary becomes ``have none``, and each peer is
told of one piece (a ``have``) — one never offered before, or else the
rarest. The peer can ask the origin only for that piece. The origin offers
that peer another piece only once it has seen the offered piece "present on
at least one other client" (a ``have`` for it from anyone else), which proves
the peer passed it on; a peer that uploads nothing gets nothing more.

:class:`SuperSeeder` is a pure filter on the origin's messages, so the
torrent state machine stays a plain seed and the driver applies the policy:
:meth:`SuperSeeder.outgoing` rewrites what the origin sends (summaries become
``have none`` plus the first offer; a seed's suggestions are dropped, as they
would name pieces not offered; ``have`` messages, which a complete origin sends
for no piece, pass through unchanged), and :meth:`SuperSeeder.incoming`
watches what peers announce and returns the new offers to send. The origin
still serves any request for a piece it has: a peer cannot ask for a piece it
was never told of, so the offers alone steer the uploads.
"""

from __future__ import annotations

from bitswarm.core.swarm.bitfield import Bitfield, BitfieldError
from bitswarm.core.swarm.pieces import PeerKey
from bitswarm.core.wire.messages import (
    Have,
    HaveAll,
    HaveBitfield,
    HaveNone,
    Message,
    SuggestPiece,
)

_SUMMARIES = (HaveAll, HaveBitfield)


class SuperSeeder:
    """The offers of one super-seeding origin to each of its peers."""

    __slots__ = ("_copies", "_cursor", "_has", "_offered", "_offers", "piece_count")

    def __init__(self, piece_count: int) -> None:
        if piece_count < 1:
            raise ValueError(f"a torrent has at least one piece, got {piece_count}")
        self.piece_count = piece_count
        self._copies = [0] * piece_count
        """Peers known to have each piece."""
        self._offers = [0] * piece_count
        """Times each piece was offered."""
        self._has: dict[PeerKey, Bitfield] = {}
        self._offered: dict[PeerKey, int | None] = {}
        """The piece each peer was last offered and has not yet been seen passing on."""
        self._cursor = 0

    def peer_connected(self, peer: PeerKey) -> None:
        self._has[peer] = Bitfield(self.piece_count)
        self._offered[peer] = None

    def peer_disconnected(self, peer: PeerKey) -> None:
        has = self._has.pop(peer, None)
        self._offered.pop(peer, None)
        if has is not None:
            for piece in has:
                self._copies[piece] -= 1

    def offered(self, peer: PeerKey) -> int | None:
        """The piece ``peer`` may download from us now, if any."""

        return self._offered.get(peer)

    def outgoing(self, peer: PeerKey, message: Message) -> list[Message]:
        """What to send ``peer`` in place of ``message``."""

        if isinstance(message, _SUMMARIES):
            offer = self._offer(peer)
            return [HaveNone()] if offer is None else [HaveNone(), offer]
        if isinstance(message, SuggestPiece):
            return []  # it would name a piece not offered
        return [message]

    def incoming(self, peer: PeerKey, message: Message) -> list[tuple[PeerKey, Message]]:
        """``peer`` sent ``message``; returns the offers (peer, ``have``) to send now."""

        has = self._has.get(peer)
        if has is None:
            return []
        if isinstance(message, Have):
            pieces = [message.index]
        elif isinstance(message, HaveAll):
            pieces = list(range(self.piece_count))
        elif isinstance(message, HaveBitfield):
            try:
                pieces = list(Bitfield.from_wire(message.bits, self.piece_count))
            except BitfieldError:
                return []  # the torrent drops the peer for it
        else:
            return []
        offers: list[tuple[PeerKey, Message]] = []
        for piece in pieces:
            if not 0 <= piece < self.piece_count or not has.set(piece):
                continue
            self._copies[piece] += 1
            for other, offered in self._offered.items():
                if offered == piece and other != peer:
                    offer = self._offer(other)  # the piece we gave ``other`` spread: next one
                    if offer is not None:
                        offers.append((other, offer))
        if not isinstance(message, Have) and self._offered.get(peer) in has:
            offer = self._offer(peer)  # its summary shows it had the piece offered already
            if offer is not None:
                offers.append((peer, offer))
        return offers

    def _offer(self, peer: PeerKey) -> Have | None:
        """Offer ``peer`` the least offered, rarest piece it lacks (round robin on ties)."""

        has = self._has[peer]
        best: int | None = None
        best_key = (0, 0)
        count = self.piece_count
        for step in range(count):
            piece = (self._cursor + step) % count
            if piece in has:
                continue
            key = (self._offers[piece], self._copies[piece])
            if best is None or key < best_key:
                best, best_key = piece, key
                if key == (0, 0):
                    break
        self._offered[peer] = best
        if best is None:
            return None
        self._offers[best] += 1
        self._cursor = (best + 1) % count
        return Have(best)
