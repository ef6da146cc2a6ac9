"""The piece picker: which blocks to ask a peer for next (BEP 3).

Theory of operation
-------------------
The picker knows, for every piece, whether we have it, its priority (0 =
skip, 1-7, default 4) and its availability (how many connected peers have
it), and, for every piece in download, the state of each block
(:class:`~bitswarm.core.swarm.pieces.PartialPiece`). Peers are opaque keys;
what each has is fed to :attr:`PiecePicker.peers` (bitfield, ``have``,
``have all``), which reports every change of availability back.

:meth:`pick` hands out FREE blocks of pieces the peer has, in this order:

1. higher priority first;
2. within a priority, pieces the peer suggested (BEP 6), in the order it did: a
   seed suggests each downloader different pieces nobody has yet
   (:mod:`~bitswarm.core.swarm.suggest`), which no downloader can see alone;
3. then pieces that only the peer has (of the peers we know),
   partial ones first: nobody else can give them (rarity counts, so not in
   random first or sequential mode);
4. then pieces already in download before new ones ("strict priority for
   partial pieces"), so finished pieces (tradeable ones) come soon and few
   pieces are half done at once;
5. then, among new pieces: rarest first, ties broken by a random permutation
   drawn once from the caller's generator; until ``random_first`` pieces are
   complete, availability is ignored (random first: a newcomer wants any
   complete piece fast, and the rarest is the slowest to get); in sequential
   mode, lowest index first.

New pieces wait in a :class:`~bitswarm.core.swarm.order.PieceOrder`, so a
``have`` moves one piece in O(log n) and a pick reads only as far as it needs.

Endgame: when no wanted block is FREE any more (every missing block is
requested or in hand), :meth:`pick` hands out blocks already requested from
other peers, fewest requesters first; :meth:`block_received` then names the
other requests of that block, for the caller to cancel.

A piece that failed its hash is downloaded again from one peer at a time:
no other peer is asked for its blocks while one has requests out for it,
endgame duplicates included (libtorrent puts the senders of a failed piece
on parole to the same end). Attempts with many senders could fail for ever:
a fast peer sending bad data would win every endgame race for the last
block of a piece, never be its only sender, and no attempt would pass for
smart ban to compare. One peer's attempt either passes or has one sender to
count against. The guard lasts only while requests are out, so a peer that
stops asking (choked, snubbed to one request at a time) cannot hold the
piece, and the rest may then come from others; at the very end a failed
piece's last blocks wait on the peer asked for them.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from bitswarm.core.swarm.availability import PeerPieces
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.order import Key, PieceOrder
from bitswarm.core.swarm.pieces import (
    BlockRef,
    BlockState,
    PartialPiece,
    PeerKey,
    PieceGeometry,
)

DEFAULT_PRIORITY = 4
MAX_PRIORITY = 7
RANDOM_FIRST_PIECES = 4

_Candidate = tuple[int, int, int, int, int, int]
"""(-priority, tier: -1 for a piece the peer suggested, 0 for one only it has, else 1;
0 for a partial piece or 1 for a new one, availability key, rank, piece)."""


@dataclass(frozen=True, slots=True)
class Cancellation:
    """Cancel the request for ``block`` sent to ``peer``: another copy arrived (endgame)."""

    peer: PeerKey
    block: BlockRef


@dataclass(frozen=True, slots=True)
class Arrival:
    """What :meth:`PiecePicker.block_received` decided."""

    wanted: bool
    """False for data already in hand (or for a piece we have): drop it."""
    cancel: tuple[Cancellation, ...] = ()


_WANTED = Arrival(True)
"""The common arrival: wanted, and asked of nobody else."""


class PiecePicker:
    """Chooses blocks to request for one torrent; see the module's theory of operation."""

    def __init__(
        self,
        geometry: PieceGeometry,
        rng: random.Random,
        *,
        have: Bitfield | None = None,
        random_first: int = RANDOM_FIRST_PIECES,
        sequential: bool = False,
    ) -> None:
        count = geometry.piece_count
        if have is not None and len(have) != count:
            raise ValueError(f"have bitfield has {len(have)} pieces, the torrent {count}")
        self.geometry = geometry
        self._have = have.copy() if have is not None else Bitfield(count)
        self._priority = [DEFAULT_PRIORITY] * count
        self._wanted = Bitfield.from_indices(count, self._have.missing())
        """Pieces we lack whose priority is above 0."""
        self._untouched = self._wanted.copy()
        """Wanted pieces not in download: the new pieces a pick may start."""
        self._availability = [0] * count
        """Peers that have each piece, seeds not counted (they count everywhere alike)."""
        self.peers = PeerPieces(count, self._count)
        """Feed bitfields, ``have`` and ``have all`` here; :meth:`peer_left` on departure."""
        self._partials: dict[int, PartialPiece] = {}
        self._failed: set[int] = set()
        """Pieces that failed their hash and have not passed since: one sender at a time."""
        self._asked: dict[PeerKey, set[BlockRef]] = {}
        self._random_first = random_first
        self._sequential = sequential
        self._shuffled = list(range(count))
        rng.shuffle(self._shuffled)
        self._free_blocks = sum(geometry.block_count(p) for p in self._have.missing())
        self._rebuild()

    # -- the bucket index ------------------------------------------------------

    def _rebuild(self) -> None:
        self._by_availability = not self._sequential and self._have.count() >= self._random_first
        piece_at = list(range(len(self._shuffled))) if self._sequential else self._shuffled
        self._order = PieceOrder(piece_at)
        for piece in piece_at:
            if self._pickable(piece):
                self._order.add(piece, self._key(piece))

    def _pickable(self, piece: int) -> bool:
        return self._priority[piece] > 0 and not self._have[piece]

    def _key(self, piece: int) -> Key:
        availability = self._availability[piece] if self._by_availability else 0
        return -self._priority[piece], availability

    def _free_of(self, piece: int) -> int:
        partial = self._partials.get(piece)
        return self.geometry.block_count(piece) if partial is None else partial.free

    def _leave(self, piece: int) -> None:
        """Take ``piece`` out of the index and the counters, before its state changes."""

        if self._pickable(piece):
            self._order.remove(piece, self._key(piece))
            self._free_blocks -= self._free_of(piece)
            self._wanted.clear(piece)
            self._untouched.clear(piece)

    def _enter(self, piece: int) -> None:
        """Put ``piece`` back after its state changed (the inverse of :meth:`_leave`)."""

        if self._pickable(piece):
            self._order.add(piece, self._key(piece))
            self._free_blocks += self._free_of(piece)
            self._wanted.set(piece)
            if piece not in self._partials:
                self._untouched.set(piece)

    # -- availability ------------------------------------------------------------

    def _count(self, piece: int, delta: int) -> None:
        # _pickable, inline: this runs for every ``have`` of the swarm
        if not (self._by_availability and self._priority[piece] > 0 and not self._have[piece]):
            self._availability[piece] += delta  # its place in the order does not change
            return
        self._order.remove(piece, self._key(piece))
        self._availability[piece] += delta
        self._order.add(piece, self._key(piece))

    def peer_left(self, peer: PeerKey) -> None:
        """Forget the peer: its pieces no longer count, its requests are free again."""

        for block in list(self._asked.get(peer, ())):
            self.request_failed(peer, block)
        self._asked.pop(peer, None)
        self.peers.leave(peer)

    def availability(self, piece: int) -> int:
        return self._availability[piece] + self.peers.seed_count

    def wants(self, piece: int) -> bool:
        """Whether we lack ``piece`` and its priority is above 0."""

        return self._wanted[piece]

    def is_interesting(self, peer: PeerKey) -> bool:
        """Whether ``peer`` has a piece we want and lack (BEP 3 ``interested``)."""

        return self.peers.has_any(peer, self._wanted)

    # -- priorities and modes -----------------------------------------------------

    def set_priority(self, piece: int, priority: int) -> None:
        if not 0 <= priority <= MAX_PRIORITY:
            raise ValueError(f"priority of piece {piece} must be 0-{MAX_PRIORITY}, got {priority}")
        self._leave(piece)
        self._priority[piece] = priority
        self._enter(piece)

    def set_priorities(self, priorities: list[int]) -> None:
        if len(priorities) != self.geometry.piece_count:
            raise ValueError(f"{len(priorities)} priorities for {self.geometry.piece_count} pieces")
        for piece, priority in enumerate(priorities):
            self.set_priority(piece, priority)

    def priority(self, piece: int) -> int:
        return self._priority[piece]

    @property
    def sequential(self) -> bool:
        return self._sequential

    @sequential.setter
    def sequential(self, value: bool) -> None:
        self._sequential = value
        self._rebuild()

    # -- picking -------------------------------------------------------------------

    def pick(
        self,
        peer: PeerKey,
        count: int,
        *,
        only: Collection[int] | None = None,
        first: Sequence[int] = (),
    ) -> list[BlockRef]:
        """Up to ``count`` blocks to request from ``peer``, now marked as requested by it.

        ``only`` restricts the pick to those pieces (BEP 6: while choked, the
        peer's allowed-fast set). ``first`` are pieces the peer suggested (BEP 6),
        taken in that order before any other of their priority.
        """

        picked: list[BlockRef] = []
        if count <= 0:
            return picked
        suggested = self._suggested(peer, first, only)
        candidates = heapq.merge(
            suggested, self._partial_candidates(peer, only), self._new(peer, only)
        )
        for *_, piece in candidates:
            if piece in self._failed and self._taken(piece, peer):
                continue
            partial = self._partial(piece)
            for block in partial.free_blocks(count - len(picked)):
                picked.append(self._ask(peer, piece, partial, block))
            if len(picked) == count:
                return picked
        if self._free_blocks == 0:
            picked += self._endgame(peer, count - len(picked), only)
        return picked

    def _partial(self, piece: int) -> PartialPiece:
        partial = self._partials.get(piece)
        if partial is None:
            partial = self._partials[piece] = PartialPiece(self.geometry.block_count(piece))
            self._untouched.clear(piece)
        return partial

    def _ask(self, peer: PeerKey, piece: int, partial: PartialPiece, block: int) -> BlockRef:
        if partial.states[block] == BlockState.FREE:
            self._free_blocks -= 1
        partial.request(block, peer)
        ref = self.geometry.block(piece, block)
        asked = self._asked.get(peer)
        if asked is None:
            asked = self._asked[peer] = set()
        asked.add(ref)
        return ref

    def _suggested(
        self, peer: PeerKey, first: Sequence[int], only: Collection[int] | None
    ) -> list[_Candidate]:
        candidates = [
            (-self._priority[piece], -1, position, 0, 0, piece)
            for position, piece in enumerate(first)
            if self._pickable(piece)
            and (only is None or piece in only)
            and self.peers.has(peer, piece)
        ]
        candidates.sort()
        return candidates

    def _partial_candidates(self, peer: PeerKey, only: Collection[int] | None) -> list[_Candidate]:
        candidates = [
            (*self._sort_key(piece, partial=True), piece)
            for piece, partial in self._partials.items()
            if partial.free
            and self._pickable(piece)
            and (only is None or piece in only)
            and self.peers.has(peer, piece)
        ]
        candidates.sort()
        return candidates

    def _sort_key(self, piece: int, *, partial: bool) -> tuple[int, int, int, int, int]:
        priority, availability = self._key(piece)
        return (
            priority,
            self._tier(piece),
            0 if partial else 1,
            availability,
            self._order.rank(piece),
        )

    def _tier(self, piece: int) -> int:
        """0 for a piece that only the peer picked for has (of the peers we know), else 1.

        Such pieces go before partial ones: the peer's upload is best spent on what
        nobody else can give, and a partial piece's other blocks can come from the peers
        it was started with. An origin then hands out pieces the swarm lacks, not the
        rest of pieces its downloaders began elsewhere. Rarest first sees to it among
        new pieces already (they are the rarest); this extends it to partial ones. While
        availability is ignored (random first, sequential) every piece is tier 1.
        """

        return 0 if self._by_availability and self.availability(piece) == 1 else 1

    def _new(self, peer: PeerKey, only: Collection[int] | None) -> Iterator[_Candidate]:
        """New pieces for ``peer`` in pick order, computed lazily.

        A peer with few of the untouched pieces (a newcomer, in a flash crowd
        nearly everyone) has them sorted directly, without reading the pieces it
        lacks; one with many, a seed above all, finds its first ones early in
        the order. Both yield the same sequence.
        """

        fresh: Collection[int]
        if only is not None:
            fresh = [
                piece
                for piece in only
                if self._pickable(piece)
                and piece not in self._partials
                and self.peers.has(peer, piece)
            ]
        else:
            fresh = self.peers.common(peer, self._untouched)
            if fresh.count() ** 2 >= self._untouched.count():  # dense: the walk stops soon
                for key, rank, piece in self._order:
                    if fresh[piece]:
                        yield key[0], self._tier(piece), 1, key[1], rank, piece
                return
        yield from sorted((*self._sort_key(piece, partial=False), piece) for piece in fresh)

    def _taken(self, piece: int, peer: PeerKey) -> bool:
        """Whether another peer has requests out for ``piece``."""

        partial = self._partials.get(piece)
        return partial is not None and any(
            other != peer for asked in partial.requesters.values() for other in asked
        )

    def _endgame(self, peer: PeerKey, count: int, only: Collection[int] | None) -> list[BlockRef]:
        """Blocks other peers were asked for, fewest requesters first (never of a failed
        piece: its blocks come from the one peer asked)."""

        duplicates = sorted(
            (len(asked), self._order.rank(piece), block, piece)
            for piece, partial in self._partials.items()
            if self._pickable(piece)
            and (only is None or piece in only)
            and self.peers.has(peer, piece)
            if piece not in self._failed
            for block, asked in partial.requesters.items()
            if peer not in asked and partial.states[block] == BlockState.REQUESTED
        )
        return [
            self._ask(peer, piece, self._partials[piece], block)
            for _, _, block, piece in duplicates[:count]
        ]

    # -- what happened to requests and pieces ------------------------------------

    def request_failed(self, peer: PeerKey, block: BlockRef) -> None:
        """Rejected, choked without fast, timed out, cancelled: ``peer`` will not send it."""

        asked = self._asked.get(peer)
        if asked is not None:
            asked.discard(block)
        partial = self._partials.get(block.piece)
        if partial is None:
            return
        if partial.withdraw(self.geometry.block_index(block), peer) and self._pickable(block.piece):
            self._free_blocks += 1
        if partial.untouched():
            del self._partials[block.piece]
            if self._pickable(block.piece):
                self._untouched.set(block.piece)

    def block_received(self, peer: PeerKey, block: BlockRef, index: int | None = None) -> Arrival:
        """Data for ``block`` arrived from ``peer``; write it only if ``wanted``.

        ``index``: the block's index in its piece, when the caller has already
        checked ``block`` with :meth:`PieceGeometry.block_index`."""

        if index is None:
            index = self.geometry.block_index(block)
        asked = self._asked.get(peer)
        if asked is not None:
            asked.discard(block)
        if self._have[block.piece]:
            return Arrival(wanted=False)
        partial = self._partial(block.piece)
        was_free = partial.states[index] == BlockState.FREE
        others = partial.receive(index, peer)
        if others is None:
            return Arrival(wanted=False)
        if was_free and self._pickable(block.piece):
            self._free_blocks -= 1
        if not others:
            return _WANTED
        for other in others:
            self._asked[other].discard(block)
        return Arrival(True, tuple(Cancellation(other, block) for other in others))

    def block_finished(self, block: BlockRef, index: int | None = None) -> bool:
        """``block`` is written; returns True when its whole piece is, and is ready to hash.

        ``index`` as for :meth:`block_received`."""

        partial = self._partials.get(block.piece)
        if partial is None:
            raise ValueError(f"{block} finished, but its piece is not in download")
        partial.finish(self.geometry.block_index(block) if index is None else index)
        return partial.complete()

    def piece_passed(self, piece: int) -> None:
        """The piece hashed correctly: we have it."""

        self._failed.discard(piece)
        self._leave(piece)
        self._drop_partial(piece)
        self._have.set(piece)
        self._enter(piece)
        if not self._by_availability and self._have.count() >= self._random_first:
            self._rebuild()

    def piece_failed(self, piece: int) -> frozenset[PeerKey]:
        """The piece failed its hash: download it again. Returns the peers that sent its data."""

        self._leave(piece)
        senders = self._drop_partial(piece)
        self._failed.add(piece)
        self._enter(piece)
        return frozenset(senders)

    def _drop_partial(self, piece: int) -> set[PeerKey]:
        partial = self._partials.pop(piece, None)
        if partial is None:
            return set()
        for block, asked in partial.requesters.items():
            ref = self.geometry.block(piece, block)
            for peer in asked:
                self._asked[peer].discard(ref)
        return set(partial.senders.values())

    # -- state --------------------------------------------------------------------

    @property
    def have(self) -> Bitfield:
        """A copy of the pieces we have."""

        return self._have.copy()

    def is_finished(self) -> bool:
        """Every wanted piece (priority above 0) is had."""

        return self._wanted.none()

    @property
    def in_endgame(self) -> bool:
        return self._free_blocks == 0 and not self._wanted.none()

    @property
    def free_blocks(self) -> int:
        """Wanted blocks no peer has been asked for."""

        return self._free_blocks

    def partial_pieces(self) -> list[int]:
        return sorted(self._partials)

    def piece_state(self, piece: int) -> str:
        """One character a block: ``.`` free, ``r`` requested, ``w`` received (being
        written), ``f`` finished; a piece we have is all ``f``."""

        if self._have[piece]:
            return "f" * self.geometry.block_count(piece)
        partial = self._partials.get(piece)
        if partial is None:
            return "." * self.geometry.block_count(piece)
        states = list(partial.states)  # mypyc cannot compile a loop over a bytearray
        return "".join(".rwf"[state] for state in states)
