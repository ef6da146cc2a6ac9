"""The peer connection's byte machine: handshake both ways, routing, deadline, framing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.wire.connection import (
    Event,
    InfoHashReceived,
    PeerConnection,
    State,
    TimedOut,
)
from bitswarm.core.wire.errors import LocalProtocolError, ProtocolError
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.messages import (
    Extended,
    HaveAll,
    HaveBitfield,
    Interested,
    KeepAlive,
    Piece,
    Unchoke,
)

INFO_HASH = b"i" * 20
ID_A, ID_B = b"A" * 20, b"B" * 20
PIECES = 10
FAST = Extensions.FAST | Extensions.EXTENSION_PROTOCOL


def drain(connection: PeerConnection) -> list[Event]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def dialling(extensions: Extensions = Extensions.FAST) -> PeerConnection:
    return PeerConnection(ID_A, 0.0, info_hash=INFO_HASH, piece_count=PIECES, extensions=extensions)


def accepting() -> PeerConnection:
    return PeerConnection(ID_B, 0.0, info_hash=None, extensions=Extensions.FAST)


def test_a_dialled_connection_says_its_handshake_at_once() -> None:
    connection = dialling(FAST)
    assert connection.data_to_send() == Handshake(INFO_HASH, ID_A, FAST).encode()
    assert connection.data_to_send() == b""
    assert connection.state is State.HANDSHAKE


def test_an_accepted_connection_is_silent_until_the_driver_accepts() -> None:
    dialler, acceptor = dialling(), accepting()
    acceptor.receive_data(dialler.data_to_send())
    assert drain(acceptor) == [InfoHashReceived(INFO_HASH)]
    assert acceptor.data_to_send() == b""
    assert acceptor.next_event() is None  # waits for the answer, however often asked
    acceptor.accept(PIECES)
    assert drain(acceptor) == [Handshake(INFO_HASH, ID_A, Extensions.FAST)]
    assert acceptor.state is State.OPEN
    dialler.receive_data(acceptor.data_to_send())
    assert drain(dialler) == [Handshake(INFO_HASH, ID_B, Extensions.FAST)]
    assert dialler.state is State.OPEN


def test_the_info_hash_is_reported_from_the_first_48_bytes() -> None:
    acceptor = accepting()
    handshake = Handshake(INFO_HASH, ID_A).encode()
    acceptor.receive_data(handshake[:47])
    assert drain(acceptor) == []
    acceptor.receive_data(handshake[47:48])
    assert drain(acceptor) == [InfoHashReceived(INFO_HASH)]


def test_an_unknown_info_hash_is_refused_without_a_word() -> None:
    acceptor = accepting()
    acceptor.receive_data(Handshake(b"j" * 20, ID_A).encode())
    assert drain(acceptor) == [InfoHashReceived(b"j" * 20)]
    acceptor.refuse()
    with pytest.raises(ProtocolError, match="no torrent here has info-hash 6a6a"):
        acceptor.next_event()
    assert acceptor.state is State.CLOSED
    assert acceptor.data_to_send() == b""


def test_accept_and_refuse_answer_only_a_reported_info_hash() -> None:
    with pytest.raises(LocalProtocolError, match="accept answers"):
        dialling().accept(PIECES)
    acceptor = accepting()
    with pytest.raises(LocalProtocolError, match="refuse answers"):
        acceptor.refuse()


def test_handshake_and_messages_in_one_chunk_or_byte_by_byte() -> None:
    wire = (
        Handshake(INFO_HASH, ID_B, FAST).encode()
        + HaveAll().encode()
        + KeepAlive().encode()
        + Unchoke().encode()
    )
    whole = dialling()
    whole.receive_data(wire)
    split = dialling()
    events: list[Event] = []
    for i in range(len(wire)):
        split.receive_data(wire[i : i + 1])
        events += drain(split)
    expected = [Handshake(INFO_HASH, ID_B, FAST), HaveAll(), KeepAlive(), Unchoke()]
    assert drain(whole) == events == expected


def test_the_messages_of_an_open_connection_come_at_once_and_a_bad_one_after() -> None:
    connection = dialling()
    connection.receive_data(Handshake(INFO_HASH, ID_B, FAST).encode() + HaveAll().encode())
    assert connection.next_messages() == []  # the handshake is an event of its own
    assert connection.next_event() == Handshake(INFO_HASH, ID_B, FAST)
    assert connection.next_messages() == [HaveAll()]
    connection.receive_data(KeepAlive().encode() + Unchoke().encode() + b"\x00\x00\x00\x05\x02")
    assert connection.next_messages() == [KeepAlive(), Unchoke()]  # good ones before the bad
    with pytest.raises(ProtocolError, match="interested"):
        connection.next_messages()
    with pytest.raises(ProtocolError):
        connection.next_event()


@pytest.mark.parametrize(
    ("handshake", "reason"),
    [
        (Handshake(b"j" * 20, ID_B), "info hash 6a6a.* is not this torrent's"),
        (Handshake(INFO_HASH, ID_A), "peer id is our own"),
    ],
)
def test_handshake_refusals_close_the_connection(handshake: Handshake, reason: str) -> None:
    connection = dialling()
    connection.receive_data(handshake.encode())
    with pytest.raises(ProtocolError, match=reason):
        connection.next_event()
    assert connection.state is State.CLOSED
    with pytest.raises(ProtocolError, match=reason):  # and it stays refused
        connection.next_event()
    with pytest.raises(LocalProtocolError, match="connection is closed"):
        connection.send(Interested())


def test_our_own_peer_id_is_noticed_as_a_self_connection() -> None:
    connection = dialling()
    assert not connection.connected_to_self
    connection.receive_data(Handshake(INFO_HASH, ID_A).encode())
    with pytest.raises(ProtocolError):
        connection.next_event()
    assert connection.connected_to_self


def test_strangers_are_refused_before_the_whole_handshake_arrives() -> None:
    connection = dialling()
    connection.receive_data(b"GET / HTTP/1.1\r\n")
    with pytest.raises(ProtocolError, match="protocol name length is 71 at byte 0"):
        connection.next_event()
    other = dialling()
    other.receive_data(Handshake(b"j" * 20, ID_B).encode()[:48])
    with pytest.raises(ProtocolError, match="info hash 6a6a"):
        other.next_event()


def test_messages_are_framed_with_the_torrent_s_bounds() -> None:
    connection = dialling()
    connection.receive_data(Handshake(INFO_HASH, ID_B).encode() + HaveBitfield(b"\xff").encode())
    assert connection.next_event() == Handshake(INFO_HASH, ID_B)
    with pytest.raises(ProtocolError, match="bitfield"):  # ten pieces take two bytes
        connection.next_event()


def test_an_accepted_connection_frames_with_the_piece_count_it_was_given() -> None:
    acceptor = accepting()
    acceptor.receive_data(Handshake(INFO_HASH, ID_A).encode())
    drain(acceptor)
    acceptor.accept(PIECES)
    acceptor.receive_data(HaveBitfield(b"\xff").encode())
    assert acceptor.next_event() == Handshake(INFO_HASH, ID_A)
    with pytest.raises(ProtocolError, match="bitfield"):
        acceptor.next_event()


def test_send_only_while_open() -> None:
    connection = dialling()
    connection.data_to_send()
    with pytest.raises(LocalProtocolError, match="cannot send Interested: connection is handshake"):
        connection.send(Interested())
    connection.receive_data(Handshake(INFO_HASH, ID_B).encode())
    drain(connection)
    block = Piece(0, 0, b"x" * 16)
    connection.send(block)
    assert connection.data_to_send() == block.encode()
    connection.send(Interested())
    connection.send(Extended(0, b"de"))
    assert connection.data_to_send() == Interested().encode() + Extended(0, b"de").encode()
    connection.close()
    assert connection.state is State.CLOSED
    with pytest.raises(LocalProtocolError, match="connection is closed"):
        connection.send(Interested())


def test_a_block_is_queued_for_a_vectored_write_without_a_copy() -> None:
    connection = dialling()
    connection.receive_data(Handshake(INFO_HASH, ID_B).encode())
    drain(connection)
    connection.data_to_send()
    block = b"y" * 50
    connection.send(Interested())
    connection.send(Piece(2, 16, block))
    chunks = connection.chunks_to_send()
    assert chunks[-1] is block
    assert b"".join(chunks) == Interested().encode() + Piece(2, 16, block).encode()
    assert connection.chunks_to_send() == [] and connection.data_to_send() == b""


def test_handshake_deadline() -> None:
    connection = dialling()
    assert connection.get_timer() == 20.0
    connection.receive_data(b"\x13BitTorrent")  # a trickle does not buy time
    assert connection.next_event() is None and connection.get_timer() == 20.0
    connection.handle_timer(19.9)
    assert connection.next_event() is None and connection.get_timer() == 20.0
    connection.handle_timer(20.0)
    assert connection.next_event() == TimedOut("no handshake within 20 s")
    assert connection.state is State.CLOSED and connection.get_timer() is None
    connection.receive_data(b" protocol")
    assert connection.next_event() is None


def test_no_deadline_once_the_handshake_is_in() -> None:
    connection = dialling()
    connection.receive_data(Handshake(INFO_HASH, ID_B).encode())
    drain(connection)
    assert connection.get_timer() is None
    connection.handle_timer(1000.0)
    assert connection.next_event() is None and connection.state is State.OPEN


@given(st.binary(max_size=120), st.binary(max_size=300))
def test_random_bytes_raise_only_protocol_error(handshake: bytes, data: bytes) -> None:
    """Bytes in place of the handshake, or after a good one: events or ProtocolError."""

    for start in (handshake, Handshake(INFO_HASH, ID_B).encode()):
        connection = accepting()
        connection.receive_data(start + data)
        try:
            for event in iter(connection.next_event, None):
                if isinstance(event, InfoHashReceived):
                    connection.accept(PIECES)
        except ProtocolError:
            assert connection.state is State.CLOSED
