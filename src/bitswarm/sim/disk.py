"""Virtual disks: where a simulated peer's ``WriteBlock``, ``ReadBlock`` and ``VerifyPiece`` go.

Two kinds, one interface (:class:`VirtualDisk`):

* :class:`ExactDisk` keeps every byte: blocks are written into a buffer per
  piece, reads return what was written, and verification hashes the piece
  with SHA-1 against the torrent's hashes, as the real storage does. For
  small runs and for tests of corrupt peers.
* :class:`CountingDisk` keeps no data (the fast path for large runs): reads
  return zero bytes of the right length, and a piece verifies when every
  byte of it has been written since it was last reset. A swarm of honest
  peers behaves the same on either disk.

Both can fail: with ``capacity`` set, the write that would take the disk
past it raises :class:`DiskFull`, which the simulator reports to the core
as ``write_failed`` (the torrent stops).
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from bitswarm.core.swarm.pieces import PieceGeometry


class DiskFull(Exception):
    """A write would exceed the disk's capacity."""


class VirtualDisk(Protocol):
    def write(self, piece: int, offset: int, data: bytes) -> None: ...

    def read(self, piece: int, offset: int, length: int) -> bytes: ...

    def verify(self, piece: int) -> bool: ...


class _Capacity:
    """Bytes written against an optional limit."""

    __slots__ = ("capacity", "used")

    def __init__(self, capacity: int | None) -> None:
        self.capacity = capacity
        self.used = 0

    def take(self, piece: int, size: int) -> None:
        if self.capacity is not None and self.used + size > self.capacity:
            raise DiskFull(
                f"no space for {size} bytes of piece {piece} "
                f"({self.used} of {self.capacity} bytes used)"
            )
        self.used += size


class ExactDisk:
    """Every byte kept; pieces verified by SHA-1 against ``hashes``."""

    __slots__ = ("_buffers", "_hashes", "_space")

    def __init__(
        self,
        geometry: PieceGeometry,
        hashes: list[bytes],
        content: bytes | None = None,
        *,
        capacity: int | None = None,
    ) -> None:
        length = geometry.piece_length
        self._hashes = hashes
        self._buffers = [
            bytearray(content[p * length : p * length + geometry.piece_size(p)])
            if content is not None
            else bytearray(geometry.piece_size(p))
            for p in range(geometry.piece_count)
        ]
        self._space = _Capacity(capacity)

    def write(self, piece: int, offset: int, data: bytes) -> None:
        self._space.take(piece, len(data))
        self._buffers[piece][offset : offset + len(data)] = data

    def read(self, piece: int, offset: int, length: int) -> bytes:
        return bytes(self._buffers[piece][offset : offset + length])

    def verify(self, piece: int) -> bool:
        return hashlib.sha1(self._buffers[piece]).digest() == self._hashes[piece]

    def piece(self, piece: int) -> bytes:
        return bytes(self._buffers[piece])


class CountingDisk:
    """No data kept: a piece is good once every byte of it was written (the fast path)."""

    __slots__ = ("_complete", "_geometry", "_partial", "_space", "_zeros")

    def __init__(
        self, geometry: PieceGeometry, *, complete: bool, capacity: int | None = None
    ) -> None:
        self._geometry = geometry
        self._complete = [complete] * geometry.piece_count
        self._partial: dict[int, dict[int, int]] = {}
        """piece -> offset -> length of the blocks written since the piece was last checked."""
        self._zeros: dict[int, bytes] = {}
        self._space = _Capacity(capacity)

    def write(self, piece: int, offset: int, data: bytes) -> None:
        self._space.take(piece, len(data))
        self._partial.setdefault(piece, {})[offset] = len(data)

    def read(self, piece: int, offset: int, length: int) -> bytes:
        zeros = self._zeros.get(length)
        if zeros is None:
            zeros = self._zeros[length] = bytes(length)
        return zeros

    def verify(self, piece: int) -> bool:
        """Good when the blocks written cover the piece; a failed check starts it over."""

        blocks = self._partial.pop(piece, {})
        if not self._complete[piece]:
            self._complete[piece] = sum(blocks.values()) == self._geometry.piece_size(piece)
        return self._complete[piece]
