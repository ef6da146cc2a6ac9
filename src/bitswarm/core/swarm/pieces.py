"""Pieces and blocks: the geometry of a torrent and the download state of a piece (BEP 3).

A torrent's bytes are cut into pieces of ``piece length`` (the last one
shorter), and peers move pieces in blocks of 16 KiB (:data:`BLOCK_SIZE`), the
request size every current client uses and the largest one it serves.
:class:`PieceGeometry` answers the arithmetic; :class:`PartialPiece` tracks
one piece being downloaded, block by block, through the states of
:class:`BlockState`:

    FREE -> REQUESTED (by one peer, or several in endgame) -> RECEIVED (data in
    hand, being written) -> FINISHED (written); a piece whose blocks are all
    FINISHED is ready to hash.

A failed request puts its block back to FREE once no peer is asked for it any
more; a failed hash puts every block of the piece back to FREE.

The block size is the geometry's, :data:`BLOCK_SIZE` unless told otherwise,
and every real peer keeps it (the wire parser allows no larger block). Only
the simulator's fast path takes a coarser one: each of its blocks stands for
a train of ``wire_blocks`` 16 KiB blocks moved as one message, so a swarm
costs that many times fewer events. Settings that count blocks
(:class:`~bitswarm.core.swarm.pipeline.PipelineConfig`'s depths, the
upload queue, endgame's duplicates) count 16 KiB blocks, the unit a real
peer has, and :meth:`PieceGeometry.blocks` turns them into the geometry's,
so a coarse swarm keeps about as many bytes in flight as a real one.
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import IntEnum
from typing import NamedTuple

BLOCK_SIZE = 16 * 1024
"""The unit of requests on the wire (BEP 3)."""

PeerKey = Hashable
"""Whatever identifies a peer to the caller (an address, a connection id)."""


class BlockRef(NamedTuple):
    """A block as a request names it: ``length`` bytes at ``begin`` in ``piece``.

    A value, not a message: the picker keys its books by it once or twice for
    every block that moves, and a named tuple is made, hashed and compared in C
    (a frozen dataclass does all three in Python)."""

    piece: int
    begin: int
    length: int


class PieceGeometry:
    """Piece and block sizes for ``total_length`` bytes cut into ``piece_length`` pieces,
    moved in blocks of ``block_size`` (a multiple of :data:`BLOCK_SIZE`; see the module
    docstring for why anything but the default exists)."""

    __slots__ = ("block_size", "piece_count", "piece_length", "total_length", "wire_blocks")

    def __init__(self, piece_length: int, total_length: int, block_size: int = BLOCK_SIZE) -> None:
        if block_size <= 0 or block_size % BLOCK_SIZE:
            raise ValueError(f"block size {block_size} must be a positive multiple of {BLOCK_SIZE}")
        if piece_length <= 0 or (piece_length % block_size and piece_length > block_size):
            raise ValueError(
                f"piece length {piece_length} must be positive and, above one block, "
                f"a multiple of {block_size}"
            )
        if total_length < 0:
            raise ValueError(f"total length must not be negative, got {total_length}")
        self.piece_length = piece_length
        self.total_length = total_length
        self.piece_count = -(-total_length // piece_length)
        self.block_size = block_size
        self.wire_blocks = block_size // BLOCK_SIZE
        """16 KiB blocks one block stands for: 1 unless the simulator coarsened it."""

    def blocks(self, count: int) -> int:
        """``count`` 16 KiB blocks (the unit settings count in) in this geometry's blocks,
        rounded up: a setting above zero stays above zero."""

        return -(-count // self.wire_blocks)

    def piece_size(self, piece: int) -> int:
        if not 0 <= piece < self.piece_count:
            raise IndexError(f"piece {piece} is outside a torrent of {self.piece_count} pieces")
        if piece == self.piece_count - 1:
            return self.total_length - piece * self.piece_length
        return self.piece_length

    def block_count(self, piece: int) -> int:
        return -(-self.piece_size(piece) // self.block_size)

    def block(self, piece: int, block: int) -> BlockRef:
        size = self.block_size
        begin = block * size
        return BlockRef(piece, begin, min(size, self.piece_size(piece) - begin))

    def block_index(self, ref: BlockRef) -> int:
        """The index of ``ref`` within its piece; :class:`ValueError` if it is not a block."""

        block_size = self.block_size
        index, misaligned = divmod(ref.begin, block_size)
        size = self.piece_size(ref.piece)
        if misaligned or not 0 <= ref.begin < size:
            raise ValueError(f"{ref} does not start a block of piece {ref.piece}")
        if ref.length != min(block_size, size - ref.begin):
            raise ValueError(f"{ref} has the wrong length for its block")
        return index


class BlockState(IntEnum):
    """Where a block is on its way from FREE to FINISHED (see the module docstring)."""

    FREE = 0
    REQUESTED = 1
    RECEIVED = 2
    FINISHED = 3


class PartialPiece:
    """The blocks of one piece in download: their states, who was asked, who sent."""

    __slots__ = ("finished", "free", "requesters", "senders", "states")

    def __init__(self, block_count: int) -> None:
        self.states = bytearray(block_count)
        self.requesters: dict[int, list[PeerKey]] = {}
        """Peers asked for each REQUESTED block, in order (more than one only in endgame)."""
        self.senders: dict[int, PeerKey] = {}
        """The peer whose data filled each RECEIVED or FINISHED block."""
        self.free = block_count
        self.finished = 0

    def untouched(self) -> bool:
        return self.free == len(self.states)

    def complete(self) -> bool:
        return self.finished == len(self.states)

    def free_blocks(self, limit: int | None = None) -> list[int]:
        """The FREE blocks in order, the first ``limit`` of them (all by default); found by
        ``bytearray.find``, since a pick wants a few of a piece's many blocks."""

        states, found = self.states, list[int]()
        wanted = self.free if limit is None else min(limit, self.free)
        at = states.find(BlockState.FREE)
        while at >= 0 and len(found) < wanted:
            found.append(at)
            at = states.find(BlockState.FREE, at + 1)
        return found

    def request(self, block: int, peer: PeerKey) -> None:
        if self.states[block] == BlockState.FREE:
            self.states[block] = BlockState.REQUESTED
            self.free -= 1
        asked = self.requesters.setdefault(block, [])
        if peer not in asked:
            asked.append(peer)

    def withdraw(self, block: int, peer: PeerKey) -> bool:
        """``peer`` will not deliver ``block``; return whether the block became FREE."""

        asked = self.requesters.get(block)
        if asked is None or peer not in asked:
            return False
        asked.remove(peer)
        if asked:
            return False
        del self.requesters[block]
        if self.states[block] != BlockState.REQUESTED:
            return False
        self.states[block] = BlockState.FREE
        self.free += 1
        return True

    def receive(self, block: int, peer: PeerKey) -> list[PeerKey] | None:
        """Data for ``block`` came from ``peer``: the other peers still asked, or ``None``
        if the block was already in hand (a duplicate)."""

        state = self.states[block]
        if state >= BlockState.RECEIVED:
            return None
        if state == BlockState.FREE:
            self.free -= 1
        self.states[block] = BlockState.RECEIVED
        self.senders[block] = peer
        return [other for other in self.requesters.pop(block, ()) if other != peer]

    def finish(self, block: int) -> None:
        if self.states[block] != BlockState.RECEIVED:
            raise ValueError(
                f"block {block} is {BlockState(self.states[block]).name}, not RECEIVED"
            )
        self.states[block] = BlockState.FINISHED
        self.finished += 1

    def reset(self) -> set[PeerKey]:
        """A failed hash: every block FREE again; returns the peers that sent data."""

        senders = set(self.senders.values())
        self.states[:] = bytes(len(self.states))
        self.requesters.clear()
        self.senders.clear()
        self.free = len(self.states)
        self.finished = 0
        return senders
