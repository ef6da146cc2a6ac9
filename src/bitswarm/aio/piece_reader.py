"""Blocks to upload, read from disk a chunk at a time and served from memory (BEP 3 send path).

A peer asks for a piece block by block (16 KiB each), and usually for all of
its blocks in a row. Reading each block on a disk thread costs the loop one
hand-off a block; :class:`PieceReader` reads the aligned chunk of the piece
holding the block (:data:`READ_CHUNK`, or the whole piece if smaller) in one
hand-off and answers the chunk's other blocks from memory
(:meth:`PieceReader.cached` at once, without a task): libtorrent's read
cache in miniature.

Only pieces we have are uploaded, and a verified piece never changes, so a
cached chunk is never stale. The cache holds at most ``capacity`` bytes of
chunks, least recently used first out. Callers asking for a chunk that is
being read share that read; a caller that is cancelled does not cancel it for
the others. A failed read is forgotten, so the next request tries the disk
again, and its error reaches every caller waiting for it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

READ_CHUNK = 1024 * 1024
"""Bytes read from disk at once for uploads (libtorrent reads ahead up to a piece)."""
CACHE_BYTES = 8 * 1024 * 1024
"""Bytes of chunks kept for uploads."""

Read = Callable[[int, int, int], Awaitable[bytes]]
"""``read(piece, offset, length)``: bytes of a piece from disk, off the loop."""


class PieceReader:
    """Reads upload blocks through a small cache of aligned chunks."""

    def __init__(
        self,
        read: Read,
        piece_size: Callable[[int], int],
        *,
        chunk: int = READ_CHUNK,
        capacity: int = CACHE_BYTES,
    ) -> None:
        if chunk < 1 or capacity < chunk:
            raise ValueError(f"a chunk of {chunk} bytes does not fit a cache of {capacity}")
        self._read = read
        self._piece_size = piece_size
        self.chunk = chunk
        self._slots = capacity // chunk
        self._chunks: OrderedDict[tuple[int, int], asyncio.Task[bytes]] = OrderedDict()
        self.disk_reads = 0
        """Reads handed to the disk so far."""

    async def read(self, piece: int, offset: int, length: int) -> bytes:
        """The ``length`` bytes at ``offset`` in ``piece`` (a piece we have)."""
        key = self._chunk_of(piece, offset, length)
        if key is None:  # an odd request across two chunks
            self.disk_reads += 1
            return await self._read(piece, offset, length)
        task = self._chunks.get(key)
        if task is None:
            size = min(self.chunk, self._piece_size(piece) - key[1])
            task = asyncio.ensure_future(self._read_chunk(key, size))
            self._chunks[key] = task
            if len(self._chunks) > self._slots:
                self._chunks.popitem(last=False)
        else:
            self._chunks.move_to_end(key)
        return _slice(await asyncio.shield(task), key, offset, length)

    def cached(self, piece: int, offset: int, length: int) -> bytes | None:
        """The bytes :meth:`read` would give, if their chunk is already in memory; else
        ``None``. Most blocks of a piece are served so, with no task and no await."""
        key = self._chunk_of(piece, offset, length)
        if key is None:
            return None
        task = self._chunks.get(key)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        self._chunks.move_to_end(key)
        return _slice(task.result(), key, offset, length)

    def _chunk_of(self, piece: int, offset: int, length: int) -> tuple[int, int] | None:
        """The key of the aligned chunk holding the bytes, or ``None`` if they span two."""
        start = offset - offset % self.chunk
        return None if offset + length > start + self.chunk else (piece, start)

    async def _read_chunk(self, key: tuple[int, int], size: int) -> bytes:
        self.disk_reads += 1
        try:
            return await self._read(key[0], key[1], size)
        except BaseException:
            if key in self._chunks and self._chunks[key] is asyncio.current_task():
                del self._chunks[key]
            raise


def _slice(chunk: bytes, key: tuple[int, int], offset: int, length: int) -> bytes:
    at = offset - key[1]
    return chunk[at : at + length]
