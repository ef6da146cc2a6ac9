"""The v1 file list of an info dictionary: ``length`` or ``files`` (BEP 3, 47).

A single-file torrent has ``length`` and its file is called ``name``; a
multi-file torrent has a ``files`` list whose ``path`` lists live in a folder
called ``name``. Files follow each other in one byte stream that the SHA-1
``pieces`` cut into equal pieces, so each file's offset is the sum of the
lengths before it. BEP 47 adds ``attr`` letters (``p`` marks a padding file that
aligns the next file) and ``symlink path`` for ``l`` entries, whose length is
zero and may be left out. Two files may not share a path (pad files, never
written, may).
"""

from __future__ import annotations

from functools import partial

from bitswarm.core.metainfo.errors import TorrentError
from bitswarm.core.metainfo.fields import Fields, as_text_list, key_path, utf8_variant
from bitswarm.core.metainfo.model import V1_HASH_SIZE, FileEntry
from bitswarm.core.metainfo.paths import check_distinct, check_path

FileProperties = tuple[int, str, tuple[str, ...] | None]
"""``(length, attr, symlink_path)`` of one file entry."""


def file_properties(entry: Fields) -> FileProperties:
    """Length, BEP 47 attributes and symlink target of a file dictionary."""
    attr = entry.opt_text(b"attr") or ""
    symlink = None
    if "l" in attr:
        where = entry.lazy_at(b"symlink path")
        symlink = check_path(as_text_list(entry.get(b"symlink path"), where), where)
    length = entry.opt_int(b"length", minimum=0)
    if length is None:
        if symlink is None:
            raise TorrentError(entry.at(b"length"), "missing")
        length = 0
    elif symlink is not None and length:
        raise TorrentError(entry.at(b"length"), f"a symlink has length 0, not {length}")
    return length, attr, symlink


def parse_v1_files(info: Fields, name: str) -> tuple[FileEntry, ...]:
    """The files of a v1 or hybrid info dictionary, with their stream offsets."""
    if b"files" not in info.data:
        if b"length" not in info.data:
            raise TorrentError(info.where, "neither 'length' nor 'files' (v1 needs one)")
        length, attr, symlink = file_properties(info)
        return (FileEntry((name,), length, 0, attr, None, symlink),)
    if b"length" in info.data:
        raise TorrentError(info.where, "both 'length' and 'files'; a torrent has one or the other")
    listed = info.sequence(b"files")
    if not listed:
        raise TorrentError(info.at(b"files"), "empty list")
    entries = []
    offset = 0
    listed_at = info.at(b"files")
    for i, item in enumerate(listed):
        entry = Fields(item, partial(key_path, listed_at, i))
        key = utf8_variant(entry, b"path")
        where = entry.lazy_at(key)
        path = check_path(as_text_list(entry.get(key), where), where)
        length, attr, symlink = file_properties(entry)
        if symlink is not None:
            symlink = (name, *symlink)
        entries.append(FileEntry((name, *path), length, offset, attr, None, symlink))
        offset += length
    check_distinct(
        (partial(key_path, listed_at, i), entry.path)
        for i, entry in enumerate(entries)
        if not entry.is_pad
    )
    return tuple(entries)


def check_v1_pieces(info: Fields, files: tuple[FileEntry, ...], piece_length: int) -> bytes:
    """The ``pieces`` string, checked to hold one SHA-1 per piece of the stream."""
    pieces = info.byte_string(b"pieces")
    if len(pieces) % V1_HASH_SIZE:
        raise TorrentError(
            info.at(b"pieces"), f"length {len(pieces)} is not a multiple of {V1_HASH_SIZE}"
        )
    stream = files[-1].end
    expected = -(-stream // piece_length)
    if len(pieces) // V1_HASH_SIZE != expected:
        raise TorrentError(
            info.at(b"pieces"),
            f"{len(pieces) // V1_HASH_SIZE} hashes, but {stream} bytes in pieces of "
            f"{piece_length} make {expected}",
        )
    return pieces
