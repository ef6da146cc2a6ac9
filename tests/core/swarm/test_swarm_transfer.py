"""Whole downloads between TorrentSwarm instances in memory (see swarm_harness)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from swarm_harness import MemorySwarm

from bitswarm.core.swarm.pieces import BLOCK_SIZE
from bitswarm.core.swarm.pipeline import PipelineConfig

MIB = 1024 * 1024


def content(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "plain"])
def test_seed_to_leecher_is_byte_exact(fast: bool) -> None:
    data = content(MIB + 12_345)  # a short last piece with a short last block
    net = MemorySwarm(data, 4 * BLOCK_SIZE)
    seed = net.add_node("seed", complete=True)
    leecher = net.add_node("leecher")
    net.connect("seed", "leecher", fast=fast)
    net.run(lambda: leecher.finished_at is not None, limit=60)

    assert leecher.data() == data
    assert sorted(leecher.done) == list(range(net.geometry.piece_count))
    down, up = leecher.swarm.totals(), seed.swarm.totals()
    assert (down.downloaded, down.wasted, down.left) == (len(data), 0, 0)
    assert up.uploaded == len(data)
    assert ("seed", "both sides are seeds") in leecher.disconnects
    assert leecher.received["HaveAll" if fast else "HaveBitfield"] == 1


def test_fast_peer_fills_its_pipeline() -> None:
    """A 100 MB/s link with 10 ms latency needs ~120 blocks in flight: slow start finds them."""

    data = content(32 * MIB)
    net = MemorySwarm(data, 16 * BLOCK_SIZE, latency=0.01)
    net.add_node("seed", complete=True, upload_rate=100e6)
    leecher = net.add_node("leecher")
    net.connect("seed", "leecher")
    net.run(lambda: leecher.finished_at is not None, limit=60)

    assert leecher.data() == data
    ideal = len(data) / 100e6 + 2 * net.latency
    assert leecher.finished_at is not None
    assert leecher.finished_at < 1.5 * ideal, (leecher.finished_at, ideal)


def test_one_seed_five_leechers_trade() -> None:
    """The seed uploads about one copy; the leechers get the rest from each other."""

    data = content(16 * MIB, seed=3)
    net = MemorySwarm(data, 4 * BLOCK_SIZE, seed=3)
    seed = net.add_node("seed", complete=True, upload_rate=1e6)
    leechers = [net.add_node(f"leecher{i}", upload_rate=1e6) for i in range(5)]
    net.connect_all()
    net.run(net.all_finished, limit=120)

    assert all(node.data() == data for node in leechers)
    seed_copies = seed.swarm.totals().uploaded / len(data)
    assert 1.0 <= seed_copies < 1.5, seed_copies
    traded = sum(node.swarm.totals().uploaded for node in leechers)
    assert traded >= 5 * len(data) - seed.swarm.totals().uploaded
    finish = max(node.finished_at or 0 for node in leechers)
    assert finish < 2 * len(data) / 1e6  # the seed alone would need five times T_min


def test_corrupt_peer_is_banned_and_download_completes() -> None:
    data = content(2 * MIB, seed=5)
    net = MemorySwarm(data, 4 * BLOCK_SIZE, seed=5)
    net.add_node("honest", complete=True, upload_rate=1e6)
    net.add_node("liar", complete=True, upload_rate=1e6, corrupt=True)
    leecher = net.add_node("leecher", upload_rate=1e6)
    net.connect("honest", "leecher")
    net.connect("liar", "leecher")
    net.run(lambda: leecher.finished_at is not None, limit=120)

    assert leecher.data() == data
    assert [peer for peer, _ in leecher.bans] == ["liar"]
    assert leecher.swarm.totals().wasted == 0  # bad blocks are caught by the hash, not counted
    assert sorted(leecher.done) == list(range(net.geometry.piece_count))  # each piece once


def test_mute_peer_times_out_and_its_blocks_go_elsewhere() -> None:
    """The honest peer is slow enough (about 26 s) for the mute one's requests to time out."""

    data = content(MIB, seed=7)
    net = MemorySwarm(data, 4 * BLOCK_SIZE, seed=7)
    mute = net.add_node("mute", complete=True, mute=True)
    net.add_node("honest", complete=True, upload_rate=40e3)
    leecher = net.add_node("leecher")
    net.connect("mute", "leecher")
    net.connect("honest", "leecher")
    timeout = PipelineConfig().timeout_initial
    net.run(lambda: net.now > timeout + 1, limit=120)
    assert leecher.finished_at is None
    (stats,) = [s for s in leecher.swarm.peer_stats(net.now) if s.key == "mute"]
    assert stats.snubbed
    assert stats.queue_depth == 1 >= stats.outstanding  # a snubbed peer gets one at a time
    net.run(lambda: leecher.finished_at is not None, limit=120)

    assert leecher.data() == data
    # the first requests timed out; after them, one at a time (plus one endgame duplicate)
    assert mute.received["Cancel"] >= PipelineConfig().min_depth
    assert mute.received["Request"] - mute.received["Cancel"] <= 2
    assert mute.swarm.totals().uploaded == 0


@settings(max_examples=60, deadline=None)
@example(  # a fast liar once won every endgame race for the last block of a failed piece
    seed=179,
    size=73496,
    blocks_per_piece=4,
    leechers=1,
    fast=[True, False, True, True, False, True],
    rates=[1e6, 20e6, 50e3, 1e6, 20e6, 20e6],
    liar=True,
)
@given(
    seed=st.integers(0, 2**16),
    size=st.integers(1, 40 * BLOCK_SIZE),
    blocks_per_piece=st.sampled_from([1, 2, 4]),
    leechers=st.integers(1, 4),
    fast=st.lists(st.booleans(), min_size=6, max_size=6),
    rates=st.lists(st.sampled_from([50e3, 1e6, 20e6]), min_size=6, max_size=6),
    liar=st.booleans(),
)
def test_random_swarms_always_finish_byte_exact(
    seed: int,
    size: int,
    blocks_per_piece: int,
    leechers: int,
    fast: list[bool],
    rates: list[float],
    liar: bool,
) -> None:
    """Any mix of fast and plain peers, rates, piece sizes, with or without a seed that serves
    corrupt data: every honest node finishes byte-exact, and honest peers never drop each
    other except as two seeds."""

    data = content(size, seed)
    net = MemorySwarm(data, blocks_per_piece * BLOCK_SIZE, seed=seed)
    names = ["seed"] + [f"leecher{i}" for i in range(leechers)]
    for index, name in enumerate(names):
        net.add_node(name, complete=index == 0, upload_rate=rates[index])
    if liar:
        net.add_node("liar", complete=True, upload_rate=rates[-1], corrupt=True)
    everyone = list(net.nodes)
    for a, b in itertools.combinations(range(len(everyone)), 2):
        net.connect(everyone[a], everyone[b], fast=fast[a] and fast[b])
    net.run(net.all_finished, limit=3600)
    for name in names:
        node = net.nodes[name]
        assert node.data() == data
        honest_drops = [reason for peer, reason in node.disconnects if peer != "liar"]
        assert set(honest_drops) <= {"both sides are seeds"}
        assert {peer for peer, _ in node.bans} <= {"liar"}
