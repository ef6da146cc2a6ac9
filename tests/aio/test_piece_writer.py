"""PieceWriter: pieces gathered in memory, checked and written whole; spills; failures."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.aio.disk import DiskIO
from bitswarm.aio.piece_writer import PieceWriter
from bitswarm.core.metainfo import Torrent
from bitswarm.storage.create import create_torrent
from bitswarm.storage.errors import StorageError
from bitswarm.storage.piece_store import PieceStore
from bitswarm.storage.verify import verify
from torrent_content import FOLDER, KIB, PIECE, make_files

BLOCK = 16 * KIB


class CountingDisk:
    """A DiskIO that counts which calls the writer makes."""

    def __init__(self, disk: DiskIO) -> None:
        self.disk = disk
        self.block_writes = 0
        self.piece_writes = 0
        self.hashes = 0

    async def write_block(self, piece: int, offset: int, data: bytes) -> None:
        self.block_writes += 1
        await self.disk.write_block(piece, offset, data)

    async def write_piece_if_valid(self, piece: int, blocks: Sequence[bytes]) -> bool:
        self.piece_writes += 1
        return await self.disk.write_piece_if_valid(piece, blocks)

    async def hash_piece(self, piece: int) -> bool:
        self.hashes += 1
        return await self.disk.hash_piece(piece)


class Recorder:
    def __init__(self) -> None:
        self.holds: list[bool] = []
        self.failures: list[tuple[int, str]] = []

    def hold(self, held: bool) -> None:
        self.holds.append(held)

    def failed(self, piece: int, error: str) -> None:
        self.failures.append((piece, error))


@pytest.fixture
def torrent(tmp_path: Path) -> Torrent:
    make_files(tmp_path / "seed" / "top", FOLDER)
    return create_torrent(
        tmp_path / "seed" / "top", version="hybrid", piece_length=PIECE, creation_date=None
    )


def piece_blocks(seed: PieceStore, piece: int) -> list[tuple[int, bytes]]:
    size = seed.layout.piece_size(piece)
    return [
        (begin, seed.read_block(piece, begin, min(BLOCK, size - begin)))
        for begin in range(0, size, BLOCK)
    ]


def writer_for(
    torrent: Torrent, folder: Path, *, max_buffered: int = 1 << 30, max_queued: int = 1 << 30
) -> tuple[PieceWriter, CountingDisk, Recorder]:
    disk = CountingDisk(DiskIO(PieceStore(torrent, folder)))
    recorder = Recorder()
    writer = PieceWriter(
        disk,
        PieceStore(torrent, folder).layout.piece_size,
        max_buffered=max_buffered,
        max_queued=max_queued,
        hold=recorder.hold,
        failed=recorder.failed,
    )
    return writer, disk, recorder


async def test_each_piece_is_checked_and_written_in_one_disk_job(
    torrent: Torrent, tmp_path: Path
) -> None:
    seed = PieceStore(torrent, tmp_path / "seed")
    writer, disk, recorder = writer_for(torrent, tmp_path / "dl")
    for piece in random.Random(3).sample(range(torrent.piece_count), torrent.piece_count):
        arrivals = piece_blocks(seed, piece)
        random.Random(piece).shuffle(arrivals)
        for begin, data in arrivals:
            writer.add(piece, begin, data)
        assert await writer.verify(piece)
        # verified means written: the bytes are on disk when the answer comes
        assert PieceStore(torrent, tmp_path / "dl").read_piece(piece) == seed.read_piece(piece)
    assert (disk.piece_writes, disk.block_writes, disk.hashes) == (torrent.piece_count, 0, 0)
    assert (writer.buffered, writer.queued, recorder.failures) == (0, 0, [])
    await disk.disk.close()
    assert verify(torrent, tmp_path / "dl").ok


async def test_a_corrupt_piece_fails_and_never_reaches_the_disk(
    torrent: Torrent, tmp_path: Path
) -> None:
    seed = PieceStore(torrent, tmp_path / "seed")
    writer, disk, _ = writer_for(torrent, tmp_path / "dl")
    (first, good), *rest = piece_blocks(seed, 1)
    writer.add(1, first, bytes([good[0] ^ 1]) + good[1:])
    for begin, data in rest:
        writer.add(1, begin, data)
    assert not await writer.verify(1)
    assert disk.block_writes == 0
    assert not any((tmp_path / "dl").rglob("*.bin"))  # nothing written, no file made
    for begin, data in piece_blocks(seed, 1):  # downloaded again, right this time
        writer.add(1, begin, data)
    assert await writer.verify(1)
    assert PieceStore(torrent, tmp_path / "dl").read_piece(1) == seed.read_piece(1)


async def test_past_the_memory_bound_the_oldest_piece_spills_to_disk_block_by_block(
    torrent: Torrent, tmp_path: Path
) -> None:
    seed = PieceStore(torrent, tmp_path / "seed")
    writer, disk, _ = writer_for(torrent, tmp_path / "dl", max_buffered=PIECE)
    old, new = piece_blocks(seed, 0), piece_blocks(seed, 2)
    writer.add(0, *old[0])
    writer.add(2, *new[0])
    assert writer.buffered == 2 * BLOCK
    writer.add(2, *new[1])  # over the bound: piece 0, the oldest, goes to disk
    assert writer.buffered == PIECE
    writer.add(0, *old[1])  # the rest of a spilled piece follows its blocks
    assert writer.buffered == PIECE
    assert await writer.verify(0)
    assert await writer.verify(2)
    assert (disk.block_writes, disk.hashes, disk.piece_writes) == (2, 1, 1)
    await disk.disk.close()
    store = PieceStore(torrent, tmp_path / "dl")
    assert [store.read_piece(0), store.read_piece(2)] == [seed.read_piece(0), seed.read_piece(2)]


async def test_a_piece_with_a_gap_is_written_by_block_and_hashed_from_disk(
    torrent: Torrent, tmp_path: Path
) -> None:
    seed = PieceStore(torrent, tmp_path / "seed")
    writer, disk, _ = writer_for(torrent, tmp_path / "dl")
    writer.add(1, *piece_blocks(seed, 1)[1])
    assert not await writer.verify(1)  # the first block is missing: the piece is wrong
    assert (disk.block_writes, disk.hashes, disk.piece_writes) == (1, 1, 0)


async def test_stopping_spills_the_unfinished_pieces(torrent: Torrent, tmp_path: Path) -> None:
    seed = PieceStore(torrent, tmp_path / "seed")
    writer, disk, _ = writer_for(torrent, tmp_path / "dl")
    begin, data = piece_blocks(seed, 4)[1]
    writer.add(4, begin, data)
    await writer.spill_all()
    assert (writer.buffered, writer.queued, disk.block_writes) == (0, 0, 1)
    assert PieceStore(torrent, tmp_path / "dl").read_block(4, begin, len(data)) == data


async def test_a_deep_disk_queue_holds_reading_until_half_has_gone(
    torrent: Torrent, tmp_path: Path
) -> None:
    seed = PieceStore(torrent, tmp_path / "seed")
    writer, _, recorder = writer_for(torrent, tmp_path / "dl", max_queued=PIECE - 1)
    for begin, data in piece_blocks(seed, 0):
        writer.add(0, begin, data)
    assert await writer.verify(0)
    assert recorder.holds == [True, False]


async def test_a_write_that_fails_is_reported_and_raised(torrent: Torrent, tmp_path: Path) -> None:
    seed = PieceStore(torrent, tmp_path / "seed")
    (tmp_path / "dl").write_text("a file where the download folder should be")
    writer, _, recorder = writer_for(torrent, tmp_path / "dl")
    for begin, data in piece_blocks(seed, 0):
        writer.add(0, begin, data)
    with pytest.raises(StorageError):
        await writer.verify(0)
    assert [piece for piece, _ in recorder.failures] == [0]
    assert writer.queued == 0


class MemoryDisk:
    """Pieces of a known hash in a bytearray: what the writer leaves on disk, and when."""

    def __init__(self, content: bytes, piece: int) -> None:
        self.content = content
        self.piece = piece
        self.disk = bytearray(len(content))

    def expected(self, index: int) -> bytes:
        return self.content[index * self.piece : (index + 1) * self.piece]

    async def write_block(self, piece: int, offset: int, data: bytes) -> None:
        await asyncio.sleep(0)
        at = piece * self.piece + offset
        self.disk[at : at + len(data)] = data

    async def write_piece_if_valid(self, piece: int, blocks: Sequence[bytes]) -> bool:
        await asyncio.sleep(0)
        data = b"".join(blocks)
        if data != self.expected(piece):
            return False
        self.disk[piece * self.piece : piece * self.piece + len(data)] = data
        return True

    async def hash_piece(self, piece: int) -> bool:
        return bytes(self.disk[piece * self.piece : (piece + 1) * self.piece]) == self.expected(
            piece
        )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    max_buffered=st.integers(1, 6 * BLOCK),
    corrupt=st.sets(st.integers(0, 5)),
)
def test_any_arrival_order_and_memory_bound_keeps_good_pieces_and_only_them(
    seed: int, max_buffered: int, corrupt: set[int]
) -> None:
    rng = random.Random(seed)
    pieces, piece = 6, 2 * BLOCK
    disk = MemoryDisk(rng.randbytes(pieces * piece), piece)
    arrivals = [(p, begin) for p in range(pieces) for begin in range(0, piece, BLOCK)]
    rng.shuffle(arrivals)

    async def run() -> dict[int, bool]:
        writer = PieceWriter(
            disk,
            lambda _: piece,
            max_buffered=max_buffered,
            max_queued=1 << 30,
            hold=lambda _: None,
            failed=lambda *_: pytest.fail("no write fails here"),
        )
        seen: dict[int, int] = {}
        verdicts: dict[int, bool] = {}
        for p, begin in arrivals:
            data = disk.content[p * piece + begin : p * piece + begin + BLOCK]
            if p in corrupt and begin == 0:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            writer.add(p, begin, data)
            assert writer.buffered <= max_buffered
            seen[p] = seen.get(p, 0) + 1
            if seen[p] == piece // BLOCK:
                verdicts[p] = await writer.verify(p)
        assert (writer.buffered, writer.queued) == (0, 0)
        return verdicts

    verdicts = asyncio.run(run())
    assert verdicts == {p: p not in corrupt for p in range(pieces)}
    for p in range(pieces):
        if p not in corrupt:  # a good piece is on disk when verify answers
            assert disk.disk[p * piece : (p + 1) * piece] == disk.expected(p)
