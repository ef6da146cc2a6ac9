"""The 68-byte peer handshake (BEP 3), with the reserved bits of BEP 5, 6 and 10.

    <19><"BitTorrent protocol"><8 reserved bytes><20-byte info hash><20-byte peer id>

The reserved bytes are read as one 64-bit big-endian integer; the extensions
this implementation knows are named in :class:`Extensions` (BEP 10's "bit 20
from the right" is ``1 << 20``), and unknown bits are kept as received so a
caller can log them. Whether the info hash is the one wanted, or the peer id
the one expected, is the connection's decision, not the parser's:
:func:`parse_handshake` only checks the format.

An accepting side that serves many torrents must see the info hash before it
knows which torrent the connection belongs to; :func:`peek_info_hash` gives it
after the first 48 bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntFlag

from bitswarm.core.wire.errors import ProtocolError

PROTOCOL = b"BitTorrent protocol"
HANDSHAKE_SIZE = 1 + len(PROTOCOL) + 8 + 20 + 20
"""68 bytes."""

_PREFIX = bytes((len(PROTOCOL),)) + PROTOCOL
_LAYOUT = struct.Struct(f">B{len(PROTOCOL)}sQ20s20s")
_INFO_HASH_END = 1 + len(PROTOCOL) + 8 + 20


class Extensions(IntFlag):
    """Reserved bits, as a 64-bit integer read big-endian from the 8 reserved bytes."""

    NONE = 0
    DHT = 1 << 0  # BEP 5: reserved[7] & 0x01
    FAST = 1 << 2  # BEP 6: reserved[7] & 0x04
    EXTENSION_PROTOCOL = 1 << 20  # BEP 10: reserved[5] & 0x10


_KNOWN = Extensions.DHT | Extensions.FAST | Extensions.EXTENSION_PROTOCOL


@dataclass(frozen=True, slots=True)
class Handshake:
    """A peer's handshake: which torrent, which peer, which extensions."""

    info_hash: bytes
    peer_id: bytes
    reserved: int = 0
    """All 64 reserved bits, unknown ones included; see :attr:`extensions`."""

    def __post_init__(self) -> None:
        for name, value in (("info hash", self.info_hash), ("peer id", self.peer_id)):
            if len(value) != 20:
                raise ValueError(f"handshake {name} must be 20 bytes, got {len(value)}")
        if not 0 <= self.reserved < 1 << 64:
            raise ValueError(f"handshake reserved bits must fit 64 bits, got {self.reserved:#x}")

    @property
    def extensions(self) -> Extensions:
        """The known extension bits that are set (unknown ones dropped)."""

        return Extensions(self.reserved & _KNOWN)

    def supports(self, flag: Extensions) -> bool:
        return bool(self.reserved & flag)

    def encode(self) -> bytes:
        return _LAYOUT.pack(len(PROTOCOL), PROTOCOL, self.reserved, self.info_hash, self.peer_id)


def _check_protocol(data: bytes | bytearray) -> None:
    """Check the protocol name as far as ``data`` reaches; it may be a partial handshake."""

    present = bytes(data[: len(_PREFIX)])
    if _PREFIX.startswith(present):
        return
    if present[0] != len(PROTOCOL):
        raise ProtocolError(
            f"handshake: protocol name length is {present[0]} at byte 0, expected {len(PROTOCOL)}"
        )
    offset = next(i for i, (a, b) in enumerate(zip(present, _PREFIX, strict=False)) if a != b)
    raise ProtocolError(
        f"handshake: protocol name differs at byte {offset}: "
        f"got {present[1:]!r}, expected {PROTOCOL!r}"
    )


def parse_handshake(data: bytes | bytearray) -> Handshake:
    """Parse exactly :data:`HANDSHAKE_SIZE` bytes into a :class:`Handshake`."""

    if len(data) != HANDSHAKE_SIZE:
        raise ProtocolError(f"handshake is {len(data)} bytes, expected {HANDSHAKE_SIZE}")
    _check_protocol(data)
    _, _, reserved, info_hash, peer_id = _LAYOUT.unpack(data)
    return Handshake(info_hash, peer_id, reserved)


def peek_info_hash(data: bytes | bytearray) -> bytes | None:
    """The info hash from the start of a handshake, or ``None`` until 48 bytes are in.

    The protocol name is checked as soon as its bytes are present, so a
    stranger speaking another protocol is refused after one read.
    """

    _check_protocol(data)
    if len(data) < _INFO_HASH_END:
        return None
    return bytes(data[_INFO_HASH_END - 20 : _INFO_HASH_END])
