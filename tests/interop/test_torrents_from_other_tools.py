"""Torrents made by libtorrent, mktorrent and transmission-create parse the same in bitswarm.

For each one, bitswarm must find the info-hashes libtorrent computes
(``torrent_info.info_hashes()``), the same files with the same lengths,
offsets, pad files and v2 roots, the same pieces and piece sizes, and map every
piece onto the same file slices as libtorrent's ``map_block``. Re-saving must
give back the file byte for byte. The tools only hash local files; trackers
are loopback URLs that nothing dials.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import libtorrent as lt
import pytest

from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import Torrent, parse_torrent, rehash
from bitswarm_testing import require_program

pytestmark = pytest.mark.interop

TRACKER = "http://127.0.0.1:6969/announce"
FLAGS = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``folder/`` with a multi-piece file, an empty one and sub-piece ones; single files beside.

    ``lone/`` holds one file: v1 and hybrid torrents keep it in the folder, while
    a v2 file tree with one file at its root is a single-file torrent (BEP 52).
    """
    root = tmp_path_factory.mktemp("content")
    rng = random.Random(52)
    sizes = {
        "folder/a.bin": 100_000,
        "folder/empty": 0,
        "folder/sub/b.txt": 10,
        "folder/sub/c.bin": 32_768,
        "folder/z.bin": 16_385,
        "single.bin": 70_000,
        "tiny.txt": 100,
        "lone/only.txt": 20_000,
    }
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    # BEP 47 attributes: an executable, and symlinks to a file and into a folder.
    (root / "tools/bin").mkdir(parents=True)
    (root / "tools/bin/run.sh").write_bytes(b"#!/bin/sh\necho run\n")
    (root / "tools/bin/run.sh").chmod(0o755)
    (root / "tools/data.bin").write_bytes(rng.randbytes(5000))
    (root / "tools/link.bin").symlink_to("data.bin")
    (root / "tools/run").symlink_to("bin/run.sh")
    return root


FileRow = tuple[str, int, int, bool, bool, bool, str | None]
"""Path, length, offset, pad, executable, hidden, symlink target."""


def libtorrent_files(info: lt.torrent_info) -> list[FileRow]:
    files, storage = info.layout(), lt.file_storage
    rows = []
    for i in range(files.num_files()):
        flags = files.file_flags(i)
        rows.append(
            (
                files.file_path(i),
                files.file_size(i),
                files.file_offset(i),
                bool(flags & storage.flag_pad_file),
                bool(flags & storage.flag_executable),
                bool(flags & storage.flag_hidden),
                files.symlink(i) if flags & storage.flag_symlink else None,
            )
        )
    return rows


def bitswarm_files(torrent: Torrent) -> list[FileRow]:
    return [
        (
            "/".join(e.path),
            e.length,
            e.offset,
            e.is_pad,
            e.is_executable,
            e.is_hidden,
            None if e.symlink_path is None else "/".join(e.symlink_path),
        )
        for e in torrent.files
    ]


def assert_same_as_libtorrent(data: bytes) -> Torrent:
    torrent = parse_torrent(data)
    info = lt.torrent_info(data)
    pad = lt.file_storage.flag_pad_file
    hashes = info.info_hashes()
    assert torrent.info_hash_v1 == (bytes.fromhex(str(hashes.v1)) if hashes.has_v1() else None)
    assert torrent.info_hash_v2 == (bytes.fromhex(str(hashes.v2)) if hashes.has_v2() else None)
    # For a lone file at the root of a v2 tree, libtorrent names the torrent after
    # the file; bitswarm keeps the info dictionary's (advisory, BEP 52) name.
    lone = torrent.version == "v2" and not torrent.is_multi_file
    assert info.name() == (torrent.files[0].path[0] if lone else torrent.name)
    assert torrent.private == info.priv()

    theirs = libtorrent_files(info)
    if torrent.version == "v2":  # libtorrent adds the pad files a v2 torrent implies
        theirs = [row for row in theirs if not row[3]]
    assert bitswarm_files(torrent) == theirs
    assert torrent.total_size == sum(e[1] for e in theirs if not e[3])
    assert torrent.piece_count == info.num_pieces()

    layout = Layout.of(torrent)
    names = {i: "/".join(entry.path) for i, entry in enumerate(torrent.files)}
    files = info.layout()
    skip_pads = torrent.version == "v2"
    for piece in range(torrent.piece_count):
        size = info.piece_size(piece)
        spans = [
            (names[s.file_index], s.offset, s.length)
            for s in layout.block_spans(piece, 0, layout.piece_size(piece))
        ]
        slices = [
            (files.file_path(s.file_index), s.offset, s.size)
            for s in info.map_block(piece, 0, size)
            if s.size and not (skip_pads and files.file_flags(s.file_index) & pad)
        ]
        assert spans == slices, piece
        if torrent.version != "v2":
            assert layout.piece_size(piece) == size
            assert torrent.piece_hash_v1(piece) == info.hash_for_piece(piece)
    if torrent.version != "v1":
        roots = {files.file_path(i): files.root(i).to_bytes() for i in range(files.num_files())}
        for entry in torrent.files:
            if entry.length and not entry.is_pad:
                assert entry.pieces_root == roots["/".join(entry.path)]
    assert torrent.to_bytes() == data
    return torrent


def libtorrent_create(
    target: Path, version: str, piece_length: int, *, symlinks: bool = False, private: bool = False
) -> bytes:
    flags = lt.create_torrent.symlinks if symlinks else 0
    files = lt.list_files(str(target), lambda _: True, flags)
    creator = lt.create_torrent(files, piece_length, FLAGS[version] | flags)
    creator.set_priv(private)
    creator.add_tracker(TRACKER)
    creator.set_creator("libtorrent")
    lt.set_piece_hashes(creator, str(target.parent))
    return bytes(lt.bencode(creator.generate()))


def assert_matches_disk(torrent: Torrent, target: Path, *, with_empty: bool) -> None:
    """The torrent's real files are the files of ``target``, with their sizes."""
    skip = 1 if torrent.is_multi_file else 0  # the folder the files live in
    listed = {"/".join(e.path[skip:]): e.length for e in torrent.files if not e.is_pad}
    if target.is_file():
        assert listed == {target.name: target.stat().st_size}
        return
    on_disk = {
        str(path.relative_to(target)): path.stat().st_size
        for path in target.rglob("*")
        if path.is_file() and (with_empty or path.stat().st_size)
    }
    assert listed == on_disk


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
@pytest.mark.parametrize(
    ("target", "piece_length"),
    [("folder", 16384), ("single.bin", 32768), ("tiny.txt", 16384), ("lone", 16384)],
)
def test_libtorrent(content: Path, version: str, target: str, piece_length: int) -> None:
    data = libtorrent_create(content / target, version, piece_length)
    torrent = assert_same_as_libtorrent(data)
    assert torrent.version == version
    assert torrent.trackers == ((TRACKER,),)
    assert torrent.piece_length == piece_length
    assert_matches_disk(torrent, content / target, with_empty=True)


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_libtorrent_symlinks_and_executables(content: Path, version: str) -> None:
    torrent = assert_same_as_libtorrent(
        libtorrent_create(content / "tools", version, 16384, symlinks=True)
    )
    links = {"/".join(e.path): e.symlink_path for e in torrent.files if e.is_symlink}
    assert links == {
        "tools/link.bin": ("tools", "data.bin"),
        "tools/run": ("tools", "bin", "run.sh"),
    }
    assert [e.path for e in torrent.files if e.is_executable and not e.is_symlink] == [
        ("tools", "bin", "run.sh")
    ]


def test_hybrid_attribute_disagreement_reads_as_in_libtorrent(content: Path) -> None:
    document = lt.bdecode(libtorrent_create(content / "tools", "hybrid", 16384, symlinks=True))
    del document[b"info"][b"file tree"][b"bin"][b"run.sh"][b""][b"attr"]  # still "x" in v1
    torrent = assert_same_as_libtorrent(bytes(lt.bencode(document)))
    assert not any(e.is_executable for e in torrent.files if e.path[-1] == "run.sh")


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_rehash_gives_the_info_hash_libtorrent_makes(content: Path, version: str) -> None:
    public = parse_torrent(libtorrent_create(content / "folder", version, 16384))
    private = parse_torrent(libtorrent_create(content / "folder", version, 16384, private=True))
    assert public.info_hash != private.info_hash
    flipped = rehash(public, private=True)
    assert flipped.info_bytes == private.info_bytes
    assert (flipped.info_hash_v1, flipped.info_hash_v2) == (
        private.info_hash_v1,
        private.info_hash_v2,
    )


def test_edited_torrent_reads_the_same_in_libtorrent(content: Path) -> None:
    original = parse_torrent(libtorrent_create(content / "folder", "hybrid", 16384))
    tiers = [["http://127.0.0.1:1/a", "http://127.0.0.1:2/b"], ["udp://127.0.0.1:3"]]
    edited = (
        original.with_trackers(tiers)
        .with_web_seeds(["http://127.0.0.1:8/files/"])
        .with_comment("edited")
        .with_creation_date(1_700_000_000)
    )
    info = lt.torrent_info(edited.to_bytes())
    assert str(info.info_hashes().v1) == original.info_hash.hex()
    assert [(t.url, t.tier) for t in info.trackers()] == [
        ("http://127.0.0.1:1/a", 0),
        ("http://127.0.0.1:2/b", 0),
        ("udp://127.0.0.1:3", 1),
    ]
    assert [seed["url"] for seed in info.web_seeds()] == ["http://127.0.0.1:8/files/"]
    assert (info.comment(), info.creation_date()) == ("edited", 1_700_000_000)


def run_tool(args: list[str], cwd: Path, out: Path) -> Torrent:
    subprocess.run([*args, str(out)], cwd=cwd, check=True, capture_output=True, timeout=60)
    return assert_same_as_libtorrent(out.read_bytes())


@pytest.mark.parametrize("target", ["folder", "single.bin"])
def test_mktorrent(content: Path, tmp_path: Path, target: str) -> None:
    program = require_program("mktorrent")
    args = [program, "-a", TRACKER, "-l", "15", "-c", "from mktorrent", target, "-o"]
    torrent = run_tool(args, content, tmp_path / "made.torrent")
    assert torrent.version == "v1" and torrent.piece_length == 32768
    assert (torrent.trackers, torrent.comment) == (((TRACKER,),), "from mktorrent")
    assert_matches_disk(torrent, content / target, with_empty=True)


@pytest.mark.parametrize("target", ["folder", "single.bin"])
def test_transmission_create(content: Path, tmp_path: Path, target: str) -> None:
    program = require_program("transmission-create")
    args = [program, "-p", "-s", "16", "-t", TRACKER, target, "-o"]
    torrent = run_tool(args, content, tmp_path / "made.torrent")
    assert torrent.version == "v1" and torrent.private and torrent.piece_length == 16384
    assert torrent.trackers == ((TRACKER,),)
    # transmission-create leaves empty files out of the torrent.
    assert_matches_disk(torrent, content / target, with_empty=False)
