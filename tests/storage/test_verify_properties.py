"""Property: for any files, any version and piece length, a flipped byte is found where it is."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.metainfo import Version
from bitswarm.storage import hashing
from bitswarm.storage.create import create_torrent
from bitswarm.storage.verify import FileStatus, verify
from torrent_content import KIB, flip_byte, make_files

NAMES = ["a", "b/c", "b/d/e", "f.txt", "g/h"]
# At least two files: a folder holding one file is a v2 tree with a single file
# at its root, which BEP 52 readers (libtorrent, bitswarm) take for a
# single-file torrent; test_create_verify covers that case on its own.


@st.composite
def contents(draw: st.DrawFn) -> tuple[dict[str, int], Version, int, int]:
    sizes = draw(st.lists(st.integers(0, 70 * KIB), min_size=2, max_size=len(NAMES)))
    files = dict(zip(NAMES, sizes, strict=False))
    if not any(files.values()):
        files["a"] = 1
    version: Version = draw(st.sampled_from(["v1", "v2", "hybrid"]))
    piece_length = draw(st.sampled_from([16 * KIB, 32 * KIB]))
    run_pieces = draw(st.integers(1, 3))
    return files, version, piece_length, run_pieces


@settings(max_examples=30, deadline=None)
@given(contents(), st.integers(min_value=0), st.integers(0, 2**32))
def test_flipped_byte_is_found_in_its_piece(
    content: tuple[dict[str, int], Version, int, int], pick: int, seed: int
) -> None:
    files, version, piece_length, run_pieces = content
    original = hashing.RUN_BYTES
    hashing.RUN_BYTES = run_pieces * piece_length
    root = Path(tempfile.mkdtemp())
    try:
        top = make_files(root / "top", files, seed)
        torrent = create_torrent(top, version=version, piece_length=piece_length)
        assert verify(torrent, root).ok
        non_empty = [name for name, size in files.items() if size]
        damaged_name = non_empty[pick % len(non_empty)]
        damaged = tuple(["top", *damaged_name.split("/")])
        offset = seed % files[damaged_name]
        flip_byte(top / damaged_name, offset)
        entry = next(e for e in torrent.files if e.path == damaged)
        expected = (entry.offset + offset) // piece_length
        report = verify(torrent, root)
        assert report.bad_pieces == (expected,)
        by_path = {f.path: f for f in report.files}
        assert by_path[damaged].status is FileStatus.DAMAGED
        assert by_path[damaged].bad_pieces == (expected,)
    finally:
        hashing.RUN_BYTES = original
        shutil.rmtree(root)
