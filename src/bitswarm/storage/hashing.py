"""Reading a torrent's files in large runs and hashing them on a thread pool (BEP 3, 47, 52).

Creating a torrent and verifying data are the same job: read the piece space in
order and hash every piece, SHA-1 over the v1 stream and/or the SHA-256 merkle
subtree of each piece of each file. They differ only in what they do with the
hashes, so both drive :func:`hash_pieces`.

Theory of operation
-------------------
The piece space is cut into *runs* of whole pieces, about 4 MiB each. In a
v1-only torrent a run may span files; when v2 hashes are wanted every file
starts on a piece boundary (BEP 52) and a run never leaves its file, so the v2
subtree roots of its pieces can be taken from the same bytes as the v1 hashes.
Each run is one job for a worker thread, which reads its bytes with ``preadv``
into a buffer of its own, fills BEP 47 pad files with zeros, and hashes: both
``preadv`` and hashlib release the GIL on large buffers, so with one worker per
core every core is busy. A bounded window of runs is in flight; results come
back in piece order, and the caller's ``progress(done, total)`` is called in the
calling thread after each run, with bytes of file content (pad files excluded).

Data that is not on disk (a missing file, or the part of a file beyond its
actual size) is not read: the pieces it touches are reported as missing instead
of being hashed.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bitswarm.core.metainfo.hashing import v1_piece_hashes, v2_piece_hashes
from bitswarm.storage.errors import StorageError

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``: content bytes hashed so far, of all."""

RUN_BYTES = 4 * 1024 * 1024
"""Target size of one read-and-hash job (at least one piece)."""


@dataclass(frozen=True, slots=True)
class Source:
    """One file of the piece space and where its bytes are.

    ``offset`` and ``length`` place it in the piece space. ``disk_path`` is
    ``None`` for a pad file, which reads as zeros. ``present`` is how many of its
    bytes are on disk (less than ``length`` for a missing or short file).
    """

    offset: int
    length: int
    disk_path: Path | None
    present: int


@dataclass(frozen=True, slots=True)
class HashedRun:
    """The hashes of pieces ``first_piece`` onwards; ``None`` where data was missing.

    ``v1`` holds the SHA-1 of each piece of the run (empty if not asked for);
    ``v2`` the merkle subtree root of each (empty if not asked for), and
    ``source`` then names the index of the file they belong to.
    """

    first_piece: int
    v1: tuple[bytes | None, ...]
    v2: tuple[bytes | None, ...]
    source: int | None


@dataclass(frozen=True, slots=True)
class _Read:
    disk_path: Path
    file_offset: int
    length: int
    at: int


@dataclass(frozen=True, slots=True)
class _Run:
    first_piece: int
    start: int
    length: int
    reads: tuple[_Read, ...]
    zeros: tuple[tuple[int, int], ...]
    missing: frozenset[int]
    content: int
    v2_source: int | None


class _Planner:
    """Cuts the piece space into runs and works out each run's reads."""

    def __init__(self, sources: Sequence[Source], piece_length: int, run_pieces: int) -> None:
        self.sources = sources
        self.piece_length = piece_length
        self.run_pieces = run_pieces
        self.ends = [s.offset + s.length for s in sources]
        self.stream_size = max(self.ends, default=0)

    def v1_runs(self) -> Iterator[_Run]:
        step = self.run_pieces * self.piece_length
        for start in range(0, self.stream_size, step):
            yield self.run(start, min(start + step, self.stream_size), None)

    def file_runs(self) -> Iterator[_Run]:
        """Runs that stay within one file each, for v2 hashing of piece-aligned files."""
        step = self.run_pieces * self.piece_length
        for index, source in enumerate(self.sources):
            if source.disk_path is None or source.length == 0:
                continue
            if source.offset % self.piece_length:
                raise ValueError(f"file at offset {source.offset} is not piece-aligned")
            file_end = -(-(source.offset + source.length) // self.piece_length) * self.piece_length
            end = min(file_end, self.stream_size)
            for start in range(source.offset, end, step):
                yield self.run(start, min(start + step, end), index)

    def run(self, start: int, end: int, v2_source: int | None) -> _Run:
        reads: list[_Read] = []
        zeros: list[tuple[int, int]] = []
        missing: set[int] = set()
        content = 0
        for source in self.sources[bisect_right(self.ends, start) :]:
            if source.offset >= end:
                break
            lo = max(start, source.offset)
            hi = min(end, source.offset + source.length)
            if lo >= hi:
                continue
            if source.disk_path is None:
                zeros.append((lo - start, hi - start))
                continue
            content += hi - lo
            present_end = source.offset + source.present
            if lo < present_end:
                length = min(hi, present_end) - lo
                reads.append(_Read(source.disk_path, lo - source.offset, length, lo - start))
            if hi > present_end:
                first = max(lo, present_end) // self.piece_length
                missing.update(range(first, (hi - 1) // self.piece_length + 1))
        first_piece = start // self.piece_length
        return _Run(
            first_piece, start, end - start, tuple(reads), tuple(zeros),
            frozenset(missing), content, v2_source,
        )  # fmt: skip


def _read_into(buffer: bytearray, read: _Read) -> None:
    view = memoryview(buffer)[read.at : read.at + read.length]
    try:
        fd = os.open(read.disk_path, os.O_RDONLY)
    except OSError as exc:
        raise StorageError(read.disk_path, f"cannot open: {exc.strerror}") from exc
    try:
        done = 0
        while done < read.length:
            got = os.preadv(fd, [view[done:]], read.file_offset + done)
            if got == 0:
                raise StorageError(read.disk_path, "file shrank while it was being read")
            done += got
    except OSError as exc:
        raise StorageError(read.disk_path, f"cannot read: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _hash_run(
    run: _Run, buffer: bytearray, sources: Sequence[Source], piece_length: int, v1: bool
) -> HashedRun:
    for read in run.reads:
        _read_into(buffer, read)
    for lo, hi in run.zeros:
        buffer[lo:hi] = bytes(hi - lo)
    view = memoryview(buffer)[: run.length]
    pieces = range(run.first_piece, run.first_piece + -(-run.length // piece_length))
    v1_hashes: list[bytes | None] = []
    v2_hashes: list[bytes | None] = []
    for i, piece in enumerate(pieces):
        data = view[i * piece_length : (i + 1) * piece_length]
        if piece in run.missing:
            v1_hashes += [None] if v1 else []
            v2_hashes += [None] if run.v2_source is not None else []
            continue
        if v1:
            v1_hashes += v1_piece_hashes(data, piece_length)
        if run.v2_source is not None:
            source = sources[run.v2_source]
            file_data = data[: max(0, source.offset + source.length - run.start - i * piece_length)]
            v2_hashes += v2_piece_hashes(file_data, piece_length, source.length)
    return HashedRun(run.first_piece, tuple(v1_hashes), tuple(v2_hashes), run.v2_source)


def hash_pieces(
    sources: Sequence[Source],
    piece_length: int,
    *,
    v1: bool,
    v2: bool,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Iterator[HashedRun]:
    """Hash the piece space laid out by ``sources`` (sorted by offset), run by run, in order.

    With ``v2`` every non-empty file must start on a piece boundary. Raises
    :class:`StorageError` if a file cannot be opened or yields fewer bytes than
    its ``present`` count.
    """
    planner = _Planner(sources, piece_length, max(1, RUN_BYTES // piece_length))
    runs = planner.file_runs() if v2 else planner.v1_runs()
    total = sum(s.length for s in sources if s.disk_path is not None)
    workers = workers or os.cpu_count() or 1
    window = 2 * workers
    run_size = planner.run_pieces * piece_length
    free: list[bytearray] = []
    pending: deque[tuple[Future[HashedRun], bytearray, int]] = deque()
    done = 0
    with ThreadPoolExecutor(workers, thread_name_prefix="bitswarm-hash") as pool:
        try:
            for run in runs:
                buffer = free.pop() if free else bytearray(run_size)
                future = pool.submit(_hash_run, run, buffer, sources, piece_length, v1)
                pending.append((future, buffer, run.content))
                while len(pending) >= window:
                    done = yield from _collect(pending, free, done, total, progress)
            while pending:
                done = yield from _collect(pending, free, done, total, progress)
        finally:
            for future, _, _ in pending:
                future.cancel()


def _collect(
    pending: deque[tuple[Future[HashedRun], bytearray, int]],
    free: list[bytearray],
    done: int,
    total: int,
    progress: Progress | None,
) -> Generator[HashedRun, None, int]:
    future, buffer, content = pending.popleft()
    result = future.result()
    free.append(buffer)
    done += content
    if progress is not None:
        progress(done, total)
    yield result
    return done
