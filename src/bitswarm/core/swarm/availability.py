"""Who has what: the pieces of every connected peer (BEP 3 bitfield/have, BEP 6 have all).

The picker needs, per piece, how many peers have it (rarest first), and, per
peer, whether it has a piece (never request what a peer lacks).
:class:`PeerPieces` keeps the second and reports every change of the first to
a callback, ``on_change(piece, delta)``, so the owner of the counts can keep
its own order in step.

Seeds are kept apart: a ``have all`` (or a peer whose ``have`` messages fill
its set) costs one counter, not one update a piece, and leaves the relative
availability of pieces, and so the rarest-first order, untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.pieces import PeerKey


class PeerPieces:
    """The piece sets of connected peers, as value snapshots the caller feeds in."""

    __slots__ = ("_on_change", "_peers", "_piece_count", "_seeds")

    def __init__(self, piece_count: int, on_change: Callable[[int, int], None]) -> None:
        self._piece_count = piece_count
        self._on_change = on_change
        self._peers: dict[PeerKey, Bitfield] = {}
        """Peers that lack at least one piece, with what they have."""
        self._seeds: set[PeerKey] = set()

    def join(self, peer: PeerKey, has: Bitfield | None = None) -> None:
        """A peer connected; ``has`` is its bitfield (``None``: nothing yet, or BEP 6 have none)."""

        if peer in self:
            raise ValueError(f"peer {peer!r} already joined")
        if has is not None and len(has) != self._piece_count:
            raise ValueError(
                f"peer bitfield has {len(has)} pieces, the torrent {self._piece_count}"
            )
        if has is not None and has.all():
            self._seeds.add(peer)
            return
        self._peers[peer] = Bitfield(self._piece_count)
        for piece in has or ():
            self.have(peer, piece)

    def have(self, peer: PeerKey, piece: int) -> bool:
        """A ``have``; returns whether it was news (a repeated ``have`` changes nothing)."""

        field = self._peers.get(peer)
        if field is None:
            if peer in self._seeds:
                return False
            field = self._field(peer)  # raises: the peer never joined
        if not field.set(piece):
            return False
        self._on_change(piece, +1)
        if field.all():
            self.have_all(peer)
        return True

    def have_all(self, peer: PeerKey) -> None:
        """BEP 6 ``have all``, or a peer whose ``have`` messages completed its set."""

        if peer in self._seeds:
            return
        self._uncount(peer)
        self._seeds.add(peer)

    def leave(self, peer: PeerKey) -> None:
        if peer in self._seeds:
            self._seeds.discard(peer)
        else:
            self._uncount(peer)

    def _uncount(self, peer: PeerKey) -> None:
        for piece in self._field(peer):
            self._on_change(piece, -1)
        del self._peers[peer]

    def _field(self, peer: PeerKey) -> Bitfield:
        try:
            return self._peers[peer]
        except KeyError:
            raise ValueError(f"peer {peer!r} has not joined") from None

    def __contains__(self, peer: PeerKey) -> bool:
        return peer in self._peers or peer in self._seeds

    def has(self, peer: PeerKey, piece: int) -> bool:
        return peer in self._seeds or self._field(peer)[piece]

    def is_seed(self, peer: PeerKey) -> bool:
        return peer in self._seeds

    @property
    def seed_count(self) -> int:
        return len(self._seeds)

    def pieces(self, peer: PeerKey) -> Bitfield:
        """A copy of what ``peer`` has."""

        return Bitfield.full(self._piece_count) if peer in self._seeds else self._field(peer).copy()

    def common(self, peer: PeerKey, pieces: Bitfield) -> Bitfield:
        """The pieces of ``pieces`` that ``peer`` has (all of them for a seed), as a new field."""

        return pieces.copy() if peer in self._seeds else self._field(peer) & pieces

    def has_any(self, peer: PeerKey, wanted: Bitfield) -> bool:
        """Whether ``peer`` has any piece of ``wanted``."""

        if peer in self._seeds:
            return not wanted.none()
        return bool(self._field(peer).as_int() & wanted.as_int())
