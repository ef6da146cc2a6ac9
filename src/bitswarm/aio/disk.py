"""Block storage off the event loop: a torrent's disk work on a few threads, with bounded memory.

:class:`DiskIO` runs the calls of a
:class:`~bitswarm.storage.piece_store.PieceStore` (or any :class:`BlockStore`)
on a small thread pool, so ``pwrite``, ``pread`` and piece hashing never stall
the loop: they release the GIL, so two to four threads keep a disk and a core
busy while the loop serves sockets.

Theory of operation
-------------------
Blocks arrive from the network faster than a slow disk may take them, and each
waits in memory until written. :class:`DiskIO` therefore counts the bytes handed
to the threads and not yet written; when ``max_pending_bytes`` are in flight,
:meth:`DiskIO.write_block` waits for room before it hands over another block.
A peer connection that awaits its writes stops reading its socket meanwhile, so
TCP flow control slows the sender: back-pressure reaches the peers instead of
memory growing. Waiters are served in arrival order, so a large block is not
starved by small ones, and a block larger than the whole budget goes through
alone rather than never. The bytes of a write count until its thread is done
with them, even when the waiting caller was cancelled.

Each job costs the loop one wake-up: the worker thread hands back the
outcome and the budget's bytes in a single ``call_soon_threadsafe`` (1.7 times
the block rate of ``run_in_executor`` plus a separate release, as measured by
``bench/storage.py``).

A piece gathered in memory goes over whole (:meth:`DiskIO.write_piece_if_valid`):
one job hashes it and writes it only if it matches, so the loop pays one
hand-off a piece instead of one a block plus a hash that reads it back.

Reads and hashes are not budgeted: a read's memory is the caller's request, and
the caller orders its work (a piece is hashed after its blocks are written).
Errors from the store (:class:`~bitswarm.storage.errors.StorageError`) reach the
awaiting caller unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

DEFAULT_THREADS = 2
DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024
"""Bytes of blocks handed to the threads and not yet written (1024 blocks of 16 KiB)."""

_T = TypeVar("_T")


class BlockStore(Protocol):
    """What :class:`DiskIO` runs on its threads: a PieceStore, or a fake disk in tests."""

    def write_block(self, piece: int, offset: int, data: bytes) -> None: ...
    def read_block(self, piece: int, offset: int, length: int) -> bytes: ...
    def hash_piece(self, piece: int) -> bool: ...
    def write_piece_if_valid(self, piece: int, blocks: Sequence[bytes]) -> bool: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class ByteBudget:
    """A semaphore counted in bytes, first come first served."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"byte budget must be at least 1, got {limit}")
        self.limit = limit
        self.in_use = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def acquire(self, size: int) -> None:
        """Wait until ``size`` bytes fit (or nothing else is in use), then take them."""
        if not self._waiters and self._fits(size):
            self.in_use += size
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (size, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted, but too late
                self.release(size)
            else:
                with contextlib.suppress(ValueError):  # unless _wake dropped it already
                    self._waiters.remove(entry)
                self._wake()
            raise

    def release(self, size: int) -> None:
        self.in_use -= size
        self._wake()

    def _fits(self, size: int) -> bool:
        return self.in_use + size <= self.limit or self.in_use == 0

    def _wake(self) -> None:
        while self._waiters and self._fits(self._waiters[0][0]):
            size, waiter = self._waiters.popleft()
            if not waiter.done():  # else cancelled, its task not yet resumed
                self.in_use += size
                waiter.set_result(None)


class DiskIO:
    """Async access to ``store`` through ``threads`` worker threads, writes bounded in bytes."""

    def __init__(
        self,
        store: BlockStore,
        *,
        threads: int = DEFAULT_THREADS,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
    ) -> None:
        self.store = store
        self.budget = ByteBudget(max_pending_bytes)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="bitswarm-disk")

    @property
    def pending_bytes(self) -> int:
        """Bytes handed to the threads and not yet written."""
        return self.budget.in_use

    async def write_block(self, piece: int, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` in ``piece``; waits for room first, then for the write."""
        size = len(data)
        await self.budget.acquire(size)
        await self._run(self.store.write_block, piece, offset, data, budgeted=size)

    async def write_piece_if_valid(self, piece: int, blocks: Sequence[bytes]) -> bool:
        """Hash a whole piece from memory and write it if it matches, in one job (budgeted)."""
        size = sum(len(block) for block in blocks)
        await self.budget.acquire(size)
        return await self._run(self.store.write_piece_if_valid, piece, blocks, budgeted=size)

    async def read_block(self, piece: int, offset: int, length: int) -> bytes:
        return await self._run(self.store.read_block, piece, offset, length)

    async def hash_piece(self, piece: int) -> bool:
        """Whether ``piece`` on disk matches the torrent (write its blocks first)."""
        return await self._run(self.store.hash_piece, piece)

    async def flush(self) -> None:
        """Make the writes done so far durable (``fsync``)."""
        await self._run(self.store.flush)

    async def close(self) -> None:
        """Flush, close the files and stop the threads (after the work already handed over)."""
        try:
            await self.flush()
            await self._run(self.store.close)
        finally:
            self._pool.shutdown(wait=False)

    async def _run(self, call: Callable[..., _T], *args: object, budgeted: int = 0) -> _T:
        """``call(*args)`` on a thread; ``budgeted`` bytes go back to the budget when it ends."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[_T] = loop.create_future()
        try:
            job = self._pool.submit(call, *args)
        except BaseException:
            self.budget.release(budgeted)
            raise
        job.add_done_callback(lambda job: self._settle_from_thread(loop, job, result, budgeted))
        try:
            return await result
        except asyncio.CancelledError:
            job.cancel()  # never runs if it has not started; a running one runs to its end
            raise

    def _settle_from_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        job: Future[_T],
        result: asyncio.Future[_T],
        budgeted: int,
    ) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(self._settle, job, result, budgeted)

    def _settle(self, job: Future[_T], result: asyncio.Future[_T], budgeted: int) -> None:
        """Back in the loop: give the bytes back and pass the outcome on (one wake-up a job)."""
        self.budget.release(budgeted)
        if result.done():  # the caller was cancelled
            return
        if job.cancelled():
            result.cancel()
        elif (error := job.exception()) is not None:
            result.set_exception(error)
        else:
            result.set_result(job.result())
