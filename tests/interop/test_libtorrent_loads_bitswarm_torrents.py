"""Torrents made by bitswarm against libtorrent's, and data checked against other tools' torrents.

For the same files and piece length, bitswarm and libtorrent (the PyPI wheel)
must make v1, v2 and hybrid torrents with identical info-hashes: same file
order, same BEP 47 pad files, same BEP 52 merkle roots. libtorrent must load
bitswarm's torrents, piece layers included. And ``bitswarm verify`` must accept
the data of torrents made by libtorrent, mktorrent and transmission-create
(exit 0), and name the file and piece of a flipped byte (exit 1).

libtorrent keeps a v1-only torrent's files in the order it is given them (its
folder walk follows ``readdir``), so it is handed bitswarm's canonical order;
for v2 and hybrid it sorts them itself, so it is handed them in reverse.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import libtorrent as lt
import pytest

from bitswarm.core.metainfo import Torrent, Version, parse_torrent
from bitswarm.core.metainfo.piece_size import auto_piece_length
from bitswarm.storage.create import create_torrent
from cli.helpers import bitswarm
from torrent_content import FOLDER, KIB, PIECE, flip_byte, make_files

pytestmark = [pytest.mark.interop, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

CONTENTS: dict[str, dict[str, int]] = {
    "single": {"only.bin": 5 * PIECE + 3},
    "single-small": {"tiny.txt": 1000},
    "folder": FOLDER,
}
EXECUTABLE = "c"

LT_FLAGS = {
    "v1": lt.create_torrent.v1_only,
    "v2": lt.create_torrent.v2_only,
    "hybrid": 0,
}


def make_content(root: Path, kind: str) -> Path:
    """Write the files of ``kind`` under ``root``; returns the path to make a torrent of."""
    files = CONTENTS[kind]
    if kind != "folder":
        return make_files(root, files, kind) / next(iter(files))
    top = make_files(root / "top", files, kind)
    (top / EXECUTABLE).chmod(0o755)
    return top


def libtorrent_torrent(target: Path, version: Version, piece_length: int) -> bytes:
    """The .torrent libtorrent makes of ``target`` (a file, or the folder ``top``)."""
    fs = lt.file_storage()
    if target.is_file():
        fs.add_file(target.name, target.stat().st_size)
    else:
        names = sorted(CONTENTS["folder"], key=lambda n: n.encode())
        if version != "v1":
            names.reverse()
        for name in names:
            flags = lt.file_storage.flag_executable if name == EXECUTABLE else 0
            fs.add_file(f"{target.name}/{name}", (target / name).stat().st_size, flags)
    creator = lt.create_torrent(fs, piece_length, flags=LT_FLAGS[version])
    lt.set_piece_hashes(creator, str(target.parent))
    return bytes(lt.bencode(creator.generate()))


def load(data: bytes) -> lt.torrent_info:
    """``data`` as libtorrent loads a .torrent file (it raises on a malformed one)."""
    info = lt.load_torrent_buffer(data).ti
    assert info is not None
    return info


def loaded_hashes(data: bytes) -> tuple[str | None, str | None]:
    """(v1, v2) info-hashes in hex, as libtorrent reads them from ``data``."""
    hashes = load(data).info_hashes()
    v1 = str(hashes.v1) if hashes.has_v1() else None
    v2 = hashes.v2.to_bytes().hex() if hashes.has_v2() else None
    return v1, v2


def ours(torrent: Torrent) -> tuple[str | None, str | None]:
    v1, v2 = torrent.info_hash_v1, torrent.info_hash_v2
    return (v1.hex() if v1 else None, v2.hex() if v2 else None)


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
@pytest.mark.parametrize("kind", sorted(CONTENTS))
def test_same_info_hashes_as_libtorrent(tmp_path: Path, kind: str, version: Version) -> None:
    target = make_content(tmp_path, kind)
    torrent = create_torrent(target, version=version, piece_length=PIECE)
    reference = libtorrent_torrent(target, version, PIECE)
    expected = loaded_hashes(reference)
    assert expected[0] is not None or version == "v2"
    assert loaded_hashes(torrent.to_bytes()) == expected
    assert ours(torrent) == expected
    info = load(torrent.to_bytes())
    assert info.num_pieces() == torrent.piece_count
    files = info.files()
    seen = [
        (tuple(files.file_path(i).split("/")), files.file_size(i))
        for i in range(files.num_files())
        if not files.file_flags(i) & lt.file_storage.flag_pad_file
    ]
    assert seen == [(e.path, e.length) for e in torrent.files if not e.is_pad]


@pytest.mark.parametrize("size", [1, 3_000_000, 50_000_000, 2**31, 2**36])
def test_automatic_piece_length_is_libtorrents(size: int) -> None:
    fs = lt.file_storage()
    fs.add_file("f", size)
    assert auto_piece_length(size) == lt.create_torrent(fs, 0).piece_length()


def check_third_party(torrent_bytes: bytes, data_root: Path, damaged: Path) -> None:
    """``bitswarm verify`` accepts the data, then names the file and piece of a flipped byte."""
    torrent = parse_torrent(torrent_bytes)
    path = data_root / "third-party.torrent"
    path.write_bytes(torrent_bytes)
    result = bitswarm("verify", str(path), str(data_root))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith(": all good"), result.stdout
    offset = 2 * PIECE + 9
    flip_byte(damaged, offset)
    entry = next(e for e in torrent.files if data_root.joinpath(*e.path) == damaged)
    expected = (entry.offset + offset) // torrent.piece_length
    result = bitswarm("verify", str(path), str(data_root))
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    named = "/".join(entry.path)
    damaged_lines = [line for line in lines if line.startswith("damaged ")]
    assert len(damaged_lines) == 1, lines
    assert damaged_lines[0].endswith(f"  {named}  (bad pieces {expected})"), lines
    assert lines[-1].endswith(" 1 bad, 0 missing: damaged"), lines


@pytest.mark.parametrize("version", ["v1", "v2", "hybrid"])
def test_verify_accepts_libtorrent_torrents(tmp_path: Path, version: Version) -> None:
    top = make_content(tmp_path, "folder")
    reference = libtorrent_torrent(top, version, PIECE)
    assert parse_torrent(reference).version == version
    check_third_party(reference, tmp_path, top / "d" / "long")


def test_verify_accepts_mktorrent_torrents(tmp_path: Path, program: Callable[[str], str]) -> None:
    mktorrent = program("mktorrent")
    top = make_content(tmp_path / "data", "folder")
    out = tmp_path / "mk.torrent"
    subprocess.run(
        [mktorrent, "-l", "15", "-a", "http://127.0.0.1:1/announce", "-o", str(out), str(top)],
        check=True,
        capture_output=True,
    )
    check_third_party(out.read_bytes(), top.parent, top / "a.bin")


def test_verify_accepts_transmission_torrents(
    tmp_path: Path, program: Callable[[str], str]
) -> None:
    create = program("transmission-create")
    top = make_content(tmp_path / "data", "folder")
    out = tmp_path / "tr.torrent"
    subprocess.run(
        [create, "-s", str(PIECE // KIB), "-o", str(out), str(top)],
        check=True,
        capture_output=True,
    )
    torrent = parse_torrent(out.read_bytes())
    assert torrent.piece_length == PIECE
    check_third_party(out.read_bytes(), top.parent, top / "d" / "long")
