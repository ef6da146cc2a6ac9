"""The 68-byte handshake: layout, named reserved bits, precise refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.handshake import (
    HANDSHAKE_SIZE,
    Extensions,
    Handshake,
    parse_handshake,
    peek_info_hash,
)

INFO_HASH = bytes(range(20))
PEER_ID = b"-BS0100-abcdefghijkl"


def test_layout_and_reserved_bits_match_the_beps() -> None:
    flags = Extensions.FAST | Extensions.EXTENSION_PROTOCOL | Extensions.DHT
    wire = Handshake(INFO_HASH, PEER_ID, flags).encode()
    assert len(wire) == HANDSHAKE_SIZE == 68
    assert wire[:20] == b"\x13BitTorrent protocol"
    reserved = wire[20:28]
    assert reserved[5] == 0x10  # BEP 10
    assert reserved[7] == 0x04 | 0x01  # BEP 6 fast, BEP 5 DHT
    assert wire[28:48] == INFO_HASH and wire[48:] == PEER_ID


@given(
    st.binary(min_size=20, max_size=20),
    st.binary(min_size=20, max_size=20),
    st.integers(0, 2**64 - 1),
)
def test_round_trip_keeps_unknown_bits(info_hash: bytes, peer_id: bytes, reserved: int) -> None:
    parsed = parse_handshake(Handshake(info_hash, peer_id, reserved).encode())
    assert parsed == Handshake(info_hash, peer_id, reserved)
    assert parsed.supports(Extensions.FAST) == bool(reserved & 4)
    assert (
        parsed.extensions & ~(Extensions.FAST | Extensions.DHT | Extensions.EXTENSION_PROTOCOL) == 0
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x13BitTorrent protocol" + bytes(47), "handshake is 67 bytes, expected 68"),
        (
            b"\x12BitTorrent protocol" + bytes(48),
            "protocol name length is 18 at byte 0, expected 19",
        ),
        (b"\x13BitTorrent protocoX" + bytes(48), "protocol name differs at byte 19"),
        (b"\x13HTTP/1.1 200 OK\r\n\r\n" + bytes(48), "protocol name differs at byte 1"),
    ],
)
def test_malformed_handshake_is_refused_with_a_position(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        parse_handshake(data)


def test_peek_info_hash_waits_for_48_bytes_and_refuses_strangers_early() -> None:
    wire = Handshake(INFO_HASH, PEER_ID).encode()
    assert peek_info_hash(wire[:47]) is None
    assert peek_info_hash(wire[:48]) == INFO_HASH
    with pytest.raises(ProtocolError, match="differs at byte 1"):
        peek_info_hash(b"\x13GET")


def test_fields_must_have_their_sizes() -> None:
    with pytest.raises(ValueError, match="peer id must be 20 bytes, got 3"):
        Handshake(INFO_HASH, b"abc")
    with pytest.raises(ValueError, match="reserved bits must fit 64 bits"):
        Handshake(INFO_HASH, PEER_ID, 1 << 64)
