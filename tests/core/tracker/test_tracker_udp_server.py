"""UDP tracker logic: connection ids, spoofing, amplification, floods, caps, private mode."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.tracker.access import AccessList, passkey_in_path
from bitswarm.core.tracker.compact import pack_address
from bitswarm.core.tracker.connection_ids import MACS_REMEMBERED, ConnectionIds
from bitswarm.core.tracker.model import AnnounceResult, Event, SwarmCounts
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.core.tracker.rate_limit import RateLimiter
from bitswarm.core.tracker.udp import (
    AnnounceRequest,
    AnnounceResponse,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    ScrapeRequest,
    ScrapeResponse,
    decode_response,
)
from bitswarm.core.tracker.udp_server import (
    MAX_PEERS_V4,
    MAX_PEERS_V6,
    SAFE_DATAGRAM,
    AnnounceJob,
    ScrapeJob,
    Send,
    UdpTracker,
)

HASH = b"\x42" * 20
HOST = "127.0.0.1"


def tracker(
    *, private: bool = False, rate: float = 5, burst: float = 10, trusting: bool = False
) -> UdpTracker:
    return UdpTracker(
        TrackerPolicy(interval=120, allow_claimed_ip=trusting),
        AccessList(private=private),
        ConnectionIds(b"test secret"),
        RateLimiter(rate, burst),
    )


def packed(host: str) -> bytes:
    return pack_address(host, 0)[:-2]


def connect(t: UdpTracker, now: float = 1000.0, host: str = HOST) -> int:
    out = t.datagram_received(ConnectRequest(7).encode(), packed(host), now)
    assert isinstance(out, Send)
    reply = decode_response(out.data)
    assert isinstance(reply, ConnectResponse) and reply.transaction_id == 7
    return reply.connection_id


def announce(cid: int, **changes: object) -> bytes:
    fields: dict[str, object] = dict(
        connection_id=cid, transaction_id=9, info_hash=HASH, peer_id=b"p" * 20, downloaded=0,
        left=5, uploaded=0, event=Event.STARTED, ip=0, key=1, num_want=-1, port=6881,
    )  # fmt: skip
    fields.update(changes)
    return AnnounceRequest(**fields).encode()  # type: ignore[arg-type]


def error_text(out: object) -> str:
    assert isinstance(out, Send) and out.error
    reply = decode_response(out.data)
    assert isinstance(reply, ErrorResponse)
    return reply.message


def test_connection_ids_are_bound_to_address_and_time() -> None:
    ids = ConnectionIds(b"k")
    address = bytes([127, 0, 0, 1])
    cid = ids.issue(address, 629.9)  # sent at the very end of a bucket
    assert ids.check(cid, address, 629.9) and ids.check(cid, address, 629.9 + 120)
    assert not ids.check(cid, address, 750)  # five buckets later
    cid = ids.issue(address, 600)
    assert ids.check(cid, address, 600) and ids.check(cid, address, 749.9)
    assert not ids.check(cid, bytes([127, 0, 0, 2]), 600)
    assert not ids.check(cid ^ 1, address, 600)
    assert ConnectionIds(b"k").check(cid, address, 600)  # another process, same secret
    assert not ConnectionIds(b"other").check(cid, address, 600)
    assert ConnectionIds(b"x" * 100).issue(address, 0) != ConnectionIds(b"y" * 100).issue(
        address, 0
    )
    with pytest.raises(ValueError, match="empty"):
        ConnectionIds(b"")


def test_remembered_macs_are_bounded_and_change_no_answer() -> None:
    ids, fresh = ConnectionIds(b"k"), ConnectionIds(b"k")
    address = bytes([10, 0, 0, 1])
    cid = ids.issue(address, 600)
    for n in range(MACS_REMEMBERED + 10):  # a flood of sources empties the table once
        ids.issue(n.to_bytes(4, "big"), 600)
        assert len(ids._recent) <= MACS_REMEMBERED
    assert ids.check(cid, address, 700) and fresh.check(cid, address, 700)
    assert ids.issue(address, 600) == fresh.issue(address, 600) == cid


def test_announce_with_valid_id_becomes_a_store_job() -> None:
    t = tracker()
    out = t.datagram_received(announce(connect(t)), packed(HOST), 1001)
    assert isinstance(out, AnnounceJob)
    a = out.announcement
    assert a.address == pack_address(HOST, 6881)
    assert (a.numwant, a.event, a.left, a.key, a.same_family_only) == (
        50,
        Event.STARTED,
        5,
        1,
        True,
    )


def test_spoofed_connection_id_gets_an_error_no_larger_than_the_packet() -> None:
    t = tracker()
    cid = connect(t)
    packet = announce(cid)
    out = t.datagram_received(packet, packed("127.0.0.9"), 1001)  # another source address
    assert "connection id" in error_text(out)
    assert isinstance(out, Send) and len(out.data) <= len(packet)
    forged = ScrapeRequest(12345, 3, (HASH,)).encode()
    out = t.datagram_received(forged, packed(HOST), 1001)
    assert isinstance(out, Send) and len(out.data) <= len(forged)
    assert decode_response(out.data).transaction_id == 3


def test_expired_connection_id_is_refused() -> None:
    t = tracker()
    cid = connect(t, now=1000)
    assert "expired" in error_text(t.datagram_received(announce(cid), packed(HOST), 1000 + 151))


def test_connect_flood_from_one_address_is_dropped_silently() -> None:
    t = tracker(rate=1, burst=5)
    answered = [
        t.datagram_received(ConnectRequest(n).encode(), packed(HOST), 50.0) for n in range(20)
    ]
    assert sum(out is not None for out in answered) == 5
    assert t.datagram_received(ConnectRequest(1).encode(), packed("127.0.0.2"), 50.0) is not None
    assert t.datagram_received(ConnectRequest(1).encode(), packed(HOST), 51.0) is not None


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(rate=1, burst=2, max_tracked=100)
    for n in range(1000):
        assert limiter.allow(n.to_bytes(4, "big"), 0.0)
    assert len(limiter) <= 100
    with pytest.raises(ValueError, match="rate"):
        RateLimiter(0, 1)


def test_huge_numwant_is_capped_to_one_unfragmented_datagram() -> None:
    t = tracker()
    out = t.datagram_received(announce(connect(t), num_want=10**6), packed(HOST), 1001)
    assert isinstance(out, AnnounceJob) and out.announcement.numwant == MAX_PEERS_V4
    cid6 = connect(t, host="::1")
    out6 = t.datagram_received(announce(cid6, num_want=2**31 - 1), packed("::1"), 1001)
    assert isinstance(out6, AnnounceJob) and out6.announcement.numwant == MAX_PEERS_V6
    peers = tuple(bytes(16) + n.to_bytes(2, "big") for n in range(MAX_PEERS_V6))
    data = t.announce_reply(out6, AnnounceResult(peers, SwarmCounts(1, 2, 0)))
    assert len(data) <= SAFE_DATAGRAM
    reply = decode_response(data, ipv6=True)
    assert isinstance(reply, AnnounceResponse) and len(reply.addresses()) == MAX_PEERS_V6
    assert (reply.seeders, reply.leechers, reply.interval) == (1, 2, 120)


def test_port_zero_and_claimed_ip() -> None:
    t = tracker()
    assert "port 0" in error_text(
        t.datagram_received(announce(connect(t), port=0), packed(HOST), 1001)
    )
    out = t.datagram_received(announce(connect(t), ip=0x0A000001), packed(HOST), 1001)
    assert isinstance(out, AnnounceJob) and out.announcement.address[:4] == bytes([127, 0, 0, 1])
    t = tracker(trusting=True)
    out = t.datagram_received(announce(connect(t), ip=0x0A000001), packed(HOST), 1001)
    assert isinstance(out, AnnounceJob)
    assert out.announcement.address == pack_address("10.0.0.1", 6881)


def test_scrape_job_and_reply() -> None:
    t = tracker()
    out = t.datagram_received(ScrapeRequest(connect(t), 5, (HASH,)).encode(), packed(HOST), 1001)
    assert isinstance(out, ScrapeJob) and out.info_hashes == (HASH,)
    reply = decode_response(t.scrape_reply(out, [SwarmCounts(4, 5, 6)]))
    assert reply == ScrapeResponse(5, (SwarmCounts(4, 5, 6),))


def test_private_mode_takes_the_passkey_from_bep41_url_data() -> None:
    t = tracker(private=True)
    t.access.add_passkey("abcdefgh12")
    t.access.allow(HASH)
    cid = connect(t)
    assert "private" in error_text(t.datagram_received(announce(cid), packed(HOST), 1001))
    good = announce(cid, url_data=b"/announce/abcdefgh12")
    assert isinstance(t.datagram_received(good, packed(HOST), 1001), AnnounceJob)
    bad = announce(cid, url_data=b"/announce/zzzzzzzz99")
    assert error_text(t.datagram_received(bad, packed(HOST), 1001)) == "unknown passkey"
    scrape = ScrapeRequest(cid, 1, (HASH,)).encode()
    assert "private" in error_text(t.datagram_received(scrape, packed(HOST), 1001))


def test_passkey_paths() -> None:
    assert passkey_in_path("/announce/abcdefgh12?x=1") == "abcdefgh12"
    assert passkey_in_path("/abcdefgh12/announce") == "abcdefgh12"
    assert passkey_in_path("/announce") is None
    assert passkey_in_path("/announce/short") is None


@given(st.binary(max_size=200))
def test_fuzz_unproven_packets_never_get_a_larger_reply(packet: bytes) -> None:
    out = tracker().datagram_received(packet, packed(HOST), 1000.0)
    if isinstance(out, Send):
        assert len(out.data) <= len(packet)
    else:
        assert out is None


@given(st.binary(min_size=0, max_size=120))
def test_fuzz_after_a_valid_header_no_unexpected_exception(tail: bytes) -> None:
    t = tracker()
    cid = connect(t)
    for action in (1, 2, 7):
        packet = cid.to_bytes(8, "big") + action.to_bytes(4, "big") + tail
        out = t.datagram_received(packet, packed(HOST), 1000.0)
        assert out is None or isinstance(out, Send | AnnounceJob | ScrapeJob)
