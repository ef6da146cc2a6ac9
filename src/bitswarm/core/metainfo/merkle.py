"""Per-file SHA-256 merkle trees of BitTorrent v2 (BEP 52).

Every non-empty file of a v2 torrent is cut into 16 KiB blocks; the SHA-256 of
each block is a leaf of a binary tree whose root, the file's ``pieces root``,
is stored in the info dictionary. The tree is as wide as the next power of two
of the block count; the missing leaves are 32 zero bytes (not the hash of
anything), so the pad of a subtree of height ``h`` is the root of ``2**h`` zero
leaves.

Theory of operation
-------------------
Hashing is done one piece at a time, because that is the unit in which data is
read, fetched from peers and verified: :func:`piece_root` turns the bytes of one
piece of one file into the root of that piece's subtree. The subtree of a piece
spans ``piece_length // 16 KiB`` leaves, except in a file no larger than one
piece, whose whole tree is only as wide as its own block count rounded up to a
power of two (:func:`piece_width`). Those piece roots, in order, are the file's
*piece layer*; :func:`file_root` folds them into the ``pieces root``, padding
the layer with the pad of a piece-high zero subtree. BEP 52 stores the layer in
the torrent's ``piece layers`` only for files larger than one piece; for the
others the single piece root *is* the ``pieces root``.

Everything here hashes the bytes it is handed; reading them is storage's job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache

BLOCK_SIZE = 16 * 1024
"""The leaf size of every v2 merkle tree, and the smallest v2 piece length."""

HASH_SIZE = 32
"""Bytes in a SHA-256 digest."""

ZERO_LEAF = bytes(HASH_SIZE)
"""The value of a leaf beyond the end of a file."""


class MerkleError(ValueError):
    """Hashes that cannot form the tree asked for (a wrong count or size)."""


def _sha256(data: bytes | memoryview) -> bytes:
    return hashlib.sha256(data).digest()


@cache
def pad_hash(height: int) -> bytes:
    """Root of a subtree of ``2**height`` zero leaves (``height`` 0 is a zero leaf)."""
    if height < 0:
        raise MerkleError(f"negative subtree height {height}")
    if height == 0:
        return ZERO_LEAF
    below = pad_hash(height - 1)
    return _sha256(below + below)


def next_power_of_two(n: int) -> int:
    """Smallest power of two that is at least ``n`` (1 for ``n`` <= 1)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def block_count(length: int) -> int:
    """Number of 16 KiB leaves that hold ``length`` bytes."""
    return -(-length // BLOCK_SIZE)


def merkle_root(hashes: Sequence[bytes], width: int, pad: bytes = ZERO_LEAF) -> bytes:
    """Root of a tree whose bottom layer is ``hashes`` followed by ``pad`` up to ``width``.

    ``width`` must be a power of two no smaller than ``len(hashes)``; ``pad`` is
    the value of the missing nodes of that layer (a zero leaf at the leaf layer,
    :func:`pad_hash` of the layer's height above it). Pads higher up are the hash
    of two pads, so a mostly empty tree costs only its real nodes.
    """
    if width < 1 or width & (width - 1):
        raise MerkleError(f"tree width {width} is not a power of two")
    if len(hashes) > width:
        raise MerkleError(f"{len(hashes)} hashes do not fit a tree {width} wide")
    layer = list(hashes)
    while width > 1:
        if len(layer) % 2:
            layer.append(pad)
        layer = [_sha256(layer[i] + layer[i + 1]) for i in range(0, len(layer), 2)]
        pad = _sha256(pad + pad)
        width //= 2
    return layer[0] if layer else pad


def piece_width(file_length: int, piece_length: int) -> int:
    """Leaves under one piece's subtree for a file of ``file_length`` bytes.

    A file larger than a piece has piece-sized subtrees; a smaller one has a
    single subtree as wide as its own block count rounded up to a power of two.
    """
    per_piece = piece_length // BLOCK_SIZE
    if file_length > piece_length:
        return per_piece
    return next_power_of_two(block_count(file_length))


def piece_root(data: bytes | memoryview, width: int) -> bytes:
    """Root of the subtree over the 16 KiB blocks of ``data``, zero-padded to ``width`` leaves."""
    view = memoryview(data)
    leaves = [_sha256(view[i : i + BLOCK_SIZE]) for i in range(0, len(view), BLOCK_SIZE)]
    return merkle_root(leaves, width)


def file_root(layer: Sequence[bytes], file_length: int, piece_length: int) -> bytes:
    """The ``pieces root`` of a file, from its piece layer (the root of each piece, in order)."""
    pieces = file_piece_count(file_length, piece_length)
    if len(layer) != pieces:
        raise MerkleError(
            f"a file of {file_length} bytes has {pieces} pieces of {piece_length}, "
            f"got {len(layer)} piece hashes"
        )
    if pieces == 1:
        return layer[0]
    height = (piece_length // BLOCK_SIZE).bit_length() - 1
    return merkle_root(layer, next_power_of_two(pieces), pad_hash(height))


def file_piece_count(file_length: int, piece_length: int) -> int:
    """Pieces a file of ``file_length`` bytes occupies when it starts on a piece boundary."""
    if file_length < 0:
        raise MerkleError(f"negative file length {file_length}")
    return -(-file_length // piece_length)


def split_layer(layer: bytes) -> list[bytes]:
    """The 32-byte hashes of a ``piece layers`` value."""
    if len(layer) % HASH_SIZE:
        raise MerkleError(f"piece layer of {len(layer)} bytes is not a multiple of {HASH_SIZE}")
    return [layer[i : i + HASH_SIZE] for i in range(0, len(layer), HASH_SIZE)]
