"""The UDP tracker's hot path answers byte for byte what the dataclass path answers (BEP 15).

Two trackers over two registries with the same random seed see the same
datagrams: one tries :meth:`UdpTracker.announce_inline` first and falls back
to the general path when it declines, the other always takes the general
path (:meth:`UdpTracker.datagram_received`, then the store job). Their
replies must be identical, for valid and malformed packets alike.
"""

from __future__ import annotations

import random
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.tracker.access import AccessList
from bitswarm.core.tracker.connection_ids import MACS_REMEMBERED, ConnectionIds
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.core.tracker.rate_limit import RateLimiter
from bitswarm.core.tracker.registry import Registry
from bitswarm.core.tracker.udp import AnnounceRequest, ConnectRequest, ScrapeRequest
from bitswarm.core.tracker.udp_server import AnnounceJob, ScrapeJob, Send, UdpTracker

NOW = 3000.0
SOURCES = (bytes((127, 0, 0, 1)), bytes((127, 0, 0, 2)), b"\x00" * 15 + b"\x01")
SECRET = b"hot path secret"
HASHES = (b"\x01" * 20, b"\x02" * 20)


def make_tracker(private: bool, trusting: bool) -> UdpTracker:
    return UdpTracker(
        TrackerPolicy(interval=600, allow_claimed_ip=trusting),
        AccessList(private=private),
        ConnectionIds(SECRET),
        RateLimiter(1000, 1000),
    )


def general_path(tracker: UdpTracker, registry: Registry, packet: bytes, ip: bytes) -> bytes | None:
    outcome = tracker.datagram_received(packet, ip, NOW)
    if isinstance(outcome, Send):
        return outcome.data
    if isinstance(outcome, AnnounceJob):
        return tracker.announce_reply(outcome, registry.announce(outcome.announcement, NOW))
    if isinstance(outcome, ScrapeJob):
        return tracker.scrape_reply(outcome, registry.scrape(outcome.info_hashes))
    return None


def issued_id(source: int) -> int:
    return ConnectionIds(SECRET).issue(SOURCES[source], NOW)


def announce_packet(source: int, stale: int, peer: int, **fields: Any) -> tuple[int, bytes]:
    """An announce from ``source``; a nonzero ``stale`` spoils its connection id."""
    request = AnnounceRequest(
        connection_id=issued_id(source) ^ stale,
        peer_id=struct.pack(">I16x", peer),
        downloaded=0,
        uploaded=0,
        ip=fields.pop("claimed"),
        key=0,
        **fields,
    )
    return source, request.encode()


announces = st.builds(
    announce_packet,
    source=st.integers(0, len(SOURCES) - 1),
    stale=st.sampled_from((0, 0, 0, 0, 1)),
    transaction_id=st.integers(0, 2**32 - 1),
    info_hash=st.sampled_from(HASHES),
    peer=st.integers(0, 40),
    left=st.sampled_from((0, 0, 1, 1 << 40)),
    event=st.integers(0, 3),
    claimed=st.sampled_from((0, 0, 0, 0x0A000001)),
    num_want=st.sampled_from((-1, 0, 1, 5, 50, 1000, 2**31 - 1)),
    port=st.sampled_from((0, 1, 6881, 6881, 6882, 65535)),
    url_data=st.sampled_from((b"", b"", b"", b"/announce?passkey=x")),
)


@st.composite
def datagrams(draw: st.DrawFn) -> tuple[int, bytes]:
    """An announce, often plain, sometimes broken or another request."""
    source, packet = draw(announces)
    kind = draw(st.sampled_from(("plain",) * 6 + ("cut", "flip", "connect", "scrape", "junk")))
    if kind == "cut":
        packet = packet[: draw(st.integers(0, len(packet) - 1))]
    elif kind == "flip":
        at = draw(st.integers(0, len(packet) - 1))
        packet = packet[:at] + bytes((packet[at] ^ draw(st.integers(1, 255)),)) + packet[at + 1 :]
    elif kind == "connect":
        packet = ConnectRequest(draw(st.integers(0, 2**32 - 1))).encode()
    elif kind == "scrape":
        packet = ScrapeRequest(issued_id(source), 9, HASHES).encode()
    elif kind == "junk":
        packet = draw(st.binary(max_size=120))
    return source, packet


@settings(max_examples=150, deadline=None)
@given(
    traffic=st.lists(datagrams(), min_size=1, max_size=60),
    private=st.booleans(),
    trusting=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_hot_path_answers_as_the_dataclass_path(
    traffic: list[tuple[int, bytes]], private: bool, trusting: bool, seed: int
) -> None:
    hot, hot_registry = make_tracker(private, trusting), Registry(1200, random.Random(seed))
    slow, slow_registry = make_tracker(private, trusting), Registry(1200, random.Random(seed))
    for source, packet in traffic:
        ip = SOURCES[source]
        reply = hot.announce_inline(packet, ip, NOW, hot_registry.announce_values)
        if reply is None:
            reply = general_path(hot, hot_registry, packet, ip)
        assert reply == general_path(slow, slow_registry, packet, ip)
    assert hot_registry.stats() == slow_registry.stats()
    assert hot_registry.scrape(HASHES) == slow_registry.scrape(HASHES)


def test_a_plain_announce_takes_the_hot_path_and_the_rest_do_not() -> None:
    tracker, registry = make_tracker(False, False), Registry(1200, random.Random(1))
    cid = issued_id(0)

    def inline(packet: bytes, source: int = 0) -> bytes | None:
        return tracker.announce_inline(packet, SOURCES[source], NOW, registry.announce_values)

    def announce(peer: int, **changes: object) -> bytes:
        fields: dict[str, object] = {
            "connection_id": cid, "transaction_id": peer, "info_hash": HASHES[0],
            "peer_id": bytes([peer]) * 20, "downloaded": 0, "left": 5, "uploaded": 0,
            "event": 2, "ip": 0, "key": 0, "num_want": -1, "port": 6000 + peer,
        }  # fmt: skip
        fields.update(changes)
        return AnnounceRequest(**fields).encode()  # type: ignore[arg-type]

    first = inline(announce(1))
    assert first == struct.pack(">IIIII", 1, 1, 600, 1, 0)
    second = inline(announce(2, left=0))
    assert second == struct.pack(">IIIII", 1, 2, 600, 1, 1) + bytes((127, 0, 0, 1)) + b"\x17\x71"
    assert inline(announce(3, port=0)) is None
    assert inline(announce(3, connection_id=cid ^ 1)) is None
    assert inline(announce(3, url_data=b"/x")) is None
    assert inline(announce(3)[:97]) is None
    assert inline(ConnectRequest(3).encode()) is None
    assert inline(announce(3), source=1) is None  # the id was issued to another address
    assert registry.stats().peers == 2


def test_proven_connection_ids_are_bounded_and_change_no_answer() -> None:
    ids, fresh = ConnectionIds(SECRET), ConnectionIds(SECRET)
    address = SOURCES[0]
    cid = ids.issue(address, 600)
    for n in range(MACS_REMEMBERED + 10):  # a flood of proven sources empties the table once
        source = n.to_bytes(4, "big")
        assert ids.check(ids.issue(source, 600), source, 600)
        assert len(ids._proven) <= MACS_REMEMBERED
    for now in (600, 749.9, 750, 599.9, 700):  # the last two: the clock stepped back
        assert ids.check(cid, address, now) == fresh.check(cid, address, now) == (600 <= now < 750)
