"""Piece and block geometry."""

from __future__ import annotations

import pytest

from bitswarm.core.swarm.pieces import BLOCK_SIZE, BlockRef, PieceGeometry


def test_last_piece_and_last_block_are_short() -> None:
    geometry = PieceGeometry(4 * BLOCK_SIZE, 9 * BLOCK_SIZE + 100)
    assert geometry.piece_count == 3
    assert [geometry.block_count(p) for p in range(3)] == [4, 4, 2]
    assert geometry.block(2, 1) == BlockRef(2, BLOCK_SIZE, 100)
    assert geometry.block_index(BlockRef(2, BLOCK_SIZE, 100)) == 1
    with pytest.raises(ValueError, match="wrong length"):
        geometry.block_index(BlockRef(2, BLOCK_SIZE, BLOCK_SIZE))
    with pytest.raises(ValueError, match="does not start a block"):
        geometry.block_index(BlockRef(0, 4 * BLOCK_SIZE, BLOCK_SIZE))
    with pytest.raises(IndexError, match="piece 3 is outside a torrent of 3 pieces"):
        geometry.piece_size(3)


def test_small_pieces_are_one_short_block() -> None:
    geometry = PieceGeometry(1000, 2500)
    assert [geometry.block(p, 0).length for p in range(3)] == [1000, 1000, 500]


def test_piece_length_above_a_block_must_be_whole_blocks() -> None:
    with pytest.raises(ValueError, match="multiple of 16384"):
        PieceGeometry(BLOCK_SIZE + 1, 10**6)
