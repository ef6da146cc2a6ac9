"""PieceReader: upload blocks served from chunks read once, shared reads, eviction, errors."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.aio.piece_reader import PieceReader
from bitswarm.storage.errors import StorageError

PIECE = 64 * 1024
LAST = 40 * 1024 + 7
PIECES = 6
CHUNK = 32 * 1024


def piece_size(piece: int) -> int:
    return LAST if piece == PIECES - 1 else PIECE


class FakeDisk:
    """Pieces of known bytes; records each read it is asked for, may fail or wait."""

    def __init__(self) -> None:
        rng = random.Random(1)
        self.pieces = [rng.randbytes(piece_size(p)) for p in range(PIECES)]
        self.reads: list[tuple[int, int, int]] = []
        self.gate: asyncio.Event | None = None
        self.failures = 0

    async def read(self, piece: int, offset: int, length: int) -> bytes:
        self.reads.append((piece, offset, length))
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise StorageError("payload.bin", "cannot read: Input/output error")
        return self.pieces[piece][offset : offset + length]


def reader_for(disk: FakeDisk, capacity: int = 4 * CHUNK) -> PieceReader:
    return PieceReader(disk.read, piece_size, chunk=CHUNK, capacity=capacity)


async def test_a_chunk_is_read_once_for_all_its_blocks() -> None:
    disk = FakeDisk()
    reader = reader_for(disk)
    for piece in range(PIECES):
        for begin in range(0, piece_size(piece), 16 * 1024):
            length = min(16 * 1024, piece_size(piece) - begin)
            got = await reader.read(piece, begin, length)
            assert got == disk.pieces[piece][begin : begin + length]
    assert disk.reads[-2:] == [(5, 0, CHUNK), (5, CHUNK, LAST - CHUNK)]  # the short tail
    assert len(disk.reads) == reader.disk_reads == 2 * PIECES


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, PIECES - 1), st.integers(0, PIECE - 1), st.integers(1, 16 * 1024)),
        min_size=1,
        max_size=40,
    )
)
def test_any_request_reads_as_the_disk_holds_it(
    requests: list[tuple[int, int, int]],
) -> None:
    disk = FakeDisk()
    reader = reader_for(disk, capacity=2 * CHUNK)

    async def run() -> None:
        for piece, begin, length in requests:
            begin %= piece_size(piece)
            length = min(length, piece_size(piece) - begin)
            expected = disk.pieces[piece][begin : begin + length]
            assert reader.cached(piece, begin, length) in (None, expected)
            assert await reader.read(piece, begin, length) == expected
            within_a_chunk = begin % CHUNK + length <= CHUNK
            assert reader.cached(piece, begin, length) == (expected if within_a_chunk else None)

    asyncio.run(run())


async def test_callers_share_a_read_under_way_and_one_cancelled_does_not_stop_it() -> None:
    disk = FakeDisk()
    disk.gate = asyncio.Event()
    reader = reader_for(disk)
    first = asyncio.create_task(reader.read(2, 0, 100))
    second = asyncio.create_task(reader.read(2, 200, 100))
    await asyncio.sleep(0)
    first.cancel()
    disk.gate.set()
    assert await second == disk.pieces[2][200:300]
    assert first.cancelled()
    assert disk.reads == [(2, 0, CHUNK)]


async def test_only_a_chunk_read_and_not_failed_is_served_from_memory() -> None:
    disk = FakeDisk()
    disk.gate = asyncio.Event()
    reader = reader_for(disk)
    assert reader.cached(1, 0, 10) is None  # never read
    under_way = asyncio.create_task(reader.read(1, 0, 10))
    await asyncio.sleep(0)
    assert reader.cached(1, 20, 10) is None  # still on its way
    disk.gate.set()
    await under_way
    assert reader.cached(1, 20, 10) == disk.pieces[1][20:30]
    assert reader.cached(1, CHUNK - 5, 10) is None  # across two chunks
    disk.failures = 1
    with pytest.raises(StorageError):
        await reader.read(2, 0, 10)
    assert reader.cached(2, 0, 10) is None
    assert disk.reads == [(1, 0, CHUNK), (2, 0, CHUNK)]


async def test_the_least_recently_used_chunk_leaves_first() -> None:
    disk = FakeDisk()
    reader = reader_for(disk, capacity=2 * CHUNK)
    await reader.read(0, 0, 10)
    await reader.read(1, 0, 10)
    await reader.read(0, 10, 10)  # piece 0 used again: piece 1 is now the oldest
    await reader.read(2, 0, 10)  # evicts piece 1
    await reader.read(0, 20, 10)
    await reader.read(1, 0, 10)
    assert disk.reads == [(0, 0, CHUNK), (1, 0, CHUNK), (2, 0, CHUNK), (1, 0, CHUNK)]


async def test_a_request_across_two_chunks_is_read_by_itself() -> None:
    disk = FakeDisk()
    reader = reader_for(disk)
    assert await reader.read(3, CHUNK - 5, 10) == disk.pieces[3][CHUNK - 5 : CHUNK + 5]
    assert disk.reads == [(3, CHUNK - 5, 10)]


async def test_a_failed_read_reaches_the_caller_and_is_tried_again_next_time() -> None:
    disk = FakeDisk()
    disk.failures = 1
    reader = reader_for(disk)
    with pytest.raises(StorageError, match="Input/output error"):
        await reader.read(4, 0, 10)
    assert await reader.read(4, 0, 10) == disk.pieces[4][:10]
    assert disk.reads == [(4, 0, CHUNK), (4, 0, CHUNK)]


def test_a_chunk_larger_than_the_cache_is_refused() -> None:
    with pytest.raises(ValueError, match="a chunk of 64 bytes does not fit a cache of 32"):
        PieceReader(FakeDisk().read, piece_size, chunk=64, capacity=32)
