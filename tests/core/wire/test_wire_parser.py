"""The message parser: round trips, any split of the stream, bounds before allocation."""

from __future__ import annotations

import itertools
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.messages import (
    AllowedFast,
    Cancel,
    Choke,
    Extended,
    Have,
    HaveAll,
    HaveBitfield,
    HaveNone,
    Interested,
    KeepAlive,
    Message,
    NotInterested,
    Piece,
    Port,
    RejectRequest,
    Request,
    SuggestPiece,
    Unchoke,
    UnknownMessage,
)
from bitswarm.core.wire.parser import MessageParser

PIECES = 20  # a bitfield is 3 bytes, the last 4 bits spare

SAMPLES: list[tuple[Message, bytes]] = [
    (KeepAlive(), b"\x00\x00\x00\x00"),
    (Choke(), b"\x00\x00\x00\x01\x00"),
    (Unchoke(), b"\x00\x00\x00\x01\x01"),
    (Interested(), b"\x00\x00\x00\x01\x02"),
    (NotInterested(), b"\x00\x00\x00\x01\x03"),
    (Have(258), b"\x00\x00\x00\x05\x04\x00\x00\x01\x02"),
    (HaveBitfield(b"\xff\x00\xa0"), b"\x00\x00\x00\x04\x05\xff\x00\xa0"),
    (Request(1, 16384, 16384), b"\x00\x00\x00\x0d\x06" + bytes.fromhex("000000010000400000004000")),
    (Piece(2, 0, b"abc"), b"\x00\x00\x00\x0c\x07\x00\x00\x00\x02\x00\x00\x00\x00abc"),
    (Cancel(1, 0, 9), b"\x00\x00\x00\x0d\x08" + bytes.fromhex("000000010000000000000009")),
    (Port(6881), b"\x00\x00\x00\x03\x09\x1a\xe1"),
    (SuggestPiece(7), b"\x00\x00\x00\x05\x0d\x00\x00\x00\x07"),
    (HaveAll(), b"\x00\x00\x00\x01\x0e"),
    (HaveNone(), b"\x00\x00\x00\x01\x0f"),
    (RejectRequest(3, 0, 1), b"\x00\x00\x00\x0d\x10" + bytes.fromhex("000000030000000000000001")),
    (AllowedFast(9), b"\x00\x00\x00\x05\x11\x00\x00\x00\x09"),
    (Extended(0, b"d1:pi6881ee"), b"\x00\x00\x00\x0d\x14\x00d1:pi6881ee"),
    (UnknownMessage(21, b"xy"), b"\x00\x00\x00\x03\x15xy"),
]


def feed(parser: MessageParser, data: bytes, cuts: list[int]) -> list[Message]:
    """Feed ``data`` cut at ``cuts``, draining messages after each chunk."""

    out: list[Message] = []
    for start, end in itertools.pairwise([0, *sorted(cuts), len(data)]):
        parser.receive_data(data[start:end])
        while (message := parser.next_message()) is not None:
            out.append(message)
    return out


def parse_all(data: bytes, cuts: list[int] | None = None) -> list[Message]:
    parser = MessageParser(PIECES)
    out = feed(parser, data, cuts or [])
    assert parser.buffered == 0
    return out


@pytest.mark.parametrize(("message", "wire"), SAMPLES, ids=lambda v: type(v).__name__)
def test_every_message_encodes_to_its_wire_form_and_back(message: Message, wire: bytes) -> None:
    assert message.encode() == wire
    assert parse_all(wire) == [message]


def test_byte_at_a_time_yields_each_message_once_complete() -> None:
    stream = b"".join(wire for _, wire in SAMPLES)
    parser = MessageParser(PIECES)
    seen: list[Message] = []
    for i in range(len(stream)):
        parser.receive_data(stream[i : i + 1])
        message = parser.next_message()
        if message is not None:
            seen.append(message)
        assert parser.next_message() is None
    assert seen == [message for message, _ in SAMPLES]


def test_piece_exposes_the_request_it_answers() -> None:
    assert Piece(4, 32768, b"x" * 100).request == Request(4, 32768, 100)


u32 = st.integers(0, 2**32 - 1)
messages = st.one_of(
    st.sampled_from([KeepAlive(), Choke(), Unchoke(), Interested(), NotInterested()]),
    st.sampled_from([HaveAll(), HaveNone()]),
    st.builds(Have, u32),
    st.builds(SuggestPiece, u32),
    st.builds(AllowedFast, u32),
    st.builds(Request, u32, u32, u32),
    st.builds(Cancel, u32, u32, u32),
    st.builds(RejectRequest, u32, u32, u32),
    st.builds(Piece, u32, u32, st.binary(min_size=1, max_size=64)),
    st.builds(Port, st.integers(0, 65535)),
    st.builds(Extended, st.integers(0, 255), st.binary(max_size=64)),
    st.builds(
        lambda b: HaveBitfield(bytes([b[0], b[1], b[2] & 0xF0])), st.binary(min_size=3, max_size=3)
    ),
)


@settings(deadline=None)
@given(st.lists(messages, max_size=20), st.data())
def test_any_split_of_a_stream_yields_the_same_messages(
    sent: list[Message], data: st.DataObject
) -> None:
    stream = b"".join(m.encode() for m in sent)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    assert parse_all(stream, cuts) == sent


@settings(max_examples=300)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=5))
def test_random_bytes_raise_only_protocol_error(data: bytes, cuts: list[int]) -> None:
    parser = MessageParser(PIECES, max_extended=64)
    try:
        feed(parser, data, cuts)
    except ProtocolError as error:
        assert "stream byte" in str(error)
        with pytest.raises(ProtocolError):  # the parser stays spent
            parser.next_message()


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"\xff\xff\xff\xff\x07", "piece (7): payload of 4294967294 bytes, expected at most 16392"),
        (b"\x00\x00\x40\x0a\x07", "piece (7): payload of 16393 bytes, expected at most 16392"),
        (b"\x00\x00\x00\x09\x07", "piece (7): payload of 8 bytes, expected at least 9"),
        (b"\x00\x00\x00\x05\x05", "bitfield (5): payload of 4 bytes, expected 3 bytes"),
        (b"\x00\x10\x00\x02\x14", "extended (20): payload of 1048577 bytes, expected at most"),
        (b"\x00\x00\x00\x01\x14", "extended (20): payload of 0 bytes, expected at least 1"),
        (b"\x00\x10\x00\x02\x63", "unknown message (99): payload of 1048577 bytes, expected at"),
        (b"\x00\x00\x00\x06\x04", "have (4): payload of 5 bytes, expected 4 bytes"),
        (b"\x00\x00\x00\x02\x00", "choke (0): payload of 1 bytes, expected 0 bytes"),
        (b"\x00\x00\x00\x0c\x06", "request (6): payload of 11 bytes, expected 12 bytes"),
        (b"\x00\x00\x00\x02\x09", "port (9): payload of 1 bytes, expected 2 bytes"),
        (b"\x00\x00\x00\x02\x0e", "have all (14): payload of 1 bytes, expected 0 bytes"),
    ],
)
def test_bad_length_prefix_is_refused_from_the_header_alone(header: bytes, reason: str) -> None:
    parser = MessageParser(PIECES)
    parser.receive_data(Choke().encode() + header)
    assert parser.next_message() == Choke()
    with pytest.raises(ProtocolError, match=r"\(message at stream byte 5\)") as caught:
        parser.next_message()
    assert reason in str(caught.value)
    assert parser.buffered == len(header)  # nothing of the payload was waited for


def test_bitfield_spare_bits_are_refused() -> None:
    parser = MessageParser(PIECES)
    parser.receive_data(HaveBitfield(b"\x00\x00\x01").encode())
    with pytest.raises(ProtocolError, match=r"bitfield .*spare bits set after piece 19"):
        parser.next_message()


def test_bitfield_before_metadata_is_bounded_by_the_extended_cap() -> None:
    parser = MessageParser(None, max_extended=8)
    parser.receive_data(HaveBitfield(b"\x01" * 8).encode())
    assert parser.next_message() == HaveBitfield(b"\x01" * 8)
    parser.receive_data(HaveBitfield(b"\x01" * 9).encode())
    with pytest.raises(ProtocolError, match="payload of 9 bytes, expected at most 8 bytes"):
        parser.next_message()


def test_unknown_message_is_skipped_and_the_stream_goes_on() -> None:
    parser = MessageParser(PIECES)
    parser.receive_data(UnknownMessage(22, b"hash").encode() + Have(1).encode())
    assert parser.next_message() == UnknownMessage(22, b"hash")
    assert parser.next_message() == Have(1)


def test_a_larger_block_limit_is_honoured() -> None:
    parser = MessageParser(PIECES, max_block=32768)
    parser.receive_data(Piece(0, 0, b"z" * 32768).encode())
    message = parser.next_message()
    assert isinstance(message, Piece) and len(message.block) == 32768


def test_a_block_holds_its_own_bytes_not_its_chunk() -> None:
    chunk = Have(1).encode() + Piece(3, 16384, b"q" * 1000).encode() + KeepAlive().encode() * 999
    parser = MessageParser(PIECES)
    parser.receive_data(chunk)
    assert parser.next_message() == Have(1)
    message = parser.next_message()
    assert message == Piece(3, 16384, b"q" * 1000)
    assert isinstance(message, Piece) and type(message.block) is bytes  # not a view of chunk


def test_a_message_across_two_chunks_is_joined() -> None:
    stream = Piece(0, 0, b"a" * 100).encode() + Piece(0, 100, b"b" * 100).encode()
    parser = MessageParser(PIECES)
    parser.receive_data(stream[:60])
    parser.receive_data(stream[60:])
    assert parser.next_message() == Piece(0, 0, b"a" * 100)
    assert parser.next_message() == Piece(0, 100, b"b" * 100) and parser.buffered == 0


def test_a_buffer_the_caller_reuses_is_copied_before_it_changes() -> None:
    buffer = bytearray(Piece(1, 0, b"x" * 64).encode())
    parser = MessageParser(PIECES)
    parser.receive_data(buffer)
    buffer[:] = bytes(len(buffer))  # the caller reads into its buffer again
    assert parser.next_message() == Piece(1, 0, b"x" * 64)


def test_a_message_trickled_a_byte_a_read_takes_its_own_size_in_memory() -> None:
    wire = Extended(1, b"m" * 60_000).encode()
    parser = MessageParser(PIECES)
    tracemalloc.start()
    try:
        for at in range(len(wire) - 1):
            parser.receive_data(wire[at : at + 1])
            assert parser.next_message() is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(wire)
    parser.receive_data(wire[-1:])
    assert parser.next_message() == Extended(1, b"m" * 60_000)
