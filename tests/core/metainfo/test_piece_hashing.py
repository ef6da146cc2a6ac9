"""v1 and v2 piece hashes against hashlib and a by-the-book BEP 52 tree."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.metainfo.hashing import v1_piece_hashes, v2_piece_hashes
from bitswarm.core.metainfo.merkle import (
    BLOCK_SIZE,
    MerkleError,
    file_root,
    merkle_root,
    pad_hash,
    piece_width,
)

KIB = 1024


def reference_tree(data: bytes) -> list[list[bytes]]:
    """Every layer of a file's tree, leaves first, built the long way BEP 52 describes it."""
    leaves = [
        hashlib.sha256(data[i : i + BLOCK_SIZE]).digest() for i in range(0, len(data), BLOCK_SIZE)
    ]
    width = 1
    while width < len(leaves):
        width *= 2
    layers = [leaves + [bytes(32)] * (width - len(leaves))]
    while len(layers[-1]) > 1:
        below = layers[-1]
        layers.append(
            [hashlib.sha256(below[i] + below[i + 1]).digest() for i in range(0, len(below), 2)]
        )
    return layers


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=1500))
def test_v1_piece_hashes_are_sha1_of_each_slice(data: bytes, piece_length: int) -> None:
    expected = [
        hashlib.sha1(data[i : i + piece_length]).digest() for i in range(0, len(data), piece_length)
    ]
    assert v1_piece_hashes(data, piece_length) == expected


def test_v1_last_piece_is_short() -> None:
    data = random_bytes(3 * 16 * KIB + 5, 1)
    hashes = v1_piece_hashes(memoryview(data), 16 * KIB)
    assert len(hashes) == 4
    assert hashes[3] == hashlib.sha1(data[-5:]).digest()


def test_pad_hash_is_the_root_of_zero_leaves() -> None:
    assert pad_hash(0) == bytes(32)
    one = hashlib.sha256(bytes(64)).digest()
    assert pad_hash(1) == one
    assert pad_hash(2) == hashlib.sha256(one + one).digest()
    with pytest.raises(MerkleError, match="negative"):
        pad_hash(-1)


def test_merkle_root_pads_with_the_given_hash() -> None:
    a, b, c = (hashlib.sha256(bytes([i])).digest() for i in range(3))
    pad = b"\x07" * 32
    left = hashlib.sha256(a + b).digest()
    right = hashlib.sha256(c + pad).digest()
    assert merkle_root([a, b, c], 4, pad) == hashlib.sha256(left + right).digest()
    assert merkle_root([], 1, pad) == pad
    assert merkle_root([a], 1) == a


@pytest.mark.parametrize(("width", "count"), [(3, 1), (0, 0), (2, 3)])
def test_merkle_root_refuses_impossible_trees(width: int, count: int) -> None:
    with pytest.raises(MerkleError):
        merkle_root([bytes(32)] * count, width)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=1, max_value=9 * BLOCK_SIZE + 100),
    st.sampled_from([16 * KIB, 32 * KIB, 64 * KIB]),
    st.integers(min_value=0, max_value=2**32),
)
def test_pieces_root_and_layer_match_the_reference_tree(
    length: int, piece_length: int, seed: int
) -> None:
    data = random_bytes(length, seed)
    layer = v2_piece_hashes(data, piece_length, length)
    tree = reference_tree(data)
    root = file_root(layer, length, piece_length)
    # The root does not depend on the piece length: it is the root of the block tree.
    assert root == tree[-1][0]
    if length > piece_length:
        # The piece layer is the row where one hash covers one piece, minus pure padding.
        height = (piece_length // BLOCK_SIZE).bit_length() - 1
        assert layer == tree[height][: len(layer)]
        assert len(layer) == -(-length // piece_length)
    else:
        assert layer == [root]


def test_v2_hashes_of_a_run_equal_piece_by_piece() -> None:
    piece_length = 32 * KIB
    data = random_bytes(5 * piece_length + 777, 2)
    whole = v2_piece_hashes(data, piece_length, len(data))
    one_by_one = [
        v2_piece_hashes(data[i : i + piece_length], piece_length, len(data))[0]
        for i in range(0, len(data), piece_length)
    ]
    assert whole == one_by_one


def test_small_file_tree_is_only_as_wide_as_its_blocks() -> None:
    piece_length = 256 * KIB
    assert piece_width(3 * BLOCK_SIZE, piece_length) == 4
    assert piece_width(1, piece_length) == 1
    assert piece_width(piece_length + 1, piece_length) == piece_length // BLOCK_SIZE
    one_block = random_bytes(100, 3)
    assert v2_piece_hashes(one_block, piece_length, 100) == [hashlib.sha256(one_block).digest()]


def test_file_root_checks_the_layer_length() -> None:
    with pytest.raises(MerkleError, match="3 pieces"):
        file_root([bytes(32)] * 2, 2 * 16 * KIB + 1, 16 * KIB)
