"""The simulator's parts alone: event order, links, disks, tracker, and the super-seed policy."""

from __future__ import annotations

import gc
import hashlib
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitswarm.core.swarm.pieces import BLOCK_SIZE, PieceGeometry
from bitswarm.core.swarm.super_seed import SuperSeeder
from bitswarm.core.wire import messages
from bitswarm.core.wire.messages import Have, HaveAll, HaveBitfield, HaveNone, Message
from bitswarm.sim.disk import CountingDisk, DiskFull, ExactDisk
from bitswarm.sim.engine import COLLECT_EVERY, EventLoop
from bitswarm.sim.links import SEND_BUFFER, Endpoint, wire_size
from bitswarm.sim.tracker import VirtualTracker


def test_events_run_in_time_order_and_ties_in_scheduling_order() -> None:
    loop = EventLoop()
    seen: list[tuple[float, str]] = []
    for when, name in ((2.0, "c"), (1.0, "a"), (2.0, "d"), (1.0, "b")):
        loop.at(when, lambda n: seen.append((loop.now, n)), name)
    assert loop.run(lambda: len(seen) == 4, until=10.0)
    assert seen == [(1.0, "a"), (1.0, "b"), (2.0, "c"), (2.0, "d")]
    assert loop.events == 4


def test_run_stops_at_the_limit_and_never_schedules_into_the_past() -> None:
    loop = EventLoop()
    fired: list[float] = []
    loop.at(5.0, fired.append, 5.0)
    assert not loop.run(lambda: False, until=3.0)
    assert loop.now == 3.0 and fired == []
    loop.at(1.0, lambda _: fired.append(loop.now))  # in the past: runs now
    loop.run(lambda: len(fired) == 2, until=10.0)
    assert fired == [3.0, 5.0]


def test_events_run_with_fewer_collections_and_the_setting_comes_back() -> None:
    before = gc.get_threshold()
    loop = EventLoop()
    during: list[tuple[int, int, int]] = []
    loop.at(1.0, lambda _: during.append(gc.get_threshold()))
    loop.at(2.0, lambda _: 1 / 0)  # an event that fails still restores it
    with pytest.raises(ZeroDivisionError):
        loop.run(lambda: False, until=10.0)
    assert during == [(max(before[0], COLLECT_EVERY), *before[1:])]
    assert gc.get_threshold() == before


_SPANS = (messages.Request, messages.Cancel, messages.RejectRequest)
_ONE_BLOCK = st.integers(0, BLOCK_SIZE)
_COARSE_LENGTH = st.integers(BLOCK_SIZE + 1, 70 * BLOCK_SIZE)
_MESSAGES = st.one_of(
    st.builds(messages.KeepAlive),
    st.sampled_from(
        [messages.Choke(), messages.Unchoke(), messages.Interested(), messages.NotInterested()]
    ),
    st.sampled_from([HaveAll(), HaveNone()]),
    st.builds(Have, st.integers(0, 2**32 - 1)),
    st.builds(messages.AllowedFast, st.integers(0, 2**32 - 1)),
    *[
        st.builds(kind, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), _ONE_BLOCK)
        for kind in _SPANS
    ],
    st.builds(
        messages.Piece,
        st.integers(0, 2**32 - 1),
        st.integers(0, 2**32 - 1),
        st.binary(max_size=BLOCK_SIZE),
    ),
    st.builds(HaveBitfield, st.binary()),
    st.builds(messages.Port, st.integers(0, 2**16 - 1)),
)


@given(_MESSAGES)
def test_the_fast_path_charges_exactly_the_encoded_size(message: Message) -> None:
    assert wire_size(message) == len(message.encode())


def train(message: Message) -> list[Message]:
    """The 16 KiB messages a real peer sends for one coarse block's message."""

    if isinstance(message, messages.Piece):
        index, begin, data = message.index, message.begin, message.block
        return [
            messages.Piece(index, begin + offset, data[offset : offset + BLOCK_SIZE])
            for offset in range(0, len(data), BLOCK_SIZE)
        ]
    assert isinstance(message, _SPANS)
    return [
        type(message)(message.index, message.begin + o, min(BLOCK_SIZE, message.length - o))
        for o in range(0, message.length, BLOCK_SIZE)
    ]


_COARSE = st.one_of(
    *[
        st.builds(kind, st.integers(0, 2**31), st.integers(0, 2**31), _COARSE_LENGTH)
        for kind in _SPANS
    ],
    st.builds(
        messages.Piece,
        st.integers(0, 2**31),
        st.integers(0, 2**31),
        _COARSE_LENGTH.map(bytes),
    ),
)


@given(_COARSE)
def test_a_coarse_block_is_charged_as_its_train_of_16_kib_messages(message: Message) -> None:
    assert wire_size(message) == sum(len(part.encode()) for part in train(message))


def test_an_uplink_is_a_fifo_at_its_rate_and_reads_wait_for_buffer_room() -> None:
    link = Endpoint(upload=1000.0, latency=0.01)
    assert link.send(500, now=0.0) == pytest.approx(0.5)
    assert link.send(500, now=0.2) == pytest.approx(1.0)  # queued behind the first
    assert link.send(100, now=3.0) == pytest.approx(3.1)  # idle link starts at once
    assert link.read_ready_at(3.0) == 3.0  # far less than a send buffer queued
    link.send(SEND_BUFFER * 2, now=3.1)
    assert link.read_ready_at(3.1) == pytest.approx(3.1 + SEND_BUFFER / 1000.0)
    down = Endpoint(upload=1.0, download=100.0)
    assert down.receive(50, now=1.0) == pytest.approx(1.5)
    assert down.receive(50, now=1.0) == pytest.approx(2.0)


def test_links_refuse_capacities_that_are_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Endpoint(upload=0.0)
    with pytest.raises(ValueError, match="latency"):
        Endpoint(upload=1.0, latency=-1.0)


def test_exact_disk_verifies_by_hash_and_fills_up() -> None:
    geometry = PieceGeometry(16384, 20000)
    content = random.Random(1).randbytes(20000)
    hashes = [hashlib.sha1(content[:16384]).digest(), hashlib.sha1(content[16384:]).digest()]
    disk = ExactDisk(geometry, hashes, capacity=20000)
    disk.write(1, 0, content[16384:])
    assert disk.verify(1) and not disk.verify(0)
    disk.write(0, 0, bytes(16384))
    assert not disk.verify(0)  # zeros are not the piece
    with pytest.raises(DiskFull, match="piece 0"):
        disk.write(0, 0, content[:16384])
    seeded = ExactDisk(geometry, hashes, content)
    assert seeded.verify(0) and seeded.read(1, 10, 5) == content[16394:16399]


def test_counting_disk_needs_every_byte_and_starts_a_failed_piece_over() -> None:
    geometry = PieceGeometry(32768, 40000)
    disk = CountingDisk(geometry, complete=False)
    disk.write(0, 0, bytes(16384))
    assert not disk.verify(0)
    disk.write(0, 16384, bytes(16384))
    assert not disk.verify(0)  # the first block was dropped with the failed check
    disk.write(0, 0, bytes(16384))
    disk.write(0, 0, bytes(16384))  # written twice: still one block
    assert not disk.verify(0)
    disk.write(0, 0, bytes(16384))
    disk.write(0, 16384, bytes(16384))
    assert disk.verify(0)
    assert disk.read(1, 0, 7232) == bytes(7232)
    assert CountingDisk(geometry, complete=True).verify(1)
    full = CountingDisk(geometry, complete=False, capacity=20000)
    full.write(1, 0, bytes(7232))
    with pytest.raises(DiskFull, match="piece 0"):
        full.write(0, 0, bytes(16384))


def test_tracker_hands_out_numwant_distinct_others_and_forgets_leavers() -> None:
    tracker = VirtualTracker(random.Random(3), numwant=5)
    assert tracker.announce(0) == []
    for peer in range(1, 20):
        answer = tracker.announce(peer)
        assert peer not in answer and len(answer) == len(set(answer)) == min(peer, 5)
    tracker.leave(7)
    assert 7 not in tracker and len(tracker) == 19
    for _ in range(50):
        assert 7 not in tracker.announce(3)
    with pytest.raises(ValueError, match="numwant"):
        VirtualTracker(random.Random(), numwant=0)


def test_super_seeder_hides_its_pieces_and_offers_a_new_one_once_the_last_spread() -> None:
    seeder = SuperSeeder(piece_count=4)
    for peer in ("a", "b", "c"):
        seeder.peer_connected(peer)
    first = seeder.outgoing("a", HaveAll())
    second = seeder.outgoing("b", HaveBitfield(b"\xf0"))
    assert first[0] == HaveNone() and second[0] == HaveNone()
    offered_a, offered_b = seeder.offered("a"), seeder.offered("b")
    assert offered_a is not None and offered_b is not None
    assert first[1] == Have(offered_a) and second[1] == Have(offered_b)
    assert offered_a != offered_b  # pieces never offered come first
    assert seeder.outgoing("a", messages.Unchoke()) == [messages.Unchoke()]
    assert seeder.incoming("a", Have(offered_a)) == []  # a has it; not yet seen elsewhere
    assert seeder.incoming("c", Have(offered_a)) == [("a", Have(seeder.offered("a") or 0))]
    assert seeder.offered("a") not in (offered_a, None)


def test_super_seeder_reoffers_when_a_summary_shows_the_offer_was_already_held() -> None:
    seeder = SuperSeeder(piece_count=2)
    seeder.peer_connected("a")
    [_, offer] = seeder.outgoing("a", HaveAll())
    assert isinstance(offer, Have)
    [(peer, again)] = seeder.incoming("a", HaveBitfield(bytes([0x80 >> offer.index])))
    assert peer == "a" and again == Have(1 - offer.index)
    assert seeder.incoming("a", HaveBitfield(b"\xff")) == []  # bad spare bits: ignored here
    assert seeder.incoming("stranger", Have(0)) == []


def test_super_seeder_forgets_a_peer_that_leaves() -> None:
    seeder = SuperSeeder(piece_count=3)
    seeder.peer_connected("a")
    seeder.peer_connected("b")
    seeder.incoming("a", HaveAll())
    seeder.peer_disconnected("a")
    assert seeder.offered("a") is None
    [_, offer] = seeder.outgoing("b", HaveAll())
    assert offer == Have(seeder.offered("b") or 0) and seeder.offered("b") is not None
    with pytest.raises(ValueError, match="piece"):
        SuperSeeder(0)
