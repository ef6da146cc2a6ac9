"""DiskIO: a PieceStore on threads, concurrent writes and reads, the bytes-in-flight bound."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from bitswarm.aio.disk import ByteBudget, DiskIO
from bitswarm.core.metainfo import Torrent
from bitswarm.storage.create import create_torrent
from bitswarm.storage.errors import StorageError
from bitswarm.storage.piece_store import PieceStore
from bitswarm.storage.verify import verify
from torrent_content import FOLDER, KIB, PIECE, make_files

BLOCK = 16 * KIB


class GatedStore:
    """A store whose writes wait for ``gate``, counting the bytes inside ``write_block``."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.inside = 0
        self.most_inside = 0
        self.entered = 0
        self.written: list[tuple[int, int, bytes]] = []
        self.calls: list[str] = []

    def write_block(self, piece: int, offset: int, data: bytes) -> None:
        with self.lock:
            self.entered += 1
            self.inside += len(data)
            self.most_inside = max(self.most_inside, self.inside)
        self.gate.wait(10)
        with self.lock:
            self.inside -= len(data)
            self.written.append((piece, offset, data))

    def write_piece_if_valid(self, piece: int, blocks: Sequence[bytes]) -> bool:
        self.write_block(piece, 0, b"".join(blocks))
        return True

    def read_block(self, piece: int, offset: int, length: int) -> bytes:
        return bytes(length)

    def hash_piece(self, piece: int) -> bool:
        return True

    def flush(self) -> None:
        self.calls.append("flush")

    def close(self) -> None:
        self.calls.append("close")


async def until(condition: object, what: str) -> None:
    """Let the loop and the threads run until ``condition()`` holds (or fail after 5 s)."""
    for _ in range(500):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"never happened: {what}")


def blocks(store: PieceStore) -> list[tuple[int, int, int]]:
    found = []
    for piece in range(store.layout.piece_count):
        size = store.layout.piece_size(piece)
        found += [(piece, begin, min(BLOCK, size - begin)) for begin in range(0, size, BLOCK)]
    return found


@pytest.fixture
def torrent(tmp_path: Path) -> Torrent:
    make_files(tmp_path / "seed" / "top", FOLDER)
    return create_torrent(
        tmp_path / "seed" / "top", version="hybrid", piece_length=PIECE, creation_date=None
    )


async def test_concurrent_writes_then_reads_make_the_download(
    torrent: Torrent, tmp_path: Path
) -> None:
    seed = PieceStore(torrent, tmp_path / "seed")
    disk = DiskIO(PieceStore(torrent, tmp_path / "dl"), threads=3, max_pending_bytes=3 * BLOCK)
    order = blocks(seed)
    random.Random(5).shuffle(order)
    await asyncio.gather(*(disk.write_block(p, b, seed.read_block(p, b, n)) for p, b, n in order))
    assert disk.pending_bytes == 0
    assert all(await asyncio.gather(*(disk.hash_piece(p) for p in range(torrent.piece_count))))
    got = await asyncio.gather(*(disk.read_block(p, b, n) for p, b, n in order))
    assert got == [seed.read_block(p, b, n) for p, b, n in order]
    await disk.close()
    assert verify(torrent, tmp_path / "dl").ok


async def test_writers_wait_when_the_bytes_in_flight_reach_the_bound() -> None:
    store = GatedStore()
    disk = DiskIO(store, threads=8, max_pending_bytes=4 * BLOCK)
    writers = [asyncio.create_task(disk.write_block(i, 0, bytes([i]) * BLOCK)) for i in range(10)]
    await until(lambda: store.entered == 4, "four writes reach the threads")
    await asyncio.sleep(0.05)  # room for a fifth, were the bound not kept
    assert store.entered == 4
    assert disk.pending_bytes == 4 * BLOCK
    assert sum(task.done() for task in writers) == 0
    store.gate.set()
    await asyncio.gather(*writers)
    assert store.most_inside == 4 * BLOCK
    assert sorted(piece for piece, _, _ in store.written) == list(range(10))
    assert disk.pending_bytes == 0
    await disk.close()
    assert store.calls == ["flush", "close"]


async def test_a_whole_piece_counts_all_its_bytes_against_the_bound() -> None:
    store = GatedStore()
    disk = DiskIO(store, threads=4, max_pending_bytes=3 * BLOCK)
    piece = asyncio.create_task(disk.write_piece_if_valid(0, [bytes(BLOCK)] * 2))
    await until(lambda: store.entered == 1, "the piece reaches a thread")
    assert disk.pending_bytes == 2 * BLOCK
    block = asyncio.create_task(disk.write_block(1, 0, bytes(2 * BLOCK)))
    await asyncio.sleep(0.05)
    assert store.entered == 1 and not block.done()  # no room left beside the piece
    store.gate.set()
    assert await piece
    await block
    assert store.written[0] == (0, 0, bytes(2 * BLOCK))
    assert disk.pending_bytes == 0
    await disk.close()


async def test_a_block_larger_than_the_bound_goes_through_alone() -> None:
    store = GatedStore()
    disk = DiskIO(store, max_pending_bytes=1000)
    big = asyncio.create_task(disk.write_block(0, 0, bytes(5000)))
    await until(lambda: store.entered == 1, "the big write reaches a thread")
    small = asyncio.create_task(disk.write_block(1, 0, bytes(10)))
    await asyncio.sleep(0.05)
    assert store.entered == 1 and not small.done()
    store.gate.set()
    await asyncio.gather(big, small)
    assert store.most_inside == 5000
    await disk.close()


async def test_bytes_count_until_the_thread_is_done_even_if_the_writer_is_cancelled() -> None:
    store = GatedStore()
    disk = DiskIO(store, max_pending_bytes=2 * BLOCK)
    writer = asyncio.create_task(disk.write_block(0, 0, bytes(BLOCK)))
    await until(lambda: store.entered == 1, "the write reaches a thread")
    writer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert disk.pending_bytes == BLOCK  # the thread still holds the block
    store.gate.set()
    await until(lambda: disk.pending_bytes == 0, "the budget is given back")
    assert store.written == [(0, 0, bytes(BLOCK))]
    await disk.close()


async def test_the_budget_serves_waiters_in_order_and_forgets_cancelled_ones() -> None:
    budget = ByteBudget(4)
    await budget.acquire(3)
    big = asyncio.create_task(budget.acquire(3))
    gone = asyncio.create_task(budget.acquire(1))
    small = asyncio.create_task(budget.acquire(1))
    await asyncio.sleep(0)
    assert not (big.done() or gone.done() or small.done())  # 1 byte is free, but big is first
    gone.cancel()
    budget.release(3)
    await asyncio.gather(big, small)
    assert gone.cancelled()
    assert budget.in_use == 4
    with pytest.raises(ValueError, match="at least 1"):
        ByteBudget(0)


async def test_storage_errors_reach_the_writer(torrent: Torrent, tmp_path: Path) -> None:
    (tmp_path / "dl" / "top" / "a.bin").mkdir(parents=True)
    disk = DiskIO(PieceStore(torrent, tmp_path / "dl"))
    with pytest.raises(StorageError, match=r"a\.bin: cannot open for writing: Is a directory"):
        await disk.write_block(0, 0, bytes(BLOCK))
    assert disk.pending_bytes == 0
    with pytest.raises(StorageError, match=r"a\.bin: is not a regular file"):
        await disk.hash_piece(0)
    await disk.close()


async def test_a_cancelled_write_that_has_not_started_never_runs() -> None:
    store = GatedStore()
    disk = DiskIO(store, threads=1, max_pending_bytes=4 * BLOCK)
    first = asyncio.create_task(disk.write_block(0, 0, bytes(BLOCK)))
    await until(lambda: store.entered == 1, "the first write holds the only thread")
    queued = asyncio.create_task(disk.write_block(1, 0, bytes(BLOCK)))
    await until(lambda: disk.pending_bytes == 2 * BLOCK, "the second write is handed over")
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    await until(lambda: disk.pending_bytes == BLOCK, "the queued write gives its bytes back")
    store.gate.set()
    await first
    await disk.close()
    assert [piece for piece, _, _ in store.written] == [0]
