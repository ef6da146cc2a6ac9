"""A torrent's received blocks on their way to disk, gathered by piece (BEP 3 receive path).

The core emits a ``WriteBlock`` for every block it keeps and a ``VerifyPiece``
once a piece has them all; it needs to hear ``piece_verified`` only after the
piece's bytes are written, so that resume data never lists a piece that is not
on disk. :class:`PieceWriter` keeps that promise at one thread hop a piece.

Theory of operation
-------------------
Blocks of a piece are kept in memory as they arrive (the ``bytes`` the wire
parser made: no further copy). When the piece is complete,
:meth:`PieceWriter.verify` hands all of them to the disk threads in one job
that hashes them and writes the piece only if it matches: no read-back, and a
corrupt piece never reaches the disk. This is libtorrent's write cache in
miniature.

Memory is bounded: when more than ``max_buffered`` bytes wait in unfinished
pieces (many pieces in flight, slow peers), the oldest piece *spills*: its
blocks go to disk one by one as before, and so do its later blocks; its check
then waits for those writes and hashes the piece from disk. Stopping spills
everything, so the blocks of unfinished pieces are on disk as they always were.

Every byte handed to the disk threads and not yet written counts in
``queued``; :class:`PieceWriter` calls ``hold(True)`` when it passes
``max_queued`` and ``hold(False)`` when it is back to half, so the torrent
stops reading its sockets while the disk lags. A failed write is reported
with ``failed(piece, error)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from bitswarm.storage.errors import StorageError


class PieceDisk(Protocol):
    """The part of :class:`~bitswarm.aio.disk.DiskIO` the receive path uses."""

    async def write_block(self, piece: int, offset: int, data: bytes) -> None: ...
    async def write_piece_if_valid(self, piece: int, blocks: Sequence[bytes]) -> bool: ...
    async def hash_piece(self, piece: int) -> bool: ...


class PieceWriter:
    """Gathers blocks by piece and writes each piece once it is complete and checked."""

    def __init__(
        self,
        disk: PieceDisk,
        piece_size: Callable[[int], int],
        *,
        max_buffered: int,
        max_queued: int,
        hold: Callable[[bool], None],
        failed: Callable[[int, str], None],
    ) -> None:
        self._disk = disk
        self._piece_size = piece_size
        self.max_buffered = max_buffered
        self.max_queued = max_queued
        self._hold = hold
        self._failed = failed
        self._held = False
        self._pieces: dict[int, dict[int, bytes]] = {}
        """Blocks in memory, by piece (oldest first) and offset."""
        self._writes: dict[int, list[asyncio.Task[None]]] = {}
        """Block writes under way for spilled pieces."""
        self.buffered = 0
        """Bytes of blocks in memory, waiting for the rest of their piece."""
        self.queued = 0
        """Bytes handed to the disk threads and not yet written."""

    def add(self, piece: int, offset: int, data: bytes) -> None:
        """A block the core keeps (``WriteBlock``)."""
        if piece in self._writes:
            self._writes[piece].append(self._write_task(piece, offset, data))
            return
        self._pieces.setdefault(piece, {})[offset] = data
        self.buffered += len(data)
        while self.buffered > self.max_buffered and self._pieces:
            self._spill(next(iter(self._pieces)))

    async def verify(self, piece: int) -> bool:
        """Whether ``piece`` matches the torrent, once its bytes are on disk (``VerifyPiece``).

        Raises :class:`StorageError` if the piece cannot be written or read.
        """
        blocks = self._pieces.pop(piece, None)
        if blocks is not None:
            size = sum(map(len, blocks.values()))
            self.buffered -= size
            if _whole(blocks, self._piece_size(piece)):
                return await self._write_whole(piece, [blocks[at] for at in sorted(blocks)], size)
            self._writes[piece] = self._spill_tasks(piece, blocks)
        outcomes = await asyncio.gather(*self._writes.pop(piece, []), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return await self._disk.hash_piece(piece)

    async def spill_all(self) -> None:
        """Write every block still in memory and wait for all writes (the torrent stops)."""
        for piece in list(self._pieces):
            self._spill(piece)
        tasks = [task for writes in self._writes.values() for task in writes]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _write_whole(self, piece: int, blocks: list[bytes], size: int) -> bool:
        self._queue(size)
        with self._handed_over(piece, size):
            return await self._disk.write_piece_if_valid(piece, blocks)

    def _spill(self, piece: int) -> None:
        blocks = self._pieces.pop(piece)
        self.buffered -= sum(map(len, blocks.values()))
        self._writes.setdefault(piece, []).extend(self._spill_tasks(piece, blocks))

    def _spill_tasks(self, piece: int, blocks: dict[int, bytes]) -> list[asyncio.Task[None]]:
        return [self._write_task(piece, offset, data) for offset, data in blocks.items()]

    def _write_task(self, piece: int, offset: int, data: bytes) -> asyncio.Task[None]:
        self._queue(len(data))
        return asyncio.get_running_loop().create_task(self._write(piece, offset, data))

    async def _write(self, piece: int, offset: int, data: bytes) -> None:
        with self._handed_over(piece, len(data)):
            await self._disk.write_block(piece, offset, data)

    @contextmanager
    def _handed_over(self, piece: int, size: int) -> Iterator[None]:
        """Around a disk job of ``size`` queued bytes: report its failure, then unqueue them."""
        try:
            yield
        except StorageError as error:
            self._failed(piece, str(error))
            raise
        finally:
            self._unqueue(size)

    def _queue(self, size: int) -> None:
        self.queued += size
        if self.queued > self.max_queued and not self._held:
            self._held = True
            self._hold(True)

    def _unqueue(self, size: int) -> None:
        self.queued -= size
        if self.queued <= self.max_queued // 2 and self._held:
            self._held = False
            self._hold(False)


def _whole(blocks: dict[int, bytes], size: int) -> bool:
    """Whether the blocks cover a piece of ``size`` bytes from byte 0, without gap or overlap."""
    at = 0
    for offset in sorted(blocks):
        if offset != at:
            return False
        at += len(blocks[offset])
    return at == size
