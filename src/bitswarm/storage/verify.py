"""Checking data on disk against a torrent: which pieces are good, which files are whole.

v1 pieces (BEP 3) are checked with SHA-1 over the concatenated files; v2 pieces
(BEP 52) with each file's merkle tree, piece by piece against the ``piece
layers`` (or against the ``pieces root`` itself for a file of one piece); a
hybrid torrent must pass both, since a client may use either. BEP 47 pad files
need not exist on disk: they are zeros by definition. BEP 47 symlink entries
hold no data and are left out of the report.

The data is looked for where a client would put it: each file at
``data_path / entry.path``, so ``data_path`` is the folder *holding* the
torrent's file or folder (libtorrent's "save path").

A piece is *missing* when some of its bytes are not on disk (the file is absent
or shorter than the torrent says), *bad* when its bytes are there but hash
wrong. A file is ``COMPLETE`` when every piece it touches is good, ``MISSING``
when it is not on disk, ``WRONG_SIZE`` when its size differs (its pieces are
still checked, up to the size the torrent gives), ``DAMAGED`` when one of its
pieces is bad, and ``INCOMPLETE`` when its own bytes are all there but a piece
it shares with a missing or short neighbour (v1) could not be checked.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import FileEntry, Torrent, Version
from bitswarm.storage.hashing import HashedRun, Progress, Source, hash_pieces
from bitswarm.storage.piece_store import disk_path


class PieceStatus(enum.Enum):
    GOOD = "good"
    BAD = "bad"
    MISSING = "missing"


class FileStatus(enum.Enum):
    COMPLETE = "complete"
    DAMAGED = "damaged"
    INCOMPLETE = "incomplete"
    MISSING = "missing"
    WRONG_SIZE = "wrong size"


@dataclass(frozen=True, slots=True)
class FileReport:
    """One file of the torrent (pad files left out) and what was found on disk.

    ``size_on_disk`` is ``None`` when there is no regular file at ``disk_path``.
    ``bad_pieces`` are the indexes of the pieces it touches that hash wrong.
    """

    path: tuple[str, ...]
    disk_path: Path
    length: int
    size_on_disk: int | None
    status: FileStatus
    bad_pieces: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The status of every piece, in order, and of every file."""

    version: Version
    pieces: tuple[PieceStatus, ...]
    files: tuple[FileReport, ...]

    @property
    def ok(self) -> bool:
        """Whether every piece is good (and so every file complete)."""
        return all(status is PieceStatus.GOOD for status in self.pieces)

    def count(self, status: PieceStatus) -> int:
        return sum(1 for piece in self.pieces if piece is status)

    @property
    def bad_pieces(self) -> tuple[int, ...]:
        return tuple(i for i, piece in enumerate(self.pieces) if piece is PieceStatus.BAD)


def _size_on_disk(path: Path) -> int | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _has_layers(torrent: Torrent) -> bool:
    """Whether every file longer than a piece has its piece layer (not so from bare metadata)."""
    return all(
        entry.pieces_root in torrent.piece_layers
        for entry in torrent.files
        if entry.pieces_root is not None and entry.length > torrent.piece_length
    )


def _judge(run: HashedRun, torrent: Torrent, statuses: list[PieceStatus]) -> None:
    """Mark the run's pieces: missing if unread, bad if any hash it carries is wrong."""
    expected_v2: tuple[bytes, ...] = ()
    first_of_file = 0
    if run.file_index is not None:
        entry = torrent.files[run.file_index]
        expected_v2 = torrent.piece_layer(entry)
        first_of_file = entry.offset // torrent.piece_length
    for i in range(max(len(run.v1), len(run.v2))):
        piece = run.first_piece + i
        v1 = run.v1[i] if run.v1 else b""
        v2 = run.v2[i] if run.v2 else b""
        if v1 is None or v2 is None:
            statuses[piece] = PieceStatus.MISSING
        elif (run.v1 and v1 != torrent.piece_hash_v1(piece)) or (
            run.v2 and v2 != expected_v2[piece - first_of_file]
        ):
            statuses[piece] = PieceStatus.BAD
        else:
            statuses[piece] = PieceStatus.GOOD


def _file_report(
    entry: FileEntry,
    disk_path: Path,
    size: int | None,
    span: range,
    pieces: Sequence[PieceStatus],
) -> FileReport:
    bad = tuple(p for p in span if pieces[p] is PieceStatus.BAD)
    if size is None:
        status = FileStatus.MISSING
    elif size != entry.length:
        status = FileStatus.WRONG_SIZE
    elif bad:
        status = FileStatus.DAMAGED
    elif any(pieces[p] is not PieceStatus.GOOD for p in span):
        status = FileStatus.INCOMPLETE
    else:
        status = FileStatus.COMPLETE
    return FileReport(entry.path, disk_path, entry.length, size, status, bad)


def verify(
    torrent: Torrent,
    data_path: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    workers: int | None = None,
    pieces: Collection[int] | None = None,
) -> VerifyReport:
    """Check the data of ``torrent`` under the folder ``data_path``.

    ``pieces``, when given, limits the check to those pieces (rechecking part
    of a download after a restart); the others are reported missing.
    Raises :class:`~bitswarm.storage.errors.StorageError` if a file that is
    there cannot be read, and ``ValueError`` for a v2 torrent without its piece
    layers (built from bare metadata; a hybrid one is then checked by v1 alone).
    """
    root = Path(data_path)
    sources: list[Source] = []
    found: list[tuple[int, Path, int | None]] = []
    for index, entry in enumerate(torrent.files):
        if entry.is_pad or entry.is_symlink:
            sources.append(Source(None, entry.length))
            continue
        path = disk_path(root, entry)
        size = _size_on_disk(path)
        present = min(size or 0, entry.length)
        sources.append(Source(path, present))
        found.append((index, path, size))
    check_v2 = torrent.version != "v1" and _has_layers(torrent)
    if torrent.version == "v2" and not check_v2:
        raise ValueError("the torrent lacks piece layers; v2 data cannot be checked without them")
    statuses = [PieceStatus.MISSING] * torrent.piece_count
    runs = hash_pieces(
        torrent.files,
        torrent.piece_length,
        sources,
        v1=torrent.version != "v2",
        v2=check_v2,
        progress=progress,
        workers=workers,
        pieces=pieces,
    )
    for run in runs:
        _judge(run, torrent, statuses)
    layout = Layout.of(torrent)
    files = tuple(
        _file_report(torrent.files[i], path, size, layout.file_pieces(i), statuses)
        for i, path, size in found
    )
    return VerifyReport(torrent.version, tuple(statuses), files)
