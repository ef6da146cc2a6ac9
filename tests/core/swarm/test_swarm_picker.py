"""The piece picker, in libtorrent's style: state as strings, expected pick orders.

``availability`` strings give, per piece, how many peers have it ("7110000");
``have`` strings the pieces we have ("0011000"); ``priorities`` strings one
digit a piece. Pieces are one block unless a test says otherwise, so a pick of
``n`` blocks is a pick of ``n`` pieces.
"""

from __future__ import annotations

import random

import pytest

from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.picker import Arrival, Cancellation, PiecePicker
from bitswarm.core.swarm.pieces import BLOCK_SIZE, BlockRef, PieceGeometry


def setup_picker(
    availability: str,
    have: str = "",
    *,
    priorities: str = "",
    blocks: int = 1,
    random_first: int = 0,
    seed: int = 0,
    sequential: bool = False,
) -> PiecePicker:
    """A picker with peers ``p0``, ``p1``... laid out so that piece ``i`` is held by
    the first ``availability[i]`` of them."""

    count = len(availability)
    geometry = PieceGeometry(BLOCK_SIZE * blocks, BLOCK_SIZE * blocks * count)
    picker = PiecePicker(
        geometry,
        random.Random(seed),
        have=Bitfield.from_string(have) if have else None,
        random_first=random_first,
        sequential=sequential,
    )
    if priorities:
        picker.set_priorities([int(c) for c in priorities])
    counts = [int(c) for c in availability]
    for j in range(max(counts)):
        picker.peers.join(
            f"p{j}", Bitfield.from_indices(count, (i for i, c in enumerate(counts) if c > j))
        )
    picker.peers.join("seed", Bitfield.full(count))
    return picker


def pick_order(picker: PiecePicker, peer: str = "seed", count: int = 100) -> list[int]:
    return [block.piece for block in picker.pick(peer, count)]


def complete(picker: PiecePicker, block: BlockRef, peer: str = "seed") -> None:
    assert picker.block_received(peer, block).wanted
    if picker.block_finished(block):
        picker.piece_passed(block.piece)


def test_rarest_first() -> None:
    picker = setup_picker("1234561")
    order = pick_order(picker)
    assert sorted(order[:2]) == [0, 6]
    assert order[2:] == [1, 2, 3, 4, 5]


def test_rarest_first_with_pieces_only_the_picking_peer_has() -> None:
    picker = setup_picker("7110000")  # plus the seed we pick from: 8221111
    order = pick_order(picker)
    assert sorted(order[:4]) == [3, 4, 5, 6]
    assert sorted(order[4:6]) == [1, 2]
    assert order[6:] == [0]


def test_pieces_we_have_are_never_picked() -> None:
    picker = setup_picker("1111111", "0011000")
    assert sorted(pick_order(picker)) == [0, 1, 4, 5, 6]


def test_only_pieces_the_peer_has_are_picked() -> None:
    picker = setup_picker("3321100")
    assert sorted(pick_order(picker, "p2")) == [0, 1]
    assert sorted(pick_order(picker, "p1")) == [2]
    assert pick_order(picker, "p0") == [4, 3]  # rarest first; 0-2 are requested already


def test_ties_are_broken_by_the_seeded_generator() -> None:
    orders = {tuple(pick_order(setup_picker("1111111", seed=seed))) for seed in range(20)}
    assert len(orders) > 10
    assert all(sorted(order) == list(range(7)) for order in orders)
    assert pick_order(setup_picker("1111111", seed=5)) == pick_order(
        setup_picker("1111111", seed=5)
    )


def test_random_first_ignores_rarity_until_enough_pieces_are_complete() -> None:
    first_picks = {
        pick_order(setup_picker("9999991", random_first=2, seed=s), count=1)[0] for s in range(20)
    }
    assert first_picks != {6}  # rarity ignored
    picker = setup_picker("9999991", random_first=2, seed=3)
    for block in picker.pick("seed", 2):
        if block.piece != 6:
            complete(picker, block)
    if picker.have.count() < 2:  # the random pick happened to hit piece 6: finish another
        complete(picker, picker.pick("p0", 1)[0], "p0")
    assert picker.have.count() == 2
    assert picker.partial_pieces() in ([], [6])
    assert 6 in pick_order(picker, count=1) + picker.partial_pieces()


def test_rarest_first_once_random_first_is_over() -> None:
    assert all(
        pick_order(setup_picker("9999991", "1100000", random_first=2, seed=s), count=1) == [6]
        for s in range(10)
    )


def test_partial_pieces_are_finished_before_new_ones_are_started() -> None:
    picker = setup_picker("1121", blocks=4)  # p1 has only piece 2, the commonest
    assert [b.piece for b in picker.pick("p1", 1)] == [2]
    assert picker.piece_state(2) == "r..."
    assert [b.piece for b in picker.pick("seed", 3)] == [2, 2, 2]
    assert picker.piece_state(2) == "rrrr"
    assert picker.pick("seed", 1)[0].piece in (0, 1, 3)


def test_pieces_only_the_peer_has_go_before_partial_ones() -> None:
    picker = setup_picker("1100", blocks=4)  # pieces 2 and 3: only the seed has them
    started = picker.pick("p0", 1)[0].piece
    assert started in (0, 1)
    order = pick_order(picker, count=11)
    assert sorted(order[:8]) == [2, 2, 2, 2, 3, 3, 3, 3]  # what nobody else can give, first
    assert order[8:] == [started] * 3  # then the rest of the partial piece
    assert picker.piece_state(started) == "rrrr"


def test_a_failed_piece_comes_from_one_peer_at_a_time() -> None:
    picker = setup_picker("2", blocks=4)  # p0, p1 and the seed have the one piece
    for peer in ("p0", "p1"):
        for block in picker.pick(peer, 2):
            assert picker.block_received(peer, block).wanted
            picker.block_finished(block)
    assert picker.piece_failed(0) == {"p0", "p1"}  # both sent some: neither is to blame
    asked = picker.pick("p1", 2)  # the next attempt is p1's
    assert picker.pick("p0", 4) == []  # not while p1 has requests out, free blocks or not
    assert picker.pick("seed", 4) == []
    asked += picker.pick("p1", 4)
    assert len(asked) == 4 and picker.in_endgame
    assert picker.pick("seed", 4) == []  # no endgame duplicates either
    for block in asked:
        picker.request_failed("p1", block)
    assert picker.pick("seed", 4) == asked  # p1 gave them up: another peer may take them


def test_priorities_order_picks_and_zero_skips() -> None:
    picker = setup_picker("1111111", priorities="1700004")
    assert pick_order(picker) == [1, 6, 0]
    assert not picker.is_finished()
    for piece in (0, 1, 6):
        complete(picker, BlockRef(piece, 0, BLOCK_SIZE))
    assert picker.is_finished()
    assert not picker.is_interesting("seed")


def test_skipping_a_partial_piece_takes_its_blocks_out_of_play() -> None:
    picker = setup_picker("11", blocks=4)
    started = picker.pick("seed", 1)[0].piece
    assert picker.free_blocks == 7
    picker.set_priority(started, 0)
    assert picker.free_blocks == 4
    assert {b.piece for b in picker.pick("seed", 10)} == {1 - started}
    assert picker.in_endgame
    picker.set_priority(started, 1)  # wanted again: its three free blocks are back
    assert picker.free_blocks == 3 and not picker.in_endgame
    assert picker.piece_state(started) == "r..."


def test_priority_beats_partial_preference() -> None:
    picker = setup_picker("11", blocks=2)
    picker.pick("seed", 1)  # starts one piece
    started = picker.partial_pieces()[0]
    picker.set_priority(1 - started, 7)
    assert [b.piece for b in picker.pick("seed", 2)] == [1 - started] * 2


def test_sequential_mode_ignores_rarity() -> None:
    picker = setup_picker("7654321", sequential=True)
    assert pick_order(picker) == [0, 1, 2, 3, 4, 5, 6]
    picker = setup_picker("7654321")
    picker.sequential = True
    assert pick_order(picker, count=3) == [0, 1, 2]


def test_allowed_fast_restriction() -> None:
    picker = setup_picker("1111111")
    assert sorted(b.piece for b in picker.pick("seed", 10, only={5, 2})) == [2, 5]


def test_endgame_duplicates_requests_and_names_the_cancels() -> None:
    picker = setup_picker("22", blocks=2)
    first = picker.pick("p0", 10)
    assert len(first) == 4 and picker.in_endgame
    assert picker.pick("p0", 10) == []  # never twice to the same peer
    second = picker.pick("p1", 2)
    assert len(second) == 2 and set(second) <= set(first)
    third = picker.pick("seed", 4)
    assert set(third[:2]) == set(first) - set(second)  # fewest requesters first
    assert set(third) == set(first)
    block = second[0]
    cancels = (Cancellation("p0", block), Cancellation("seed", block))
    assert picker.block_received("p1", block) == Arrival(True, cancels)
    assert picker.block_received("p0", block) == Arrival(wanted=False)


def test_endgame_starts_only_when_every_missing_block_is_requested() -> None:
    picker = setup_picker("11", blocks=2)
    picker.pick("p0", 3)
    assert not picker.in_endgame and picker.free_blocks == 1
    assert len(picker.pick("seed", 4)) == 4  # the last free block, then 3 duplicates
    assert picker.in_endgame


def test_failed_request_frees_the_block() -> None:
    picker = setup_picker("1", blocks=2)
    a, b = picker.pick("p0", 2)
    picker.request_failed("p0", b)
    assert picker.piece_state(0) == "r."
    assert picker.pick("seed", 1) == [b]
    picker.request_failed("p0", a)
    assert picker.piece_state(0) == ".r"


def test_block_states_through_to_a_passed_piece() -> None:
    picker = setup_picker("1", blocks=3)
    blocks = picker.pick("p0", 3)
    assert picker.piece_state(0) == "rrr"
    picker.block_received("p0", blocks[1])
    assert picker.piece_state(0) == "rwr"
    assert not picker.block_finished(blocks[1])
    assert picker.piece_state(0) == "rfr"
    for block in (blocks[0], blocks[2]):
        picker.block_received("p0", block)
    assert not picker.block_finished(blocks[0])
    assert picker.block_finished(blocks[2])
    picker.piece_passed(0)
    assert picker.is_finished() and picker.have.to_string() == "1"


def test_hash_failure_resets_the_piece_and_names_the_senders() -> None:
    picker = setup_picker("2", blocks=2)
    a, b = picker.pick("p0", 1) + picker.pick("p1", 1)
    for peer, block in (("p0", a), ("p1", b)):
        picker.block_received(peer, block)
        picker.block_finished(block)
    assert picker.piece_failed(0) == {"p0", "p1"}
    assert picker.piece_state(0) == ".." and picker.free_blocks == 2
    assert len(picker.pick("seed", 5)) == 2


def test_departure_drops_availability_and_frees_requests() -> None:
    picker = setup_picker("21")
    assert picker.availability(0) == 3  # p0, p1, seed
    picker.pick("p1", 1)
    picker.peer_left("p1")
    assert picker.availability(0) == 2
    assert picker.piece_state(0) == "."
    picker.peer_left("seed")
    assert [picker.availability(i) for i in range(2)] == [1, 1]


def test_have_all_and_haves_count_once() -> None:
    picker = setup_picker("00")
    picker.peers.join("x")
    assert not picker.is_interesting("x")
    assert picker.peers.have("x", 1) and not picker.peers.have("x", 1)
    assert picker.is_interesting("x")
    assert picker.availability(1) == 2
    picker.peers.have("x", 0)  # now a seed: counted once, as one
    assert [picker.availability(i) for i in range(2)] == [2, 2]
    picker.peers.join("y")
    picker.peers.have_all("y")
    assert picker.availability(0) == 3
    picker.peer_left("x")
    picker.peer_left("y")
    assert [picker.availability(i) for i in range(2)] == [1, 1]


def test_bad_calls_are_refused() -> None:
    picker = setup_picker("11")
    with pytest.raises(ValueError, match="peer 'nobody' has not joined"):
        picker.peers.have("nobody", 0)
    with pytest.raises(ValueError, match="already joined"):
        picker.peers.join("seed")
    with pytest.raises(ValueError, match="priority of piece 0 must be 0-7, got 8"):
        picker.set_priority(0, 8)
    with pytest.raises(ValueError, match="does not start a block"):
        picker.block_received("seed", BlockRef(0, 5, 10))
