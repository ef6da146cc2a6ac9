"""Layout: piece <-> file spans checked against a byte-by-byte reference.

tests/core/metainfo/test_metainfo_layout.py checks the same spans against real piece hashes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.layout import FileSpan, Layout, LayoutError
from bitswarm.core.metainfo import FileEntry


def entries(lengths: list[tuple[int, bool]], piece_length: int, aligned: bool) -> list[FileEntry]:
    files, offset = [], 0
    for i, (length, pad) in enumerate(lengths):
        if aligned:
            offset = -(-offset // piece_length) * piece_length
        files.append(FileEntry((f"f{i}",), length, offset, "p" if pad else ""))
        offset += length
    return files


def owners(files: list[FileEntry]) -> dict[int, tuple[int, int]]:
    """Piece-space byte -> (file index, offset in that file), for every byte of every file."""
    return {
        byte: (index, byte - entry.offset)
        for index, entry in enumerate(files)
        for byte in range(entry.offset, entry.end)
    }


def reference(
    owner: dict[int, tuple[int, int]], files: list[FileEntry], start: int, stop: int
) -> list[FileSpan]:
    """The spans of bytes ``start..stop`` of the piece space, one byte at a time."""
    spans: list[FileSpan] = []
    for byte in range(start, stop):
        if byte not in owner:
            continue  # a v2 alignment gap
        index, offset = owner[byte]
        last = spans[-1] if spans else None
        if last and last.file_index == index and last.offset + last.length == offset:
            spans[-1] = FileSpan(index, last.offset, last.length + 1, last.is_pad)
        else:
            spans.append(FileSpan(index, offset, 1, files[index].is_pad))
    return spans


layouts = st.one_of(
    st.tuples(
        st.lists(st.tuples(st.integers(0, 40), st.booleans()), max_size=8),
        st.integers(1, 9),
        st.just(False),
    ),
    st.tuples(
        st.lists(st.tuples(st.integers(0, 40), st.just(False)), max_size=8),
        st.sampled_from([1, 2, 4, 8, 16]),
        st.just(True),
    ),
)


@settings(deadline=None)
@given(layouts, st.data())
def test_matches_the_byte_by_byte_reference(
    case: tuple[list[tuple[int, bool]], int, bool], data: st.DataObject
) -> None:
    lengths, piece_length, aligned = case
    files = entries(lengths, piece_length, aligned)
    layout = Layout(files, piece_length, aligned=aligned)
    owner = owners(files)
    end = max(owner, default=-1) + 1
    expected = [reference(owner, files, p, p + piece_length) for p in range(0, end, piece_length)]
    assert layout.piece_count == len(expected)
    for piece, spans in enumerate(expected):
        assert layout.piece_spans(piece) == tuple(spans)
        last = spans[-1]
        last_byte = files[last.file_index].offset + last.offset + last.length
        assert layout.piece_size(piece) == last_byte - piece * piece_length
    for index, entry in enumerate(files):
        holding = [
            p for p, spans in enumerate(expected) if any(s.file_index == index for s in spans)
        ]
        assert list(layout.file_pieces(index)) == holding
        if aligned:  # v2: a file owns its pieces
            assert len(layout.file_pieces(index)) == -(-entry.length // piece_length)
    if expected:
        piece = data.draw(st.integers(0, len(expected) - 1))
        size = layout.piece_size(piece)
        begin = data.draw(st.integers(0, size - 1))
        length = data.draw(st.integers(1, size - begin))
        start = piece * piece_length + begin
        wanted = reference(owner, files, start, start + length)
        assert layout.block_spans(piece, begin, length) == tuple(wanted)
        pieces = range(len(expected))
        if aligned:  # a run of an aligned layout stays in one file
            pieces = layout.file_pieces(expected[piece][0].file_index)
        first = data.draw(st.sampled_from(pieces))
        run = range(first, data.draw(st.integers(first + 1, pieces.stop)))
        run_end = (run.stop - 1) * piece_length + layout.piece_size(run.stop - 1)
        wanted = reference(owner, files, first * piece_length, run_end)
        assert layout.run_spans(run) == tuple(wanted)


def test_out_of_range_requests_are_refused() -> None:
    layout = Layout(entries([(10, False), (5, False)], 4, False), 4, aligned=False)
    assert layout.piece_count == 4 and layout.piece_size(3) == 3
    for bad in (-1, 4):
        with pytest.raises(LayoutError, match=f"piece {bad} out of range"):
            layout.piece_spans(bad)
    with pytest.raises(LayoutError, match="outside piece 3 of 3 bytes"):
        layout.block_spans(3, 2, 2)
    with pytest.raises(LayoutError, match="outside piece 0"):
        layout.block_spans(0, 0, 0)
    with pytest.raises(LayoutError, match="file 2 out of range"):
        layout.file_pieces(2)
    with pytest.raises(LayoutError, match="piece length 0"):
        Layout([], 0, aligned=False)


def test_spans_across_files_and_pad() -> None:
    files = entries([(6, False), (2, True), (0, False), (3, False)], 4, False)
    layout = Layout(files, 4, aligned=False)
    assert layout.piece_spans(1) == (FileSpan(0, 4, 2), FileSpan(1, 0, 2, True))
    assert layout.piece_spans(2) == (FileSpan(3, 0, 3),)
    assert layout.file_pieces(2) == range(2, 2)
    assert layout.block_spans(1, 1, 2) == (FileSpan(0, 5, 1), FileSpan(1, 0, 1, True))
