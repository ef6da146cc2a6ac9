"""File selection: file priorities to piece priorities, and ``--only``/``--skip`` patterns.

State is written as strings, libtorrent style: one digit a file (its priority)
and one digit a piece, so ``"0711" -> "0011000"`` reads as the map it is.
"""

from __future__ import annotations

import re

import pytest

from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import FileEntry
from bitswarm.core.selection import SelectionError, piece_priorities, select_files

PIECE = 100


def files_of(lengths: list[int], *, pads: tuple[int, ...] = (), aligned: bool = False) -> Layout:
    """A layout of files of ``lengths`` (those at ``pads`` are BEP 47 pad files)."""
    entries, offset = [], 0
    for index, length in enumerate(lengths):
        if aligned:
            offset = -(-offset // PIECE) * PIECE
        attr = "p" if index in pads else ""
        entries.append(FileEntry((f"f{index}",), length, offset, attr))
        offset += length
    return Layout(entries, PIECE, aligned=aligned)


def mapped(layout: Layout, file_priorities: str) -> str:
    return "".join(map(str, piece_priorities(layout, [int(c) for c in file_priorities])))


def test_each_piece_takes_the_highest_priority_of_its_files() -> None:
    # [0, 250) skipped, an empty file, [250, 400) priority 1, [400, 1000) skipped
    assert mapped(files_of([250, 0, 150, 600]), "0710") == "0011000000"
    assert mapped(files_of([150, 150]), "17") == "177"
    assert mapped(files_of([150, 150]), "44") == "444"
    assert mapped(files_of([150, 150]), "00") == "000"


def test_a_piece_shared_by_a_wanted_and_a_skipped_file_is_wanted() -> None:
    assert mapped(files_of([150, 150]), "04") == "044"
    assert mapped(files_of([150, 150]), "40") == "440"
    assert mapped(files_of([50, 20, 30, 100]), "0400") == "40"  # a small file inside a piece


def test_pad_files_follow_the_file_they_pad_out() -> None:
    # a.bin (150) | pad (50) | b.bin (100): the pad's zeros share a.bin's last piece
    layout = files_of([150, 50, 100], pads=(1,))
    assert mapped(layout, "400") == "440"
    assert mapped(layout, "074") == "004"  # the pad's own priority is not used
    assert mapped(layout, "070") == "000"


def test_v2_files_start_on_piece_boundaries() -> None:
    layout = files_of([150, 50, 120], aligned=True)  # pieces: f0 f0 | f1 | f2 f2
    assert mapped(layout, "040") == "00400"
    assert mapped(layout, "407") == "44077"


def test_bad_file_priorities_are_refused() -> None:
    with pytest.raises(SelectionError, match="1 file priorities for 2 files"):
        piece_priorities(files_of([10, 10]), [4])
    with pytest.raises(SelectionError, match="priority of file 1 must be 0-7, got 8"):
        piece_priorities(files_of([10, 10]), [4, 8])


ALBUM = [
    FileEntry(("album", "one.bin"), 100, 0),
    FileEntry(("album", ".pad", "28"), 28, 100, "p"),
    FileEntry(("album", "notes", "three.txt"), 5, 128),
    FileEntry(("album", "notes", "cover.bin"), 7, 133),
]


def selected(only: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> str:
    return "".join(map(str, select_files(ALBUM, only=only, skip=skip)))


def test_only_and_skip_patterns_pick_files() -> None:
    assert selected() == "4044"  # everything but the pad file
    assert selected(only=("*.bin",)) == "4004"  # * crosses folders
    assert selected(only=("notes/*",)) == "0044"  # below the torrent's folder
    assert selected(only=("album/notes/three.txt",)) == "0040"  # as bitswarm info lists it
    assert selected(skip=("*.txt",)) == "4004"
    assert selected(only=("notes/*",), skip=("*.bin",)) == "0040"
    assert selected(only=("*three*", "one.bin")) == "4040"
    assert selected(only=("*",)) == "4044"  # never the pad file


def test_a_single_file_torrent_matches_its_name() -> None:
    single = [FileEntry(("movie.mkv",), 10, 0)]
    assert select_files(single, only=("movie.mkv",)) == [4]
    assert select_files(single, only=("*.mkv",)) == [4]


def test_a_pattern_that_matches_nothing_says_which() -> None:
    with pytest.raises(SelectionError, match=re.escape("'*.iso' matches no file")) as only:
        select_files(ALBUM, only=("*.bin", "*.iso"))
    assert only.value.option == "only"
    with pytest.raises(SelectionError, match="'28' matches no file") as skip:
        select_files(ALBUM, skip=("28",))  # pad files are not there to match
    assert skip.value.option == "skip"


def test_a_selection_of_nothing_is_refused() -> None:
    with pytest.raises(SelectionError, match="leaves no file to download") as error:
        select_files(ALBUM, only=("*.bin",), skip=("*",))
    assert error.value.option is None
