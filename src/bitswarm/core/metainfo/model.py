"""The torrent model: what a ``.torrent`` file says, as frozen values (BEP 3, 12, 19, 27, 47, 52).

A :class:`Torrent` is built only by :func:`~bitswarm.core.metainfo.parse_torrent`
or :func:`~bitswarm.core.metainfo.build_torrent`, which validate everything, so
code holding one may trust it: paths are safe, hashes have the right sizes and
counts, and a hybrid torrent's two views of its files agree.

The info dictionary is kept as the exact bytes it arrived in
(:attr:`Torrent.info_bytes`); the info-hashes are taken over those bytes and
:meth:`Torrent.to_bytes` writes them back untouched, so re-saving a torrent never
changes its identity, whatever the original encoder did. The ``with_*`` editors
change only the fields outside the info dictionary (trackers, web seeds,
comment, creator, date) and keep the info-hash;
:func:`~bitswarm.core.metainfo.rehash` is the one way to change the ``private``
flag or ``source``, and it returns a torrent with new info-hashes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from bitswarm.core.bencode import Value, encode

Version = Literal["v1", "v2", "hybrid"]
"""Which hash trees a torrent carries: SHA-1 pieces (BEP 3), SHA-256 merkle trees
(BEP 52), or both."""

V1_HASH_SIZE = 20
V2_HASH_SIZE = 32


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a torrent, in the order the torrent lists them.

    ``path`` is relative to the download folder: it starts with the torrent's
    ``name`` for a multi-file torrent and is just ``(name,)`` for a single file.
    ``offset`` is where the file starts in the piece space: the concatenated v1
    stream (pad files included) for v1 and hybrid torrents; for v2-only torrents
    the same stream with each file moved to a piece boundary (BEP 52).
    ``attr`` holds the BEP 47 letters as given (``p`` pad, ``x`` executable,
    ``h`` hidden, ``l`` symlink; unknown letters kept). ``pieces_root`` is the
    file's SHA-256 merkle root (v2 and hybrid, non-empty files only).
    ``symlink_path`` is the BEP 47 target, relative to the download folder like
    ``path`` (so it starts with ``name`` in a multi-file torrent, as libtorrent
    reports it).
    """

    path: tuple[str, ...]
    length: int
    offset: int
    attr: str = ""
    pieces_root: bytes | None = None
    symlink_path: tuple[str, ...] | None = None

    @property
    def end(self) -> int:
        """Offset one past the file's last byte in the piece space."""
        return self.offset + self.length

    @property
    def is_pad(self) -> bool:
        """A BEP 47 padding file: zeros that align the next file, never written to disk."""
        return "p" in self.attr

    @property
    def is_executable(self) -> bool:
        return "x" in self.attr

    @property
    def is_hidden(self) -> bool:
        return "h" in self.attr

    @property
    def is_symlink(self) -> bool:
        return "l" in self.attr


@dataclass(frozen=True, slots=True)
class Torrent:
    """A validated torrent. Build with ``parse_torrent`` or ``build_torrent``.

    Info dictionary fields: ``name``, ``files``, ``piece_length``, ``pieces``
    (the v1 SHA-1 hashes concatenated, empty for v2-only), ``meta_version``
    (2 for v2 and hybrid, else ``None``), ``private`` (BEP 27) and ``source``.
    ``info_hash_v1`` is the SHA-1 and ``info_hash_v2`` the SHA-256 of
    ``info_bytes``; each is ``None`` when the torrent lacks that version.

    Outside the info dictionary: ``piece_layers`` (BEP 52; pieces root to the
    concatenated 32-byte hashes of its piece layer, present for every file
    longer than one piece, or empty when built from bare metadata), ``trackers``
    in tiers (BEP 12), ``web_seeds`` (BEP 19), ``comment``, ``created_by``,
    ``creation_date`` (seconds since the epoch) and ``extra``: every other
    top-level key, kept as decoded so that nothing is lost on a re-save.
    """

    info_bytes: bytes = field(repr=False)
    name: str
    files: tuple[FileEntry, ...]
    piece_length: int
    pieces: bytes = field(repr=False)
    meta_version: int | None
    private: bool
    source: str | None
    info_hash_v1: bytes | None
    info_hash_v2: bytes | None
    piece_layers: Mapping[bytes, bytes] = field(default_factory=dict, hash=False, repr=False)
    trackers: tuple[tuple[str, ...], ...] = ()
    web_seeds: tuple[str, ...] = ()
    comment: str | None = None
    created_by: str | None = None
    creation_date: int | None = None
    extra: Mapping[bytes, Value] = field(default_factory=dict, hash=False)

    @property
    def version(self) -> Version:
        if self.info_hash_v2 is None:
            return "v1"
        return "v2" if self.info_hash_v1 is None else "hybrid"

    @property
    def info_hash(self) -> bytes:
        """The 20-byte id used on the wire and with trackers: v1, else truncated v2 (BEP 52)."""
        if self.info_hash_v1 is not None:
            return self.info_hash_v1
        assert self.info_hash_v2 is not None
        return self.info_hash_v2[:V1_HASH_SIZE]

    @property
    def is_multi_file(self) -> bool:
        """Whether the files live in a folder of their own (``name``) rather than alone."""
        return any(len(entry.path) > 1 for entry in self.files)

    @property
    def total_size(self) -> int:
        """Bytes of content, pad files excluded: what lands on disk."""
        return sum(entry.length for entry in self.files if not entry.is_pad)

    @property
    def stream_size(self) -> int:
        """Bytes of the piece space up to the end of the last file, padding included."""
        return max((entry.end for entry in self.files if entry.length), default=0)

    @property
    def piece_count(self) -> int:
        return -(-self.stream_size // self.piece_length)

    @property
    def last_piece_size(self) -> int:
        """Size of the final piece (0 for a torrent without content)."""
        size = self.stream_size
        return size - (self.piece_count - 1) * self.piece_length if size else 0

    def piece_hash_v1(self, index: int) -> bytes:
        """The SHA-1 of piece ``index`` (v1 and hybrid torrents)."""
        if not 0 <= index < len(self.pieces) // V1_HASH_SIZE:
            raise IndexError(f"piece {index} out of range")
        return self.pieces[index * V1_HASH_SIZE : (index + 1) * V1_HASH_SIZE]

    def piece_layer(self, entry: FileEntry) -> tuple[bytes, ...]:
        """The SHA-256 hashes of ``entry``'s pieces, in order (v2 and hybrid torrents).

        A file of at most one piece is verified against its ``pieces_root``
        itself, so that is its single hash; an empty file has none. Raises
        ``KeyError`` when the layer is not known (a torrent built from bare
        metadata, before the hashes were fetched from peers).
        """
        if entry.pieces_root is None:
            return ()
        if entry.length <= self.piece_length:
            return (entry.pieces_root,)
        layer = self.piece_layers[entry.pieces_root]
        return tuple(layer[i : i + V2_HASH_SIZE] for i in range(0, len(layer), V2_HASH_SIZE))

    def with_trackers(self, tiers: Iterable[Iterable[str]]) -> Torrent:
        """The same torrent (same info-hash) announcing to ``tiers`` (BEP 12); empty tiers drop."""
        clean = tuple(tier for tier in (tuple(url for url in t if url) for t in tiers) if tier)
        return dataclasses.replace(self, trackers=clean)

    def with_web_seeds(self, urls: Iterable[str]) -> Torrent:
        """The same torrent (same info-hash) with these BEP 19 web seeds."""
        return dataclasses.replace(self, web_seeds=tuple(url for url in urls if url))

    def with_comment(self, comment: str | None) -> Torrent:
        return dataclasses.replace(self, comment=comment)

    def with_created_by(self, created_by: str | None) -> Torrent:
        return dataclasses.replace(self, created_by=created_by)

    def with_creation_date(self, creation_date: int | None) -> Torrent:
        return dataclasses.replace(self, creation_date=creation_date)

    def outer_fields(self) -> dict[bytes, Value]:
        """Every top-level key except ``info``, as it will be written."""
        fields: dict[bytes, Value] = dict(self.extra)
        if self.trackers:
            fields[b"announce"] = self.trackers[0][0].encode()
            if sum(len(tier) for tier in self.trackers) > 1:
                fields[b"announce-list"] = [[url.encode() for url in t] for t in self.trackers]
        if len(self.web_seeds) == 1:
            fields[b"url-list"] = self.web_seeds[0].encode()
        elif self.web_seeds:
            fields[b"url-list"] = [url.encode() for url in self.web_seeds]
        if self.comment is not None:
            fields[b"comment"] = self.comment.encode()
        if self.created_by is not None:
            fields[b"created by"] = self.created_by.encode()
        if self.creation_date is not None:
            fields[b"creation date"] = self.creation_date
        if self.meta_version is not None:  # BEP 52: present even when empty
            fields[b"piece layers"] = dict(self.piece_layers)
        return fields

    def to_bytes(self) -> bytes:
        """The ``.torrent`` file: canonical bencode around the original info bytes."""
        parts = {key: encode(value) for key, value in self.outer_fields().items()}
        parts[b"info"] = self.info_bytes
        return b"d" + b"".join(encode(key) + parts[key] for key in sorted(parts)) + b"e"
