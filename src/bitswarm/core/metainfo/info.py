"""The info dictionary: v1 (BEP 3), v2 (BEP 52) or both at once (hybrid).

``meta version`` is read first, as BEP 52 asks, so a torrent from a future
revision is reported as such rather than as a pile of odd fields. A v1 part
(``pieces`` with ``length`` or ``files``) and a v2 part (``file tree``) may both
be present: a hybrid torrent, which v1 and v2 peers can share only if both
parts describe the same files. So the v1 list, with its BEP 47 pad files
skipped, must name the same files with the same lengths in the tree's order,
and the pad files must put each non-empty file exactly where v2 puts it, on a
piece boundary.
"""

from __future__ import annotations

import dataclasses
import hashlib

from bitswarm.core.bencode import Value
from bitswarm.core.metainfo.errors import TorrentError
from bitswarm.core.metainfo.fields import Fields, utf8_variant
from bitswarm.core.metainfo.files_v1 import check_v1_pieces, parse_v1_files
from bitswarm.core.metainfo.files_v2 import check_v2_piece_length, parse_file_tree
from bitswarm.core.metainfo.model import FileEntry, Torrent
from bitswarm.core.metainfo.paths import check_component

SUPPORTED_META_VERSION = 2


def parse_info(value: Value, info_bytes: bytes) -> Torrent:
    """The torrent an info dictionary describes, as bare metadata (no trackers, no layers).

    ``value`` is the decoded dictionary and ``info_bytes`` its exact encoding,
    which the info-hashes cover. Raises :class:`TorrentError` naming the field.
    """
    info = Fields(value, "info")
    meta_version = info.opt_int(b"meta version")
    if meta_version is not None and meta_version != SUPPORTED_META_VERSION:
        raise TorrentError(
            info.at(b"meta version"),
            f"version {meta_version} is not supported (only {SUPPORTED_META_VERSION})",
        )
    name_key = utf8_variant(info, b"name")
    name = check_component(info.text(name_key), info.lazy_at(name_key))
    piece_length = info.integer(b"piece length", minimum=1)
    private = info.opt_int(b"private")
    if private not in (None, 0, 1):
        raise TorrentError(info.at(b"private"), f"must be 0 or 1, not {private}")
    source = info.opt_text(b"source")

    v1_present = meta_version is None or b"pieces" in info.data
    if meta_version is None:
        if b"file tree" in info.data:
            raise TorrentError(info.at(b"file tree"), "present without 'meta version' 2")
        files = parse_v1_files(info, name)
        pieces = check_v1_pieces(info, files, piece_length)
    else:
        check_v2_piece_length(info, piece_length)
        in_folder = v1_present and b"files" in info.data
        files = parse_file_tree(info, name, piece_length, in_folder=in_folder)
        pieces = b""
        if v1_present:  # hybrid
            v1_files = parse_v1_files(info, name)
            pieces = check_v1_pieces(info, v1_files, piece_length)
            files = merge_hybrid(v1_files, files, piece_length)
    return Torrent(
        info_bytes=info_bytes,
        name=name,
        files=files,
        piece_length=piece_length,
        pieces=pieces,
        meta_version=meta_version,
        private=bool(private),
        source=source,
        info_hash_v1=hashlib.sha1(info_bytes).digest() if v1_present else None,
        info_hash_v2=hashlib.sha256(info_bytes).digest() if meta_version else None,
    )


def merge_hybrid(
    v1: tuple[FileEntry, ...], v2: tuple[FileEntry, ...], piece_length: int
) -> tuple[FileEntry, ...]:
    """The v1 list (pad files included) told with the tree's entries, once both agree.

    Where the two disagree on BEP 47 attributes, the tree wins, as in libtorrent.
    """
    real = [entry for entry in v1 if not entry.is_pad]
    if len(real) != len(v2):
        raise TorrentError(
            "info.files", f"{len(real)} files besides padding, but the file tree has {len(v2)}"
        )
    merged = []
    tree = iter(v2)
    for i, entry in enumerate(v1):
        if entry.is_pad:
            merged.append(entry)
            continue
        twin = next(tree)
        where = f"info.files[{i}]" if len(v1) > 1 or len(entry.path) > 1 else "info"
        if (entry.path, entry.length) != (twin.path, twin.length):
            raise TorrentError(
                where,
                f"{'/'.join(entry.path)} ({entry.length} bytes) differs from the file tree's "
                f"{'/'.join(twin.path)} ({twin.length} bytes)",
            )
        if entry.length and entry.offset != twin.offset:
            raise TorrentError(
                where,
                f"starts at byte {entry.offset} of the v1 stream, not on its piece boundary "
                f"{twin.offset}: pad files must align each file (BEP 47)",
            )
        merged.append(dataclasses.replace(twin, offset=entry.offset))
    v1_pieces = -(-v1[-1].end // piece_length)
    v2_pieces = -(-v2[-1].end // piece_length)
    if v1_pieces != v2_pieces:
        raise TorrentError(
            "info.files", f"padding makes {v1_pieces} v1 pieces, but the file tree has {v2_pieces}"
        )
    return tuple(merged)
