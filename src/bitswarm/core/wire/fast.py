"""The BEP 6 allowed-fast set: the pieces a choked newcomer may still request.

BEP 6 fixes the algorithm so that the set depends only on the receiver's
address (its /24 for IPv4, so one user with many addresses in a network gets
one set) and the torrent, and so that a set of ``k + 1`` pieces extends the
set of ``k``: hash ``(ip & 0xFFFFFF00) || info_hash`` with SHA-1 repeatedly,
read each digest as five big-endian 32-bit numbers, and take each modulo the
piece count until ``k`` distinct pieces are collected.

BEP 6 has no provision for IPv6. Only the sender of ``allowed fast``
messages computes the set (the receiver just reads them), so any fixed rule
interoperates; this module keeps the first 48 bits of an IPv6 address (a
site's /48, the analogue of the /24) and zeroes the rest.
"""

from __future__ import annotations

import hashlib
import ipaddress

ALLOWED_FAST_COUNT = 10
"""BEP 6's ``k``: "we currently set k to 10"."""


def allowed_fast_set(
    address: str, info_hash: bytes, piece_count: int, count: int = ALLOWED_FAST_COUNT
) -> list[int]:
    """The first ``count`` allowed-fast pieces for the peer at ``address``, in BEP 6 order."""

    if len(info_hash) != 20:
        raise ValueError(f"info hash must be 20 bytes, got {len(info_hash)}")
    if piece_count <= 0:
        raise ValueError(f"piece count must be positive, got {piece_count}")
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    packed = ip.packed
    prefix = packed[:3] + b"\x00" if ip.version == 4 else packed[:6] + bytes(10)
    count = min(count, piece_count)
    pieces: list[int] = []
    digest = prefix + info_hash
    while len(pieces) < count:
        digest = hashlib.sha1(digest).digest()
        for offset in range(0, 20, 4):
            index = int.from_bytes(digest[offset : offset + 4], "big") % piece_count
            if index not in pieces:
                pieces.append(index)
                if len(pieces) == count:
                    break
    return pieces
