"""Piece hashes of v1 (BEP 3) and v2 (BEP 52) torrents, from bytes in memory.

A v1 torrent hashes the concatenation of all its files (BEP 47 pad files read as
zeros) in ``piece length`` slices with SHA-1; a slice may span files. A v2
torrent aligns every file to a piece boundary and hashes each file on its own: a
piece's hash is the root of its SHA-256 merkle subtree (see
:mod:`bitswarm.core.metainfo.merkle`). A hybrid torrent (BEP 52, "upgrade path")
carries both, over the same piece-aligned layout.

Both functions take a run of whole pieces (the last one may be short) so the
caller can hand over a large read in one call; hashlib releases the GIL on such
buffers, which lets storage hash on several threads at once.
"""

from __future__ import annotations

import hashlib

from bitswarm.core.metainfo.merkle import piece_root, piece_width


def v1_piece_hashes(data: bytes | bytearray | memoryview, piece_length: int) -> list[bytes]:
    """SHA-1 of each ``piece_length`` slice of ``data`` (the last slice may be shorter)."""
    view = memoryview(data)
    return [
        hashlib.sha1(view[i : i + piece_length]).digest() for i in range(0, len(view), piece_length)
    ]


def v2_piece_hashes(
    data: bytes | bytearray | memoryview, piece_length: int, file_length: int
) -> list[bytes]:
    """Merkle subtree root of each piece in ``data``, a piece-aligned run of one file's bytes.

    ``file_length`` is the length of the whole file, which decides how wide a
    piece's subtree is (a file no larger than a piece has a narrower tree).
    """
    view = memoryview(data)
    width = piece_width(file_length, piece_length)
    return [
        piece_root(view[i : i + piece_length], width) for i in range(0, len(view), piece_length)
    ]
