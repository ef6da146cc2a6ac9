"""A geometry of coarse blocks (the simulator's fast path) through the core.

Every real peer trades 16 KiB blocks; these tests pin down what a geometry of
256 KiB blocks changes: blocks, requests and the largest request served
follow the geometry, and every setting that counts blocks still counts 16 KiB
ones, so about as many bytes are asked for and queued as with real blocks.
"""

from __future__ import annotations

import random

import pytest

from bitswarm.core.swarm.actions import Disconnect, ReadBlock, Send
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.pieces import BLOCK_SIZE, BlockRef, PieceGeometry
from bitswarm.core.swarm.pipeline import Answer, PipelineConfig, RequestPipeline
from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.messages import HaveAll, HaveNone, Interested, Message, Request, Unchoke

KIB = 1024
COARSE = 256 * KIB
WIRE_BLOCKS = COARSE // BLOCK_SIZE
PIECE = 1024 * KIB
CONFIG = PipelineConfig()


def test_coarse_blocks_cut_pieces_and_convert_block_counts() -> None:
    geometry = PieceGeometry(PIECE, 2 * PIECE + 300 * KIB, COARSE)
    assert geometry.wire_blocks == WIRE_BLOCKS
    assert [geometry.block_count(p) for p in range(3)] == [4, 4, 2]
    assert geometry.block(2, 1) == BlockRef(2, COARSE, 44 * KIB)
    assert geometry.block_index(BlockRef(1, 3 * COARSE, COARSE)) == 3
    with pytest.raises(ValueError, match="does not start a block"):
        geometry.block_index(BlockRef(0, BLOCK_SIZE, BLOCK_SIZE))  # a real block is not one here
    assert [geometry.blocks(n) for n in (0, 1, 16, 17, 500)] == [0, 1, 1, 2, 32]
    real = PieceGeometry(PIECE, PIECE)
    assert real.block_size == BLOCK_SIZE and [real.blocks(n) for n in (0, 1, 500)] == [0, 1, 500]


@pytest.mark.parametrize(
    ("block_size", "piece_length", "message"),
    [
        (20 * KIB, PIECE, "block size 20480 must be a positive multiple of 16384"),
        (0, PIECE, "block size 0"),
        (COARSE, 384 * KIB, "a multiple of 262144"),
    ],
)
def test_a_block_that_is_not_whole_16_kib_blocks_is_refused(
    block_size: int, piece_length: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PieceGeometry(piece_length, 10 * PIECE, block_size)


def test_a_piece_shorter_than_a_coarse_block_is_one_block() -> None:
    geometry = PieceGeometry(64 * KIB, 200 * KIB, COARSE)
    assert [geometry.block(p, 0).length for p in range(4)] == [65536] * 3 + [8192]


def test_a_coarse_pipeline_asks_for_the_bytes_a_real_one_does() -> None:
    real, coarse = RequestPipeline(CONFIG), RequestPipeline(CONFIG, wire_blocks=WIRE_BLOCKS)
    for pipeline in (real, coarse):
        pipeline.slow_start = False
    for rate in (0.0, 100 * BLOCK_SIZE / CONFIG.target_latency, 1e12):
        assert coarse.depth(rate) == -(-real.depth(rate) // WIRE_BLOCKS)
    assert coarse.depth(0.0) == 1  # min_depth of 4 real blocks: one coarse request
    assert coarse.depth(1e12) == CONFIG.max_depth // WIRE_BLOCKS + 1


def test_a_coarse_block_grows_slow_start_by_the_real_blocks_it_stands_for() -> None:
    pipeline = RequestPipeline(CONFIG, wire_blocks=WIRE_BLOCKS)
    first = BlockRef(0, 0, COARSE)
    assert pipeline.room(0.0, 0.0) == 1
    pipeline.sent(first, 0.0)
    assert pipeline.answered(first, 0.05) is Answer.EXPECTED
    # the ramp went from 4 to 4 + 16 real blocks: two coarse requests
    assert pipeline.slow_start and pipeline.room(0.0, 0.05) == 2


def _swarm(have: Bitfield) -> TorrentSwarm:
    geometry = PieceGeometry(PIECE, 4 * PIECE, COARSE)
    return TorrentSwarm(geometry, have, random.Random(1), 0.0)


def _feed(swarm: TorrentSwarm, *messages: Message) -> list[object]:
    for message in messages:
        swarm.message_received("p", message, 0.0)
    return list(swarm.actions())


def _join(swarm: TorrentSwarm) -> None:
    swarm.peer_connected("p", Handshake(bytes(20), b"p".ljust(20, b"-"), Extensions.FAST), 0.0)
    swarm.actions()


def test_a_coarse_leecher_requests_coarse_blocks() -> None:
    swarm = _swarm(Bitfield(4))
    _join(swarm)
    actions = _feed(swarm, HaveAll(), Unchoke())
    requests = [a.message for a in actions if isinstance(a, Send) and type(a.message) is Request]
    assert requests and all(r.length == COARSE for r in requests)
    assert len(requests) == 1  # slow start's four real blocks, rounded up


def test_a_coarse_seed_serves_one_coarse_block_a_request_and_no_more() -> None:
    swarm = _swarm(Bitfield.full(4))
    _join(swarm)
    actions = _feed(swarm, HaveNone(), Interested())
    assert Send("p", Unchoke()) in actions
    two = [Request(0, 0, COARSE), Request(0, COARSE, COARSE)]
    reads = [a for a in _feed(swarm, *two) if isinstance(a, ReadBlock)]
    assert reads == [ReadBlock("p", two[0])]  # 16 real reads in flight: one coarse read
    (dropped,) = [a for a in _feed(swarm, Request(1, 0, COARSE + 1)) if isinstance(a, Disconnect)]
    assert "at most 262144" in dropped.reason
