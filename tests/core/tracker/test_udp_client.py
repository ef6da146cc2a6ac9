"""The UDP tracker client machine: connect, reuse, back-off, transaction ids (BEP 15, 41)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.tracker.client_model import AnnounceParams, AnnounceReply
from bitswarm.core.tracker.compact import pack_address
from bitswarm.core.tracker.model import Event, SwarmCounts
from bitswarm.core.tracker.udp import (
    AnnounceRequest,
    AnnounceResponse,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    ScrapeRequest,
    ScrapeResponse,
    decode_request,
)
from bitswarm.core.tracker.udp_client import (
    AnnounceDone,
    RequestFailed,
    RequestTimedOut,
    ScrapeDone,
    UdpTrackerClient,
    UdpTrackerEvent,
)

CID = 0x1122334455667788
PARAMS = AnnounceParams(
    info_hash=b"i" * 20,
    peer_id=b"p" * 20,
    port=6881,
    uploaded=5,
    downloaded=6,
    left=7,
    event=Event.STARTED,
    key=0xABCD,
)


def client(**options: object) -> UdpTrackerClient:
    return UdpTrackerClient(random.Random(1), **options)  # type: ignore[arg-type]


def sent(machine: UdpTrackerClient) -> list[object]:
    return [decode_request(packet) for packet in machine.datagrams_to_send()]


def events(machine: UdpTrackerClient) -> list[UdpTrackerEvent]:
    out = []
    while (event := machine.next_event()) is not None:
        out.append(event)
    return out


def connect(machine: UdpTrackerClient, now: float) -> None:
    """Answer the one outstanding connect request."""
    [request] = sent(machine)
    assert isinstance(request, ConnectRequest)
    machine.datagram_received(ConnectResponse(request.transaction_id, CID).encode(), now)


def test_announce_connects_first_then_announces() -> None:
    machine = client(url_data=b"/announce?pk=1")
    request = machine.announce(PARAMS, now=0.0)
    assert machine.get_timer() == 15.0
    connect(machine, 1.0)
    [announce] = sent(machine)
    assert isinstance(announce, AnnounceRequest)
    assert announce.connection_id == CID
    assert (announce.info_hash, announce.peer_id, announce.port) == (b"i" * 20, b"p" * 20, 6881)
    assert (announce.uploaded, announce.downloaded, announce.left) == (5, 6, 7)
    assert (announce.event, announce.key, announce.num_want, announce.ip) == (
        Event.STARTED,
        0xABCD,
        -1,
        0,
    )
    assert announce.url_data == b"/announce?pk=1"
    assert machine.get_timer() == 16.0
    peers = pack_address("127.0.0.1", 7000) + pack_address("127.0.0.2", 0)
    reply = AnnounceResponse(announce.transaction_id, 1800, leechers=3, seeders=4, peers=peers)
    machine.datagram_received(reply.encode(), 2.0)
    assert events(machine) == [
        AnnounceDone(request, AnnounceReply(1800, (("127.0.0.1", 7000),), complete=4, incomplete=3))
    ]
    assert machine.get_timer() is None and machine.pending == 0


def test_ipv6_tracker_peers_are_18_bytes() -> None:
    machine = client(ipv6=True)
    machine.announce(PARAMS, 0.0)
    connect(machine, 0.0)
    [announce] = sent(machine)
    reply = AnnounceResponse(announce.transaction_id, 60, 0, 1, pack_address("::1", 9000), True)
    machine.datagram_received(reply.encode(), 0.0)
    [done] = events(machine)
    assert isinstance(done, AnnounceDone) and done.reply.peers == (("::1", 9000),)


def test_connection_id_is_reused_for_one_minute_then_renewed() -> None:
    machine = client()
    machine.announce(PARAMS, 0.0)
    connect(machine, 0.0)
    [first] = sent(machine)
    machine.datagram_received(AnnounceResponse(first.transaction_id, 60, 0, 0).encode(), 1.0)
    machine.scrape((b"i" * 20,), 59.0)
    [scrape] = sent(machine)
    assert isinstance(scrape, ScrapeRequest) and scrape.connection_id == CID
    counts = SwarmCounts(complete=1, incomplete=2, downloaded=3)
    machine.datagram_received(ScrapeResponse(scrape.transaction_id, (counts,)).encode(), 59.5)
    assert events(machine)[1:] == [ScrapeDone(1, {b"i" * 20: counts})]
    machine.announce(PARAMS, 60.0)
    [again] = sent(machine)
    assert isinstance(again, ConnectRequest)


def test_requests_made_while_connecting_share_one_connect() -> None:
    machine = client()
    machine.announce(PARAMS, 0.0)
    machine.scrape((b"a" * 20, b"b" * 20), 0.5)
    connect(machine, 1.0)
    packets = sent(machine)
    assert [type(p) for p in packets] == [AnnounceRequest, ScrapeRequest]
    assert len({p.transaction_id for p in packets}) == 2  # type: ignore[attr-defined]


def test_back_off_is_15_times_2_to_the_n_then_timeout() -> None:
    machine = client(max_retransmits=3)
    machine.announce(PARAMS, 0.0)
    [first] = sent(machine)
    deadlines = []
    now = 0.0
    while (timer := machine.get_timer()) is not None:
        deadlines.append(timer - now)
        now = timer
        machine.handle_timer(now)
        resent = sent(machine)
        if machine.pending:
            assert resent == [first]  # the same transaction id, so a late answer counts
    assert deadlines == [15.0, 30.0, 60.0, 120.0]
    assert events(machine) == [RequestTimedOut(0, 4)]


def test_announce_retransmission_reconnects_when_the_id_expired() -> None:
    machine = client()
    machine.announce(PARAMS, 0.0)
    connect(machine, 0.0)
    [announce] = sent(machine)
    machine.handle_timer(15.0)
    assert sent(machine) == [announce]  # id still fresh: resend as is, now waiting 30 s
    assert machine.get_timer() == 45.0
    machine.handle_timer(45.0)
    assert sent(machine) == [announce]  # 45 s after the connect: still fresh
    assert machine.get_timer() == 105.0
    machine.handle_timer(105.0)
    connect(machine, 106.0)
    [renewed] = sent(machine)
    assert isinstance(renewed, AnnounceRequest)
    assert renewed.transaction_id == announce.transaction_id
    assert machine.get_timer() == 106.0 + 120.0  # attempt n=3 waits 15 * 2**3


def test_late_answer_to_an_earlier_send_is_accepted() -> None:
    machine = client()
    machine.announce(PARAMS, 0.0)
    connect(machine, 0.0)
    [announce] = sent(machine)
    machine.handle_timer(15.0)
    machine.datagram_received(AnnounceResponse(announce.transaction_id, 60, 0, 0).encode(), 16.0)
    assert [type(e) for e in events(machine)] == [AnnounceDone]


def test_unknown_transaction_ids_and_garbage_are_ignored() -> None:
    machine = client()
    machine.announce(PARAMS, 0.0)
    [connect_request] = sent(machine)
    assert isinstance(connect_request, ConnectRequest)
    forged = ConnectResponse(connect_request.transaction_id ^ 1, 666).encode()
    for datagram in (forged, b"", b"\x00\x00\x00\x09junk", b"\x00" * 3):
        machine.datagram_received(datagram, 1.0)
    assert sent(machine) == [] and events(machine) == []
    machine.datagram_received(ConnectResponse(connect_request.transaction_id, CID).encode(), 1.0)
    [announce] = sent(machine)
    assert isinstance(announce, AnnounceRequest) and announce.connection_id == CID


def test_tracker_error_fails_the_request_with_its_message() -> None:
    machine = client()
    request = machine.announce(PARAMS, 0.0)
    connect(machine, 0.0)
    [announce] = sent(machine)
    machine.datagram_received(ErrorResponse(announce.transaction_id, "not whitelisted").encode(), 1)
    assert events(machine) == [RequestFailed(request, "not whitelisted")]


def test_error_to_connect_fails_every_waiting_request() -> None:
    machine = client()
    machine.announce(PARAMS, 0.0)
    machine.announce(PARAMS, 0.0)
    [connect_request] = sent(machine)
    machine.datagram_received(ErrorResponse(connect_request.transaction_id, "go away").encode(), 1)
    assert events(machine) == [RequestFailed(0, "go away"), RequestFailed(1, "go away")]
    assert machine.get_timer() is None


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (lambda tid: ScrapeResponse(tid, ()).encode(), "ScrapeResponse to the announce"),
        (lambda tid: AnnounceResponse(tid, 1, 0, 0).encode() + b"\x01", "malformed reply"),
    ],
)
def test_wrong_or_broken_reply_fails_the_request(reply: object, reason: str) -> None:
    machine = client()
    machine.announce(PARAMS, 0.0)
    connect(machine, 0.0)
    [announce] = sent(machine)
    machine.datagram_received(reply(announce.transaction_id), 1.0)  # type: ignore[operator]
    [failed] = events(machine)
    assert isinstance(failed, RequestFailed) and reason in failed.reason


def test_scrape_reply_with_the_wrong_count_fails() -> None:
    machine = client()
    machine.scrape((b"a" * 20, b"b" * 20), 0.0)
    connect(machine, 0.0)
    [scrape] = sent(machine)
    machine.datagram_received(ScrapeResponse(scrape.transaction_id, (SwarmCounts(),)).encode(), 1)
    [failed] = events(machine)
    assert isinstance(failed, RequestFailed) and "counts 1 torrents, 2 asked" in failed.reason


def test_scrape_refuses_too_many_hashes_at_once() -> None:
    with pytest.raises(ValueError, match="1 to 74"):
        client().scrape(tuple(bytes([i]) * 20 for i in range(75)), 0.0)


def test_numwant_and_ip_are_carried() -> None:
    machine = client()
    params = AnnounceParams(b"i" * 20, b"p" * 20, 1, numwant=30, ip="127.0.0.9")
    machine.announce(params, 0.0)
    connect(machine, 0.0)
    [announce] = sent(machine)
    assert isinstance(announce, AnnounceRequest)
    assert (announce.num_want, announce.ip) == (30, 0x7F000009)


@given(st.lists(st.binary(max_size=120), max_size=20))
def test_random_datagrams_never_raise(datagrams: list[bytes]) -> None:
    machine = client()
    machine.announce(PARAMS, 0.0)
    for datagram in datagrams:
        machine.datagram_received(datagram, 1.0)
    for event in events(machine):
        assert isinstance(event, RequestFailed)


def test_cancelled_request_is_forgotten() -> None:
    machine = client()
    first = machine.announce(PARAMS, 0.0)
    second = machine.announce(PARAMS, 0.0)
    machine.cancel(first)
    assert machine.pending == 1 and machine.get_timer() == 15.0
    connect(machine, 0.0)
    [announce] = sent(machine)
    machine.datagram_received(AnnounceResponse(announce.transaction_id, 5, 0, 0).encode(), 1.0)
    assert [event.request for event in events(machine)] == [second]


def test_cancelling_the_last_request_stops_the_connect() -> None:
    machine = client()
    machine.cancel(machine.announce(PARAMS, 0.0))
    assert machine.get_timer() is None and machine.pending == 0
    machine.handle_timer(1000.0)
    assert [type(p) for p in sent(machine)] == [ConnectRequest]  # only the first one


@given(
    kinds=st.lists(st.booleans(), min_size=1, max_size=6),
    drops=st.lists(st.booleans(), max_size=60),
    gaps=st.lists(st.floats(0, 200), max_size=60),
)
def test_every_request_ends_exactly_once_over_a_lossy_link(
    kinds: list[bool], drops: list[bool], gaps: list[float]
) -> None:
    """A tracker that answers whatever reaches it, over a link that loses packets at will."""
    machine = client(max_retransmits=4)
    now = 0.0
    asked = {}
    for is_announce in kinds:
        if is_announce:
            asked[machine.announce(PARAMS, now)] = AnnounceDone
        else:
            asked[machine.scrape((b"s" * 20,), now)] = ScrapeDone
    drop, gap = iter(drops), iter(gaps)
    finished: list[UdpTrackerEvent] = []
    while machine.pending:
        for packet in machine.datagrams_to_send():
            if next(drop, False):
                continue
            request = decode_request(packet)
            tid = request.transaction_id
            if isinstance(request, ConnectRequest):
                reply = ConnectResponse(tid, CID).encode()
            elif isinstance(request, AnnounceRequest):
                reply = AnnounceResponse(tid, 60, 0, 0).encode()
            else:
                reply = ScrapeResponse(tid, (SwarmCounts(),)).encode()
            if not next(drop, False):
                machine.datagram_received(reply, now)
        finished += events(machine)
        timer = machine.get_timer()
        if timer is not None:
            now = max(now + next(gap, 0.0), timer) if machine.pending else now
            machine.handle_timer(now)
        finished += events(machine)
    assert sorted(event.request for event in finished) == sorted(asked)
    for event in finished:
        assert isinstance(event, asked[event.request] | RequestTimedOut)
        if isinstance(event, RequestTimedOut):
            assert event.attempts == 5
