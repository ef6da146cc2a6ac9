"""Compact peer addresses: 4-byte IPv4 or 16-byte IPv6, then a 2-byte port (BEP 23, 7).

The tracker stores, compares and sends peers in this packed form only; the
text form is for people and for non-compact replies. Packing the address once
when a request arrives keeps every later step a bytes operation.
"""

from __future__ import annotations

import functools
import ipaddress

from bitswarm.core.tracker.errors import TrackerMessageError

V4_SIZE = 6
"""Bytes of one compact IPv4 peer: address then port, network byte order."""

V6_SIZE = 18
"""Bytes of one compact IPv6 peer."""

PACKED_IPS_CACHED = 4096
"""Recent host texts whose packed form is kept, so parsing them is skipped."""

Address = tuple[str, int]
"""A peer as people write it: host text and port."""


def pack_address(host: str, port: int) -> bytes:
    """Pack an IP address and port; an IPv4-mapped IPv6 address packs as IPv4."""
    if not 0 <= port <= 0xFFFF:
        raise TrackerMessageError(f"port {port} is outside 0..65535", "address")
    return packed_ip(host) + port.to_bytes(2, "big")


@functools.lru_cache(maxsize=PACKED_IPS_CACHED)
def packed_ip(host: str) -> bytes:
    """The 4 or 16 bytes of ``host`` (an IPv4-mapped IPv6 address as IPv4); remembered, as a
    client announces from one address."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        raise TrackerMessageError(f"{host!r} is not an IP address", "address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.packed


def unpack_address(entry: bytes) -> Address:
    """The host text and port of one 6- or 18-byte compact entry."""
    if len(entry) not in (V4_SIZE, V6_SIZE):
        raise TrackerMessageError(f"compact peer of {len(entry)} bytes, not 6 or 18", "address")
    return str(ipaddress.ip_address(entry[:-2])), int.from_bytes(entry[-2:], "big")


def split_peers(blob: bytes, stride: int) -> list[bytes]:
    """Cut a compact peer string into entries of ``stride`` (6 or 18) bytes."""
    if stride not in (V4_SIZE, V6_SIZE):
        raise ValueError(f"stride must be 6 or 18, not {stride}")
    if len(blob) % stride:
        raise TrackerMessageError(
            f"compact peers of {len(blob)} bytes are not a multiple of {stride}", "peers"
        )
    return [blob[i : i + stride] for i in range(0, len(blob), stride)]


def unpack_peers(blob: bytes, stride: int) -> list[Address]:
    """Host text and port of every entry of a compact peer string."""
    return [unpack_address(entry) for entry in split_peers(blob, stride)]


def is_ipv6(entry: bytes) -> bool:
    """Whether a compact entry holds an IPv6 address."""
    return len(entry) == V6_SIZE
