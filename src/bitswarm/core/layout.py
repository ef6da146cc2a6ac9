"""Where pieces fall in files, and files in pieces (BEP 3, 47, 52).

Theory of operation
-------------------
Every torrent lays its files in one *piece space*, cut into ``piece length``
pieces numbered from 0. In a v1 or hybrid torrent that space is the
concatenation of the files in order, BEP 47 pad files included, so a piece may
span several files and the last piece ends with the last file. In a v2-only
torrent each file starts on a piece boundary (BEP 52) and a file's last piece
ends with the file: the gap up to the next boundary belongs to no file.

:attr:`FileEntry.offset <bitswarm.core.metainfo.FileEntry.offset>` already
places each file in that space, so both kinds are answered the same way: a byte
range of the space maps to the files that overlap it, found by bisection over
the start offsets of the non-empty files. Empty files hold no bytes and cover
no piece. Pad files are reported like the others, flagged, so that storage can
hash them as zeros and never write them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from bitswarm.core.metainfo import FileEntry, Torrent


class LayoutError(ValueError):
    """A piece, block or file that the torrent does not have."""


@dataclass(frozen=True, slots=True)
class FileSpan:
    """``length`` bytes of file ``file_index``, starting ``offset`` bytes into the file."""

    file_index: int
    offset: int
    length: int
    is_pad: bool = False


class Layout:
    """The piece <-> file map of one torrent. Pure, immutable after construction."""

    __slots__ = (
        "_ends",
        "_files",
        "_indices",
        "_starts",
        "aligned",
        "piece_count",
        "piece_length",
        "total_size",
    )

    def __init__(self, files: Sequence[FileEntry], piece_length: int, *, aligned: bool) -> None:
        """``aligned``: pieces end at file ends (v2-only), rather than running on (v1, hybrid)."""
        if piece_length <= 0:
            raise LayoutError(f"piece length {piece_length} is not positive")
        self._files = tuple(files)
        self.piece_length = piece_length
        self.aligned = aligned
        filled = [(entry.offset, i) for i, entry in enumerate(self._files) if entry.length]
        self._starts = [start for start, _ in filled]
        self._indices = [i for _, i in filled]
        self._ends = [self._files[i].end for i in self._indices]
        self.total_size = max(self._ends, default=0)  # the piece space, up to the last file
        self.piece_count = -(-self.total_size // piece_length)

    @classmethod
    def of(cls, torrent: Torrent) -> Layout:
        return cls(torrent.files, torrent.piece_length, aligned=torrent.version == "v2")

    @property
    def files(self) -> tuple[FileEntry, ...]:
        """The torrent's files, in order, pad files included."""
        return self._files

    def piece_size(self, piece: int) -> int:
        start = self._piece_start(piece)
        end = self.total_size
        if self.aligned:  # the piece ends with its file
            end = self._ends[bisect_right(self._starts, start) - 1]
        return min(self.piece_length, end - start)

    def piece_spans(self, piece: int) -> tuple[FileSpan, ...]:
        """The file ranges that make up ``piece``, in order."""
        return self._spans(self._piece_start(piece), self.piece_size(piece))

    def run_spans(self, pieces: range) -> tuple[FileSpan, ...]:
        """The file ranges that make up the consecutive, non-empty ``pieces``, in order.

        One span per file, however many pieces it takes. In an aligned layout
        the pieces must lie in one file (the piece space has gaps between files).
        """
        start = self._piece_start(pieces.start)
        last = pieces[-1]
        return self._spans(start, self._piece_start(last) + self.piece_size(last) - start)

    def block_spans(self, piece: int, begin: int, length: int) -> tuple[FileSpan, ...]:
        """The file ranges of ``length`` bytes at ``begin`` within ``piece`` (a request)."""
        size = self.piece_size(piece)
        if begin < 0 or length <= 0 or begin + length > size:
            raise LayoutError(
                f"block at {begin} of {length} bytes lies outside piece {piece} of {size} bytes"
            )
        return self._spans(self._piece_start(piece) + begin, length)

    def file_pieces(self, file_index: int) -> range:
        """The pieces that hold bytes of file ``file_index`` (empty for an empty file)."""
        if not 0 <= file_index < len(self._files):
            raise LayoutError(f"file {file_index} out of range (0..{len(self._files) - 1})")
        entry = self._files[file_index]
        first = entry.offset // self.piece_length
        if not entry.length:
            return range(first, first)
        return range(first, -(-entry.end // self.piece_length))

    def _piece_start(self, piece: int) -> int:
        if not 0 <= piece < self.piece_count:
            raise LayoutError(f"piece {piece} out of range (0..{self.piece_count - 1})")
        return piece * self.piece_length

    def _spans(self, start: int, length: int) -> tuple[FileSpan, ...]:
        stop = start + length
        spans = []
        k = max(bisect_right(self._starts, start) - 1, 0)
        while k < len(self._starts) and self._starts[k] < stop:
            low, high = max(start, self._starts[k]), min(stop, self._ends[k])
            if low < high:
                index = self._indices[k]
                entry = self._files[index]
                spans.append(FileSpan(index, low - entry.offset, high - low, entry.is_pad))
            k += 1
        return tuple(spans)
