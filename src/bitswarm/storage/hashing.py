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
Each run is one job for a worker thread. A run that is one stretch of one file
(the common case) is hashed straight from a guarded memory map of it
(:mod:`bitswarm.storage.mapped`), with no copy out of the page cache; any other
run is read into a buffer of the worker's own (``readinto``), with BEP 47 pad
files filled with zeros. A worker allocates that buffer when it first needs one and
keeps it for its later runs, as a run's bytes are done with once it is hashed, so a
torrent that is all mapped runs never allocates one. Reads and hashlib release the
GIL on large buffers, so with one worker per core every core is busy. A run is
planned from its file spans, not piece by piece: the planner shares the GIL with
the workers. A bounded window of runs is in flight; results come back in piece
order, and the caller's ``progress(done, total)`` is called in the calling thread
after each run, with bytes of file content (pad files excluded).

Data that is not on disk (a missing file, or the part of a file beyond its
actual size) is not read: the pieces it touches are reported as missing instead
of being hashed.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Collection, Container, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import FileEntry
from bitswarm.core.metainfo.hashing import v1_piece_hashes, v2_piece_hashes
from bitswarm.storage.errors import StorageError
from bitswarm.storage.mapped import mapped_bytes

Progress = Callable[[int, int], None]
"""``progress(bytes_done, bytes_total)``: content bytes hashed so far, of all."""

RUN_BYTES = 4 * 1024 * 1024
"""Target size of one read-and-hash job (at least one piece). Larger runs cost fewer
hand-offs between the workers and the collecting thread; past a few MiB a read run no
longer stays in the core's cache between its read and its hash. On a 2-core machine, v1
over a warm 2 GiB file (``bench/create.py``), read runs: 1 MiB 2470 MB/s, 4 MiB 2712,
16 MiB 2511; mapped runs are within noise of each other from 4 to 16 MiB."""

RUNS_PER_WORKER = 4
"""Runs queued or in progress per worker: enough that a worker always has its
next run at hand while the collecting thread waits for the GIL. A queued run is
a plan, not bytes, so a deeper queue costs no memory; past a few it only makes
the workers run further ahead of a caller that stops early."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where the bytes of one file of the layout are.

    ``disk_path`` is ``None`` for a pad file (or anything else that reads as
    zeros). ``present`` is how many of the file's bytes are on disk, fewer than
    its length for a missing or short file.
    """

    disk_path: Path | None
    present: int


@dataclass(frozen=True, slots=True)
class HashedRun:
    """The hashes of pieces ``first_piece`` onwards; ``None`` where data was missing.

    ``v1`` holds the SHA-1 of each piece of the run (empty if not asked for);
    ``v2`` the merkle subtree root of each (empty if not asked for), and
    ``file_index`` then names the file they belong to.
    """

    first_piece: int
    v1: tuple[bytes | None, ...]
    v2: tuple[bytes | None, ...]
    file_index: int | None


@dataclass(frozen=True, slots=True)
class _Read:
    disk_path: Path
    file_offset: int
    length: int
    at: int


@dataclass(frozen=True, slots=True)
class _Run:
    """Pieces to read into one buffer: ``sizes`` are their sizes, in order."""

    first_piece: int
    sizes: tuple[int, ...]
    reads: tuple[_Read, ...]
    zeros: tuple[tuple[int, int], ...]
    missing: frozenset[int]
    content: int
    v2_file: tuple[int, int, int] | None
    """For v2 hashing: file index, file length, and bytes of that file in the run."""


class _Planner:
    """Cuts the piece space into runs and works out each run's reads from the layout."""

    def __init__(
        self,
        layout: Layout,
        sources: Sequence[Source],
        run_pieces: int,
        wanted: Container[int] | None = None,
    ) -> None:
        self.layout = layout
        self.sources = sources
        self.run_pieces = run_pieces
        self.wanted = wanted

    def chunks(self, pieces: range) -> Iterator[range]:
        """Ranges of at most ``run_pieces`` consecutive wanted pieces of ``pieces``."""
        first = None
        for piece in pieces:
            if self.wanted is not None and piece not in self.wanted:
                if first is not None:
                    yield range(first, piece)
                first = None
                continue
            if first is None:
                first = piece
            if piece + 1 - first == self.run_pieces:
                yield range(first, piece + 1)
                first = None
        if first is not None:
            yield range(first, pieces.stop)

    def v1_runs(self) -> Iterator[_Run]:
        for chunk in self.chunks(range(self.layout.piece_count)):
            yield self.run(chunk)

    def file_runs(self, lengths: Sequence[int]) -> Iterator[_Run]:
        """Runs that stay within one file each, for v2 hashing of piece-aligned files."""
        for index, source in enumerate(self.sources):
            pieces = self.layout.file_pieces(index)
            if source.disk_path is None or not pieces:
                continue
            for chunk in self.chunks(pieces):
                yield self.run(chunk, (index, lengths[index]))

    def run(self, pieces: range, v2_file: tuple[int, int] | None = None) -> _Run:
        """The run of ``pieces``: all but the last are whole pieces, so offsets map to pieces."""
        piece_length = self.layout.piece_length
        reads: list[_Read] = []
        zeros: list[tuple[int, int]] = []
        missing: set[int] = set()
        content = 0
        file_bytes = 0
        at = 0
        for span in self.layout.run_spans(pieces):
            source = self.sources[span.file_index]
            if v2_file is not None and span.file_index == v2_file[0]:
                file_bytes += span.length
            if source.disk_path is None:
                zeros.append((at, at + span.length))
            else:
                content += span.length
                present = max(0, min(span.length, source.present - span.offset))
                if present:
                    reads.append(_Read(source.disk_path, span.offset, present, at))
                if present < span.length:
                    gone = range(
                        (at + present) // piece_length, (at + span.length - 1) // piece_length + 1
                    )
                    missing.update(piece + pieces.start for piece in gone)
            at += span.length
        sizes = (piece_length,) * (len(pieces) - 1) + (self.layout.piece_size(pieces[-1]),)
        v2 = None if v2_file is None else (*v2_file, file_bytes)
        return _Run(
            pieces.start, sizes, tuple(reads), tuple(zeros), frozenset(missing), content, v2
        )


_worker = threading.local()


def _worker_buffer(size: int) -> bytearray:
    """The calling worker's read buffer, at least ``size`` bytes, made on its first use."""
    buffer: bytearray | None = getattr(_worker, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _worker.buffer = bytearray(size)
    return buffer


def _read_into(buffer: bytearray, read: _Read) -> None:
    view = memoryview(buffer)[read.at : read.at + read.length]
    try:
        with open(read.disk_path, "rb", buffering=0) as handle:
            handle.seek(read.file_offset)
            done = 0
            while done < read.length:
                got = handle.readinto(view[done:])
                if not got:
                    raise StorageError.shrank(read.disk_path)
                done += got
    except OSError as exc:
        raise StorageError.unreadable(read.disk_path, exc) from exc


def _hash_run(run: _Run, piece_length: int, v1: bool) -> HashedRun:
    """Hashes ``run``: from a map of its file when one read is all of it, else read into
    the worker's buffer."""
    if len(run.reads) == 1 and not run.zeros and not run.missing:
        read = run.reads[0]
        with mapped_bytes(read.disk_path, read.file_offset, read.length) as view:
            if view is not None:
                return _hash_bytes(run, view, piece_length, v1)
    buffer = _worker_buffer(sum(run.sizes))
    for read in run.reads:
        _read_into(buffer, read)
    for lo, hi in run.zeros:
        buffer[lo:hi] = bytes(hi - lo)
    return _hash_bytes(run, memoryview(buffer), piece_length, v1)


def _hash_bytes(run: _Run, view: memoryview, piece_length: int, v1: bool) -> HashedRun:
    v1_hashes: list[bytes | None] = []
    v2_hashes: list[bytes | None] = []
    at = 0
    for piece, size in enumerate(run.sizes, run.first_piece):
        data = view[at : at + size]
        if piece in run.missing:
            v1_hashes += [None] if v1 else []
            v2_hashes += [None] if run.v2_file is not None else []
        else:
            if v1:
                v1_hashes += v1_piece_hashes(data, piece_length)
            if run.v2_file is not None:
                _, file_length, file_bytes = run.v2_file
                file_data = data[: max(0, file_bytes - at)]
                v2_hashes += v2_piece_hashes(file_data, piece_length, file_length)
        at += size
    file_index = None if run.v2_file is None else run.v2_file[0]
    return HashedRun(run.first_piece, tuple(v1_hashes), tuple(v2_hashes), file_index)


def _usable_cores() -> int:
    """Cores this process may run on (its affinity, where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def hash_pieces(
    files: Sequence[FileEntry],
    piece_length: int,
    sources: Sequence[Source],
    *,
    v1: bool,
    v2: bool,
    progress: Progress | None = None,
    workers: int | None = None,
    pieces: Collection[int] | None = None,
) -> Iterator[HashedRun]:
    """Hash the piece space of ``files``, whose file ``i`` is read from ``sources[i]``.

    Runs come back in piece order. With ``v2`` every non-empty file must start
    on a piece boundary; with ``v2`` alone the piece space is a v2-only one,
    where a file's last piece ends with the file. ``pieces``, when given, limits
    the work to those pieces (rechecking part of a download); runs then cover
    only them. Raises :class:`StorageError` if a file cannot be opened or yields
    fewer bytes than its ``present`` count.
    """
    layout = Layout(files, piece_length, aligned=v2 and not v1)
    wanted = None if pieces is None else frozenset(pieces)
    planner = _Planner(layout, sources, max(1, RUN_BYTES // piece_length), wanted)
    runs = planner.file_runs([f.length for f in files]) if v2 else planner.v1_runs()
    total = sum(f.length for f, s in zip(files, sources, strict=True) if s.disk_path is not None)
    if wanted is not None:
        total = sum(
            span.length
            for piece in wanted
            for span in layout.piece_spans(piece)
            if sources[span.file_index].disk_path is not None
        )
    workers = workers or _usable_cores()
    window = RUNS_PER_WORKER * workers
    pending: deque[tuple[Future[HashedRun], int]] = deque()
    done = 0
    with ThreadPoolExecutor(workers, thread_name_prefix="bitswarm-hash") as pool:
        try:
            for run in runs:
                future = pool.submit(_hash_run, run, piece_length, v1)
                pending.append((future, run.content))
                while len(pending) >= window:
                    done = yield from _collect(pending, done, total, progress)
            while pending:
                done = yield from _collect(pending, done, total, progress)
        finally:
            for future, _ in pending:
                future.cancel()


def _collect(
    pending: deque[tuple[Future[HashedRun], int]],
    done: int,
    total: int,
    progress: Progress | None,
) -> Generator[HashedRun, None, int]:
    future, content = pending.popleft()
    result = future.result()
    done += content
    if progress is not None:
        progress(done, total)
    yield result
    return done
