"""BEP 15/41 packet codec: round trips, exact layouts, precise errors, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.tracker.errors import UdpPacketError
from bitswarm.core.tracker.model import Event, SwarmCounts
from bitswarm.core.tracker.udp import (
    ANNOUNCE_SIZE,
    PROTOCOL_ID,
    AnnounceRequest,
    AnnounceResponse,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    ScrapeRequest,
    ScrapeResponse,
    decode_request,
    decode_response,
)

HASH = bytes(range(20))
PEER = b"-BS0001-abcdefghijkl"


def announce(**changes: object) -> AnnounceRequest:
    fields: dict[str, object] = dict(
        connection_id=0x1122334455667788, transaction_id=42, info_hash=HASH, peer_id=PEER,
        downloaded=1, left=2, uploaded=3, event=Event.STARTED, ip=0, key=99, num_want=-1,
        port=6881,
    )  # fmt: skip
    fields.update(changes)
    return AnnounceRequest(**fields)  # type: ignore[arg-type]


def test_connect_request_layout_is_bep15() -> None:
    packet = ConnectRequest(0xDEADBEEF).encode()
    assert packet == struct.pack(">QII", PROTOCOL_ID, 0, 0xDEADBEEF)
    assert decode_request(packet) == ConnectRequest(0xDEADBEEF)


def test_announce_request_layout_and_round_trip() -> None:
    request = announce()
    packet = request.encode()
    assert len(packet) == ANNOUNCE_SIZE == 98
    assert packet[16:36] == HASH and packet[36:56] == PEER
    assert packet[96:98] == (6881).to_bytes(2, "big")
    assert struct.unpack_from(">i", packet, 92) == (-1,)
    assert decode_request(packet) == request


def test_long_url_data_is_chunked_and_joined() -> None:
    request = announce(url_data=b"/announce?passkey=" + b"x" * 600)
    packet = request.encode()
    assert packet[98] == 2 and packet[99] == 255
    assert decode_request(packet).url_data == request.url_data  # type: ignore[union-attr]


def test_bep41_example_with_nops_and_end_of_options() -> None:
    options = bytes([2, 12]) + b"/dir?a=b&c=d" + bytes([1, 1, 0]) + b"ignored after end"
    decoded = decode_request(announce().encode() + options)
    assert isinstance(decoded, AnnounceRequest)
    assert decoded.url_data == b"/dir?a=b&c=d"


def test_unknown_option_is_skipped_by_its_length() -> None:
    options = bytes([9, 3]) + b"abc" + bytes([2, 2]) + b"/a"
    assert decode_request(announce().encode() + options).url_data == b"/a"  # type: ignore[union-attr]


def test_option_running_past_the_end_names_its_offset() -> None:
    with pytest.raises(UdpPacketError) as caught:
        decode_request(announce().encode() + bytes([2, 10]) + b"abc")
    assert caught.value.offset == 98
    assert "past the end" in str(caught.value)


def test_option_without_length_byte() -> None:
    with pytest.raises(UdpPacketError, match="no length byte"):
        decode_request(announce().encode() + bytes([2]))


def test_scrape_request_round_trip() -> None:
    request = ScrapeRequest(7, 8, (HASH, bytes(20), b"\xff" * 20))
    assert decode_request(request.encode()) == request


@pytest.mark.parametrize(
    ("packet", "offset", "words"),
    [
        (b"\x00" * 15, 15, "shorter than 16"),
        (struct.pack(">QII", 1234, 0, 1), 0, "protocol id"),
        (struct.pack(">QII", PROTOCOL_ID, 0, 1) + b"x", 16, "not 16"),
        (struct.pack(">QII", 1, 9, 1), 8, "unknown request action 9"),
        (struct.pack(">QII", 1, 1, 1) + bytes(81), 97, "shorter than 98"),
        (struct.pack(">QII", 1, 2, 1), 16, "not a positive multiple of 20"),
        (struct.pack(">QII", 1, 2, 1) + bytes(30), 36, "not a positive multiple of 20"),
        (struct.pack(">QII", 1, 2, 1) + bytes(20 * 75), 16 + 74 * 20, "more than 74"),
    ],
)
def test_malformed_requests_say_what_and_where(packet: bytes, offset: int, words: str) -> None:
    with pytest.raises(UdpPacketError, match=words) as caught:
        decode_request(packet)
    assert caught.value.offset == offset


def test_unknown_event_is_refused_at_its_offset() -> None:
    packet = bytearray(announce().encode())
    packet[80:84] = (4).to_bytes(4, "big")
    with pytest.raises(UdpPacketError, match="event 4") as caught:
        decode_request(bytes(packet))
    assert caught.value.offset == 80


def test_encoders_refuse_wrong_sizes() -> None:
    with pytest.raises(ValueError, match="info_hash must be 20 bytes, not 19"):
        announce(info_hash=bytes(19))
    with pytest.raises(ValueError, match="peer_id must be 20 bytes"):
        announce(peer_id=b"short")
    with pytest.raises(ValueError, match="1 to 74"):
        ScrapeRequest(1, 2, ())


def test_responses_round_trip_v4_and_v6() -> None:
    v4 = AnnounceResponse(1, 1800, 3, 4, bytes([127, 0, 0, 1, 0x1A, 0xE1]))
    assert decode_response(v4.encode()) == v4
    assert v4.addresses() == [("127.0.0.1", 6881)]
    v6 = AnnounceResponse(1, 1800, 3, 4, bytes(15) + b"\x01" + b"\x00\x50", ipv6=True)
    assert decode_response(v6.encode(), ipv6=True) == v6
    assert v6.addresses() == [("::1", 80)]
    counts = (SwarmCounts(1, 2, 3), SwarmCounts(0, 0, 0))
    scrape = ScrapeResponse(5, counts)
    assert scrape.encode()[8:20] == struct.pack(">III", 1, 3, 2)  # seeders, completed, leechers
    assert decode_response(scrape.encode()) == scrape
    assert decode_response(ConnectResponse(3, 77).encode()) == ConnectResponse(3, 77)
    assert decode_response(ErrorResponse(3, "no such torrent").encode()) == ErrorResponse(
        3, "no such torrent"
    )


def test_v6_peers_in_a_v4_stride_are_refused() -> None:
    packet = AnnounceResponse(1, 10, 0, 0, bytes(18)).encode() + bytes(1)
    with pytest.raises(UdpPacketError, match="not a multiple of 18"):
        decode_response(packet, ipv6=True)


def check_request_decoder(packet: bytes) -> None:
    """Either a packet error pointing inside the packet, or a value that round-trips."""
    try:
        decoded = decode_request(packet)
    except UdpPacketError as error:
        assert 0 <= error.offset <= len(packet)
    else:
        assert decode_request(decoded.encode()) == decoded


@given(st.binary(max_size=400))
def test_fuzz_request_decoder_raises_only_packet_errors(packet: bytes) -> None:
    check_request_decoder(packet)


@given(st.sampled_from([b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"]), st.binary(max_size=300))
def test_fuzz_request_decoder_on_valid_headers(action: bytes, tail: bytes) -> None:
    check_request_decoder(bytes(8) + action + tail)


@given(st.binary(max_size=300), st.booleans())
def test_fuzz_response_decoder_raises_only_packet_errors(packet: bytes, ipv6: bool) -> None:
    try:
        decode_response(packet, ipv6=ipv6)
    except UdpPacketError as error:
        assert 0 <= error.offset <= len(packet)
