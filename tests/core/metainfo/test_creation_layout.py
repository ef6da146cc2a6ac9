"""Layout, info dictionary and piece length of new torrents (BEP 3, 47, 52)."""

from __future__ import annotations

import pytest

from bitswarm.core.bencode import encode
from bitswarm.core.metainfo import FileEntry, build_torrent
from bitswarm.core.metainfo.creation import (
    NewFile,
    info_dictionary,
    lay_out,
    piece_layers,
    with_roots,
)
from bitswarm.core.metainfo.piece_size import (
    MAX_AUTO_PIECE_LENGTH,
    auto_piece_length,
    check_piece_length,
)

KIB = 1024
PIECE = 16 * KIB

FOLDER = [
    NewFile(("d", "z"), 3 * PIECE + 1),
    NewFile(("d", "a.bin"), 40000, "x"),
    NewFile(("d", "sub", "b"), 100),
    NewFile(("d", "empty"), 0),
]


def shape(layout: tuple[FileEntry, ...]) -> list[tuple[str, int, int, str]]:
    return [("/".join(e.path), e.length, e.offset, e.attr) for e in layout]


def test_v1_layout_is_sorted_and_unpadded() -> None:
    assert shape(lay_out(FOLDER, PIECE, "v1")) == [
        ("d/a.bin", 40000, 0, "x"),
        ("d/empty", 0, 40000, ""),
        ("d/sub/b", 100, 40000, ""),
        ("d/z", 3 * PIECE + 1, 40100, ""),
    ]


def test_hybrid_layout_pads_after_every_unaligned_file_including_the_last() -> None:
    end_of_a = 40000 + (3 * PIECE - 40000)
    assert shape(lay_out(FOLDER, PIECE, "hybrid")) == [
        ("d/a.bin", 40000, 0, "x"),
        (f"d/.pad/{3 * PIECE - 40000}", 3 * PIECE - 40000, 40000, "p"),
        ("d/empty", 0, end_of_a, ""),
        ("d/sub/b", 100, end_of_a, ""),
        (f"d/.pad/{PIECE - 100}", PIECE - 100, end_of_a + 100, "p"),
        ("d/z", 3 * PIECE + 1, 4 * PIECE, ""),
        (f"d/.pad/{PIECE - 1}", PIECE - 1, 7 * PIECE + 1, "p"),
    ]


def test_v2_layout_aligns_files_without_pad_entries() -> None:
    layout = lay_out(FOLDER, PIECE, "v2")
    assert [e.offset for e in layout] == [0, 3 * PIECE, 3 * PIECE, 4 * PIECE]
    assert not any(e.is_pad for e in layout)


def test_single_file_gets_no_pad() -> None:
    layout = lay_out([NewFile(("f",), PIECE + 5)], PIECE, "hybrid")
    assert shape(layout) == [("f", PIECE + 5, 0, "")]


def test_order_compares_whole_paths_as_bytes() -> None:
    files = [NewFile(("d", "a", "b"), 1), NewFile(("d", "a-c"), 1), NewFile(("d", "É"), 1)]
    # "-" (0x2d) sorts before "/" (0x2f); non-ASCII UTF-8 after ASCII.
    ordered = [e.path for e in lay_out(files, PIECE, "v1")]
    assert ordered == [("d", "a-c"), ("d", "a", "b"), ("d", "É")]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "at least one file"),
        ([NewFile(("d", "a"), 0)], "at least one byte"),
        ([NewFile(("d", "a"), 1), NewFile(("e", "b"), 1)], "one top-level name"),
        ([NewFile(("d", "a"), 1), NewFile(("d", "a"), 2)], "same path"),
    ],
)
def test_layout_refuses_impossible_content(files: list[NewFile], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lay_out(files, PIECE, "hybrid")


def test_info_dictionary_round_trips_through_the_parser() -> None:
    layout = lay_out(FOLDER, PIECE, "hybrid")
    roots = {i: bytes([i + 1]) * 32 for i, e in enumerate(layout) if e.length and not e.is_pad}
    layout = with_roots(layout, roots)
    z = next(i for i, e in enumerate(layout) if e.path == ("d", "z"))
    pieces = bytes(20) * (-(-layout[-1].end // PIECE))
    info = info_dictionary(layout, PIECE, "hybrid", pieces=pieces, private=True, source="S")
    tree = info[b"file tree"]
    assert isinstance(tree, dict)
    assert tree[b"empty"] == {b"": {b"length": 0}}
    assert tree[b"a.bin"] == {b"": {b"length": 40000, b"attr": b"x", b"pieces root": roots[0]}}
    files = info[b"files"]
    assert isinstance(files, list)
    assert files[1] == {b"length": 3 * PIECE - 40000, b"attr": b"p", b"path": [b".pad", b"9152"]}
    # The parser checks a hybrid's two file lists against each other; the root
    # of z's layer is not checked against z's made-up root here (no layers given).
    torrent = build_torrent(encode(info))
    assert torrent.version == "hybrid"
    assert torrent.private and torrent.source == "S"
    assert [e.path for e in torrent.files] == [e.path for e in layout]
    layers = piece_layers(layout, {0: [b"\x02" * 32] * 3, z: [b"\x01" * 32] * 4}, PIECE)
    # Only files longer than a piece have a layer; sub/b (100 bytes) has none.
    assert layers == {roots[0]: b"\x02" * 96, roots[z]: b"\x01" * 128}


def test_single_file_v2_tree_is_keyed_by_name() -> None:
    layout = with_roots(lay_out([NewFile(("f",), 5)], PIECE, "v2"), {0: b"r" * 32})
    info = info_dictionary(layout, PIECE, "v2", pieces=b"")
    assert info[b"file tree"] == {b"f": {b"": {b"length": 5, b"pieces root": b"r" * 32}}}
    assert b"pieces" not in info and b"length" not in info
    with pytest.raises(ValueError, match="no pieces root"):
        info_dictionary(lay_out([NewFile(("f",), 5)], PIECE, "v2"), PIECE, "v2", pieces=b"")


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (0, 16 * KIB),
        (2_684_355, 16 * KIB),
        (2_684_356, 32 * KIB),
        (2**30, 512 * KIB),
        (2**32, 1024 * KIB),
        (10**15, MAX_AUTO_PIECE_LENGTH),
    ],
)
def test_auto_piece_length_follows_libtorrents_table(total: int, expected: int) -> None:
    assert auto_piece_length(total) == expected


def test_auto_piece_length_aims_at_sqrt_pieces() -> None:
    for exponent in range(22, 44):
        total = 2**exponent
        length = auto_piece_length(total)
        assert length & (length - 1) == 0
        pieces = total // length
        # About sqrt(total) / 10 pieces: within a factor of two either way.
        assert (total**0.5) / 20 <= pieces <= (total**0.5) / 5


@pytest.mark.parametrize(
    ("length", "v2", "message"),
    [
        (8 * KIB, False, "outside"),
        (256 * 1024 * KIB, False, "outside"),
        (48 * KIB, True, "power of two"),
        (20 * KIB, False, "multiple of 16384"),
    ],
)
def test_check_piece_length_says_why(length: int, v2: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_piece_length(length, v2=v2)
    check_piece_length(48 * KIB, v2=False)
