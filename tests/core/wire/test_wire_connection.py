"""The peer connection state machine: handshake, flags, requests, BEP 6 rules, timers."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.wire.connection import ConnectionConfig, Event, PeerConnection, State, TimedOut
from bitswarm.core.wire.errors import LocalProtocolError, ProtocolError
from bitswarm.core.wire.exchange import RequestsDropped
from bitswarm.core.wire.handshake import Extensions, Handshake
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
    RejectRequest,
    Request,
    SuggestPiece,
    Unchoke,
)

INFO_HASH = b"i" * 20
ID_A, ID_B = b"A" * 20, b"B" * 20
PIECES = 10
FAST = Extensions.FAST | Extensions.EXTENSION_PROTOCOL
PLAIN = Extensions.NONE
BLOCK = b"x" * 16384


def drain(connection: PeerConnection) -> list[Event]:
    events = []
    while (event := connection.next_event()) is not None:
        events.append(event)
    return events


def pump(source: PeerConnection, target: PeerConnection, now: float = 0.0) -> list[Event]:
    target.receive_data(source.data_to_send(), now)
    return drain(target)


def pair(
    a_ext: Extensions = FAST, b_ext: Extensions = FAST
) -> tuple[PeerConnection, PeerConnection]:
    a = PeerConnection(INFO_HASH, ID_A, 0.0, piece_count=PIECES, extensions=a_ext)
    b = PeerConnection(INFO_HASH, ID_B, 0.0, piece_count=PIECES, extensions=b_ext)
    assert pump(a, b) == [Handshake(INFO_HASH, ID_A, a_ext)]
    assert pump(b, a) == [Handshake(INFO_HASH, ID_B, b_ext)]
    return a, b


def opened(
    a_ext: Extensions = FAST, b_ext: Extensions = FAST
) -> tuple[PeerConnection, PeerConnection]:
    """A pair past the piece summaries: ``a`` has nothing, ``b`` everything, and ``b`` unchokes."""

    a, b = pair(a_ext, b_ext)
    fast = a.fast
    a.send(HaveNone() if fast else HaveBitfield(bytes(2)))
    b.send(HaveAll() if fast else HaveBitfield(b"\xff\xc0"))
    b.send(Unchoke())
    pump(a, b)
    pump(b, a)
    return a, b


def peer_sends(
    connection: PeerConnection, *messages: Message, extensions: Extensions = FAST
) -> list[Event]:
    """Raw bytes from a hand-made peer, for behaviour our own connection would refuse to send."""

    wire = Handshake(INFO_HASH, ID_B, extensions).encode() + b"".join(m.encode() for m in messages)
    connection.receive_data(wire, 1.0)
    return drain(connection)


def fresh(extensions: Extensions = FAST) -> PeerConnection:
    return PeerConnection(INFO_HASH, ID_A, 0.0, piece_count=PIECES, extensions=extensions)


def test_handshake_negotiates_extensions_both_must_set() -> None:
    a, b = pair(FAST, Extensions.FAST)
    assert a.state is State.OPEN and b.state is State.OPEN
    assert a.fast and b.fast
    assert not a.extension_protocol and not b.extension_protocol
    a, b = pair(PLAIN, FAST)
    assert not a.fast and not b.fast


def test_handshake_and_messages_in_one_chunk_or_byte_by_byte() -> None:
    wire = Handshake(INFO_HASH, ID_B, FAST).encode() + HaveAll().encode() + Unchoke().encode()
    whole = fresh()
    whole.receive_data(wire, 0.0)
    split = fresh()
    events: list[Event] = []
    for i in range(len(wire)):
        split.receive_data(wire[i : i + 1], 0.0)
        events += drain(split)
    assert drain(whole) == events == [Handshake(INFO_HASH, ID_B, FAST), HaveAll(), Unchoke()]
    assert not split.exchange.peer_choking


@pytest.mark.parametrize(
    ("handshake", "reason"),
    [
        (Handshake(b"j" * 20, ID_B), "info hash 6a6a.* is not this torrent's"),
        (Handshake(INFO_HASH, ID_A), "peer id is our own"),
        (Handshake(INFO_HASH, b"C" * 20), "peer id b'CCCC.* is not the expected"),
    ],
)
def test_handshake_refusals_close_the_connection(handshake: Handshake, reason: str) -> None:
    connection = PeerConnection(INFO_HASH, ID_A, 0.0, piece_count=PIECES, expected_peer_id=ID_B)
    connection.receive_data(handshake.encode(), 0.0)
    with pytest.raises(ProtocolError, match=reason):
        connection.next_event()
    assert connection.state is State.CLOSED
    with pytest.raises(ProtocolError, match=reason):  # and it stays refused
        connection.next_event()
    with pytest.raises(LocalProtocolError, match="connection is closed"):
        connection.send(Interested())


def test_strangers_are_refused_before_the_whole_handshake_arrives() -> None:
    connection = fresh()
    connection.receive_data(b"GET / HTTP/1.1\r\n", 0.0)
    with pytest.raises(ProtocolError, match="protocol name length is 71 at byte 0"):
        connection.next_event()
    other = fresh()
    other.receive_data(Handshake(b"j" * 20, ID_B).encode()[:48], 0.0)
    with pytest.raises(ProtocolError, match="info hash 6a6a"):
        other.next_event()


def test_choke_and_interest_flags_both_ways() -> None:
    a, b = opened()
    assert not a.exchange.peer_choking and not b.exchange.am_choking
    a.send(Interested())
    assert a.exchange.am_interested and pump(a, b) == [Interested()] and b.exchange.peer_interested
    a.send(NotInterested())
    pump(a, b)
    assert not b.exchange.peer_interested
    b.send(Choke())
    assert b.exchange.am_choking and pump(b, a) == [Choke()] and a.exchange.peer_choking


def test_request_and_piece_round_trip() -> None:
    a, b = opened()
    request = Request(3, 0, 16384)
    a.send(request)
    assert pump(a, b) == [request] and request in b.exchange.requests_in
    b.send(Piece(3, 0, BLOCK))
    assert pump(b, a) == [Piece(3, 0, BLOCK)]
    assert not a.exchange.requests_out and not b.exchange.requests_in


def test_requests_while_choked_are_the_callers_error() -> None:
    a, _ = pair()
    a.send(HaveNone())
    with pytest.raises(LocalProtocolError, match="cannot request piece 1: the peer chokes us"):
        a.send(Request(1, 0, 16384))


def test_without_fast_a_choke_voids_requests_and_late_pieces_are_dropped() -> None:
    a, b = opened(PLAIN, PLAIN)
    a.send(Request(1, 0, 16384))
    a.send(Request(2, 0, 16384))
    pump(a, b)
    b.send(Choke())
    assert not b.exchange.requests_in  # dropped silently, nothing to reject
    assert pump(b, a) == [Choke(), RequestsDropped((Request(1, 0, 16384), Request(2, 0, 16384)))]
    a.receive_data(Piece(1, 0, BLOCK).encode(), 2.0)  # the answer crossed the choke
    assert drain(a) == [] and a.state is State.OPEN


def test_with_fast_a_choke_rejects_all_but_allowed_fast_requests() -> None:
    a, b = opened()
    b.send(AllowedFast(2))
    pump(b, a)
    assert a.exchange.allowed_fast_in == {2}
    for index in (1, 2):
        a.send(Request(index, 0, 16384))
    pump(a, b)
    b.send(Choke())
    assert list(b.exchange.requests_in) == [Request(2, 0, 16384)]
    assert pump(b, a) == [Choke(), RejectRequest(1, 0, 16384)]
    assert list(a.exchange.requests_out) == [Request(2, 0, 16384)]
    a.send(Request(2, 16384, 16384))  # allowed fast: fine while choked
    assert pump(a, b) == [Request(2, 16384, 16384)]
    b.receive_data(Request(3, 0, 16384).encode(), 1.0)  # sent before our choke arrived
    assert drain(b) == []
    assert b.data_to_send() == RejectRequest(3, 0, 16384).encode()


def test_fast_cancel_is_answered_with_a_reject() -> None:
    a, b = opened()
    a.send(Request(1, 0, 16384))
    pump(a, b)
    a.send(Cancel(1, 0, 16384))
    assert Request(1, 0, 16384) in a.exchange.requests_out  # the peer still owes an answer
    assert pump(a, b) == [Cancel(1, 0, 16384)] and not b.exchange.requests_in
    assert pump(b, a) == [RejectRequest(1, 0, 16384)] and not a.exchange.requests_out


def test_plain_cancel_forgets_the_request() -> None:
    a, b = opened(PLAIN, PLAIN)
    a.send(Request(1, 0, 16384))
    pump(a, b)
    a.send(Cancel(1, 0, 16384))
    assert not a.exchange.requests_out
    assert pump(a, b) == [Cancel(1, 0, 16384)] and not b.exchange.requests_in
    assert b.data_to_send() == b""


@pytest.mark.parametrize(
    ("messages", "extensions", "reason"),
    [
        (
            [HaveAll()],
            PLAIN,
            "HaveAll received, but the fast extension \\(BEP 6\\) was not negotiated",
        ),
        (
            [Extended(1, b"")],
            Extensions.FAST,
            "Extended received, but the extension protocol \\(BEP 10\\) was not",
        ),
        ([HaveNone(), HaveAll()], FAST, "peer sent HaveAll after other messages"),
        ([Have(1)], FAST, "peer sent Have before the bitfield, have all or have none"),
        ([HaveNone(), Have(10)], FAST, "Have names piece 10, but the torrent has 10"),
        ([HaveNone(), Request(0, 0, 16385)], FAST, "request for 16385 bytes .* at most 16384"),
        ([HaveNone(), Piece(0, 0, b"x")], FAST, "never requested \\(BEP 6 requires closing\\)"),
        ([HaveNone(), RejectRequest(0, 0, 1)], FAST, "reject for piece 0 .* never requested"),
        ([HaveNone(), SuggestPiece(99)], FAST, "SuggestPiece names piece 99"),
    ],
)
def test_peer_rule_breaking_is_a_protocol_error(
    messages: list[Message], extensions: Extensions, reason: str
) -> None:
    connection = fresh(extensions | Extensions.FAST)
    with pytest.raises(ProtocolError, match=reason):
        peer_sends(connection, *messages, extensions=extensions)
    assert connection.state is State.CLOSED


def test_extension_messages_may_precede_the_bitfield() -> None:
    connection = fresh()
    events = peer_sends(connection, Extended(0, b"de"), HaveBitfield(b"\x80\x00"), Have(1))
    assert events[1:] == [Extended(0, b"de"), HaveBitfield(b"\x80\x00"), Have(1)]


def test_plain_peers_may_skip_the_bitfield() -> None:
    assert peer_sends(fresh(PLAIN), Have(1), extensions=PLAIN)[1:] == [Have(1)]


def test_requests_beyond_the_cap_are_rejected() -> None:
    connection = PeerConnection(
        INFO_HASH, ID_A, 0.0, piece_count=PIECES, config=ConnectionConfig(max_requests_in=1)
    )
    peer_sends(connection, HaveNone())
    connection.send(HaveAll())
    connection.send(Unchoke())
    connection.data_to_send()
    connection.receive_data(Request(0, 0, 1).encode() + Request(0, 1, 1).encode(), 2.0)
    assert drain(connection) == [Request(0, 0, 1)]
    assert connection.data_to_send() == RejectRequest(0, 1, 1).encode()


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (Piece(0, 0, b"x"), "the peer has not asked for it"),
        (Cancel(0, 0, 1), "it is not outstanding"),
        (Have(10), "Have names piece 10"),
        (Extended(1, b""), "cannot send Extended: the extension protocol"),
    ],
)
def test_local_rule_breaking_is_a_local_error(message: Message, reason: str) -> None:
    a, _ = opened(Extensions.FAST, FAST)
    with pytest.raises(LocalProtocolError, match=reason):
        a.send(message)


def test_our_summary_must_come_first_with_fast() -> None:
    a, _ = pair()
    with pytest.raises(LocalProtocolError, match="we sent Interested before the bitfield"):
        a.send(Interested())
    with pytest.raises(LocalProtocolError, match=r"cannot send this bitfield: .*spare bits set"):
        a.send(HaveBitfield(b"\xff\xff"))
    a.send(HaveBitfield(b"\xff\xc0"))
    with pytest.raises(LocalProtocolError, match="we sent HaveAll after other messages"):
        a.send(HaveAll())


def test_handshake_timeout() -> None:
    connection = fresh()
    assert connection.get_timer() == 20.0
    connection.receive_data(b"\x13BitTorrent", 19.0)  # a trickle does not buy time
    assert connection.next_event() is None and connection.get_timer() == 20.0
    connection.handle_timer(20.0)
    assert connection.next_event() == TimedOut("no handshake within 20 s")
    assert connection.state is State.CLOSED and connection.get_timer() is None


def test_keepalive_and_idle_timers() -> None:
    a, b = opened()
    a.receive_data(b.data_to_send(), 100.0)  # heard from b at 100 s
    assert a.get_timer() == 120.0  # a has said nothing since 0 s
    a.handle_timer(120.0)
    assert a.data_to_send() == KeepAlive().encode()
    assert a.get_timer() == 240.0  # next keep-alive, before the idle limit at 280 s
    b.receive_data(KeepAlive().encode(), 120.0)
    assert drain(b) == []  # keep-alives are absorbed
    a.handle_timer(240.0)
    a.data_to_send()
    assert a.get_timer() == 280.0
    a.handle_timer(280.0)
    assert drain(a) == [TimedOut("nothing received for 180 s")]
    a.receive_data(b"ignored", 281.0)
    assert drain(a) == []


@given(st.binary(max_size=300))
def test_random_bytes_after_a_handshake_raise_only_protocol_error(data: bytes) -> None:
    connection = fresh()
    try:
        peer_sends(connection)
        connection.receive_data(data, 2.0)
        drain(connection)
    except ProtocolError:
        assert connection.state is State.CLOSED


def settle(a: PeerConnection, b: PeerConnection) -> None:
    """Carry bytes both ways until neither side has anything more to say."""

    while True:
        to_b, to_a = a.data_to_send(), b.data_to_send()
        if not to_b and not to_a:
            return
        b.receive_data(to_b, 5.0)
        drain(b)
        a.receive_data(to_a, 5.0)
        drain(a)


small = st.integers(0, 3)
spans = st.tuples(small, st.sampled_from([0, 4])).map(lambda s: Request(s[0], s[1], 4))
unprompted = st.one_of(
    st.sampled_from([Choke(), Unchoke(), Interested(), NotInterested()]),
    st.builds(Have, small),
    st.builds(AllowedFast, small),
    st.builds(SuggestPiece, small),
    spans,
)


def next_message(data: st.DataObject, sender: PeerConnection) -> Message:
    """A message for ``sender``: unprompted, or an answer to a request on record."""

    kind = data.draw(st.sampled_from(["unprompted", "cancel", "serve", "reject"]))
    if kind == "cancel" and sender.exchange.requests_out:
        r = data.draw(st.sampled_from(list(sender.exchange.requests_out)))
        return Cancel(r.index, r.begin, r.length)
    if kind == "serve" and sender.exchange.requests_in:
        r = data.draw(st.sampled_from(list(sender.exchange.requests_in)))
        return Piece(r.index, r.begin, b"abcd")
    if kind == "reject" and sender.exchange.requests_in:
        r = data.draw(st.sampled_from(list(sender.exchange.requests_in)))
        return RejectRequest(r.index, r.begin, r.length)
    return data.draw(unprompted)


@settings(deadline=None)  # dozens of messages an example; a loaded machine is slow
@given(st.sampled_from([FAST, PLAIN]), st.data())
def test_whatever_one_side_may_send_the_other_accepts(
    extensions: Extensions, data: st.DataObject
) -> None:
    """Both ends are ours: every message ``send`` allows, in any interleaving with the
    other side's, is accepted, and once both are quiet each side's view of the
    outstanding requests matches the other's (BEP 6: each request answered once)."""

    a, b = pair(extensions, extensions)
    for side in (a, b):
        side.send(HaveNone() if side.fast else HaveBitfield(bytes(2)))
    for _ in range(data.draw(st.integers(0, 60))):
        sender = data.draw(st.sampled_from([a, b]))
        with contextlib.suppress(LocalProtocolError):
            sender.send(next_message(data, sender))
        if data.draw(st.booleans()):
            settle(a, b)
    settle(a, b)
    assert a.state is State.OPEN and b.state is State.OPEN
    assert set(a.exchange.requests_out) == set(b.exchange.requests_in)
    assert set(b.exchange.requests_out) == set(a.exchange.requests_in)
