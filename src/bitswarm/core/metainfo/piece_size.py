"""Choosing a torrent's piece length (BEP 3, with BEP 52's v2 constraints).

The piece length trades the size of the ``.torrent`` against the granularity
of transfer and verification. bitswarm follows libtorrent's rule (its
``create_torrent``), so that a torrent made here and one made there from the same
data agree: aim for a piece list of about ``2 * sqrt(total)`` bytes of 20-byte
SHA-1 hashes, i.e. about ``sqrt(total) / 10`` pieces, and take the smallest power
of two from 16 KiB up that gets there, at most 16 MiB. For 1 GiB that is 512 KiB
(2,048 pieces), for 4 GiB 1 MiB (4,096 pieces). mktorrent 1.1 instead fixes
256 KiB unless told otherwise; Transmission 3 picks from a table of sizes
(32 KiB under 50 MiB ... 2 MiB from 2 GiB), which lands within a factor of two of
this rule.

BEP 52 requires a v2 (or hybrid) piece length to be a power of two of at least
16 KiB; a v1 piece length may be any positive size, though anything but a
multiple of 16 KiB is refused here because peers request 16 KiB blocks.
"""

from __future__ import annotations

from bitswarm.core.metainfo.merkle import BLOCK_SIZE

MIN_PIECE_LENGTH = BLOCK_SIZE
"""16 KiB: the smallest piece length chosen, and the smallest v2 allows."""

MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024
"""The largest piece length chosen automatically."""

MAX_PIECE_LENGTH = 128 * 1024 * 1024
"""The largest piece length accepted at all; many clients refuse larger ones."""


def auto_piece_length(total_size: int) -> int:
    """libtorrent's choice of piece length for ``total_size`` bytes of content.

    A piece length ``p`` is large enough once ``total_size <= (p / 10) ** 2``
    (rounded to the nearest integer, as libtorrent's precomputed table is).
    """
    if total_size < 0:
        raise ValueError(f"negative total size {total_size}")
    length = MIN_PIECE_LENGTH
    while length < MAX_AUTO_PIECE_LENGTH and total_size > (length * length + 50) // 100:
        length *= 2
    return length


def check_piece_length(piece_length: int, *, v2: bool) -> None:
    """Raise ``ValueError`` saying why ``piece_length`` cannot be used."""
    if piece_length < MIN_PIECE_LENGTH or piece_length > MAX_PIECE_LENGTH:
        raise ValueError(
            f"piece length {piece_length} is outside {MIN_PIECE_LENGTH}..{MAX_PIECE_LENGTH}"
        )
    if v2 and piece_length & (piece_length - 1):
        raise ValueError(f"a v2 or hybrid piece length must be a power of two, not {piece_length}")
    if piece_length % BLOCK_SIZE:
        raise ValueError(f"piece length {piece_length} is not a multiple of {BLOCK_SIZE}")
