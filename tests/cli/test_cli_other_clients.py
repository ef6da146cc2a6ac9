"""Torrents from ``bitswarm create`` as Transmission 3 and aria2 1.36 read them (BEP 3, 47, 52).

Both programs only read the file here (``transmission-show``, ``aria2c
--show-files``): nothing is started and nothing touches the network. A v1
torrent must show the same info-hash and files in both. A hybrid one shows why
``create`` defaults to v1: aria2 knows no BEP 47 pad files and lists them as
files to download, ``.pad/<size>`` between the real ones.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bitswarm.core.metainfo import parse_torrent
from bitswarm_testing import require_program
from cli.helpers import ALBUM, Run

pytestmark = pytest.mark.interop


def _program(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def _aria2_files(torrent: Path) -> list[str]:
    listing = _program(require_program("aria2c"), "--show-files", str(torrent))
    return re.findall(r"^\s*\d+\|\./(.+)$", listing, re.MULTILINE)


def test_v1_reads_the_same_in_transmission_and_aria2(album: Path, run: Run) -> None:
    assert run("create", "album", "-t", "http://127.0.0.1:6969/announce").exit_code == 0
    path = album.parent / "album.torrent"
    torrent = parse_torrent(path.read_bytes())
    assert torrent.info_hash_v1 is not None
    shown = _program(require_program("transmission-show"), str(path))
    assert f"Hash: {torrent.info_hash_v1.hex()}" in shown
    for name in ALBUM:
        assert f"album/{name} (" in shown
    assert sorted(_aria2_files(path)) == sorted(f"album/{name}" for name in ALBUM)
    magnet = _program(require_program("aria2c"), "--show-files", str(path))
    assert f"xt=urn:btih:{torrent.info_hash_v1.hex().upper()}" in magnet


def test_aria2_takes_a_hybrid_torrents_pad_files_for_real_ones(album: Path, run: Run) -> None:
    assert run("create", "album", "--hybrid").exit_code == 0
    path = album.parent / "album.torrent"
    pads = [f for f in parse_torrent(path.read_bytes()).files if f.is_pad]
    assert pads, "the album's file sizes should need padding in a hybrid torrent"
    listed = _aria2_files(path)
    assert [f for f in listed if "/.pad/" in f] == ["/".join(pad.path) for pad in pads]
