"""A simulated download against random peers: the picker always finishes, never
asks a peer for a piece it lacks, never picks a piece we have, and keeps its
counters consistent through rejects, departures, hash failures, endgame, and
priority and mode changes mid-download."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.picker import PiecePicker
from bitswarm.core.swarm.pieces import BLOCK_SIZE, BlockRef, PieceGeometry

MAX_STEPS = 5000


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    pieces=st.integers(1, 12),
    blocks=st.integers(1, 4),
    tail=st.integers(1, BLOCK_SIZE * 4),
    peer_count=st.integers(1, 5),
    random_first=st.integers(0, 3),
)
def test_random_swarm_download_finishes(
    seed: int, pieces: int, blocks: int, tail: int, peer_count: int, random_first: int
) -> None:
    rng = random.Random(seed)
    piece_length = BLOCK_SIZE * blocks
    total = piece_length * (pieces - 1) + min(tail, piece_length)
    geometry = PieceGeometry(piece_length, total)
    picker = PiecePicker(geometry, random.Random(seed + 1), random_first=random_first)
    priorities = [rng.choice([0, 1, 4, 7]) if rng.random() < 0.3 else 4 for _ in range(pieces)]
    picker.set_priorities(priorities)

    fields = [
        Bitfield.from_indices(pieces, (p for p in range(pieces) if rng.random() < 0.5))
        for _ in range(peer_count)
    ]
    for piece in range(pieces):  # every piece has a source somewhere
        fields[rng.randrange(peer_count)].set(piece)
    connected: set[int] = set()
    outstanding: list[tuple[int, BlockRef]] = []
    failed_once: set[int] = set()

    def join(peer: int) -> None:
        connected.add(peer)
        half = Bitfield.from_indices(pieces, (p for p in fields[peer] if rng.random() < 0.5))
        picker.peers.join(peer, half)  # the rest arrives as have messages
        for piece in fields[peer]:
            picker.peers.have(peer, piece)

    for peer in range(peer_count):
        join(peer)

    for _ in range(MAX_STEPS):
        if picker.is_finished():
            break
        action = rng.random()
        if action < 0.45:
            peer = rng.choice(sorted(connected))
            picked = picker.pick(peer, rng.randint(1, 6))
            for block in picked:
                assert fields[peer][block.piece], "picked a piece the peer lacks"
                assert not picker.have[block.piece], "picked a piece we have"
                assert priorities[block.piece] > 0, "picked a skipped piece"
                assert (peer, block) not in outstanding, "asked the same peer twice"
                outstanding.append((peer, block))
        elif action < 0.85 and outstanding:
            peer, block = outstanding.pop(rng.randrange(len(outstanding)))
            arrival = picker.block_received(peer, block)
            for cancel in arrival.cancel:
                outstanding.remove((cancel.peer, cancel.block))
            if arrival.wanted and picker.block_finished(block):
                if block.piece not in failed_once and rng.random() < 0.2:
                    failed_once.add(block.piece)
                    assert peer in picker.piece_failed(block.piece)
                else:
                    picker.piece_passed(block.piece)
        elif action < 0.93 and outstanding:
            peer, block = outstanding.pop(rng.randrange(len(outstanding)))
            picker.request_failed(peer, block)
        elif len(connected) > 1:
            peer = rng.choice(sorted(connected))
            picker.peer_left(peer)
            connected.discard(peer)
            outstanding = [(p, b) for p, b in outstanding if p != peer]
        if rng.random() < 0.02:  # the user changes a priority, or the mode, mid-download
            piece = rng.randrange(pieces)
            priorities[piece] = rng.choice([0, 1, 4, 7])
            picker.set_priority(piece, priorities[piece])
        if rng.random() < 0.01:
            picker.sequential = not picker.sequential
        if len(connected) < peer_count and rng.random() < 0.05:
            join(rng.choice([p for p in range(peer_count) if p not in connected]))
        assert picker.free_blocks >= 0
        assert picker.free_blocks == sum(
            picker.piece_state(p).count(".")
            for p in range(pieces)
            if priorities[p] and not picker.have[p]
        )

    assert picker.is_finished(), f"stuck: {[picker.piece_state(p) for p in range(pieces)]}"
    wanted = {p for p in range(pieces) if priorities[p]}
    assert wanted <= set(picker.have)
