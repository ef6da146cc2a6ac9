"""The third-party peer harness proves itself: libtorrent seeds aria2 and Transmission.

Each transfer goes through bitswarm's HTTP tracker, inside a network namespace
that has only ``lo`` (``netns`` marker), with the programs started by
``peers.py``. The torrent has several files, some smaller than a piece, and
pieces that span files. Transmission never dials a 127.x peer, so it starts
first and waits to be dialled by the libtorrent seed that the tracker tells
about it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from peers import Aria2Peer, LibtorrentPeer, TransmissionPeer
from swarm_setup import (
    announce_url,
    files_match,
    http_tracker,
    peers_listed,
    running,
    seeders_listed,
    until,
    write_torrent,
)

from torrent_content import FOLDER, PIECE, make_files

pytestmark = [pytest.mark.interop, pytest.mark.netns]


async def test_aria2_downloads_from_a_libtorrent_seed(tmp_path: Path) -> None:
    make_files(tmp_path / "seed" / "content", FOLDER)
    async with http_tracker() as tracker:
        torrent, path = write_torrent(
            tmp_path / "seed" / "content", announce_url(tracker), PIECE, tmp_path / "t.torrent"
        )
        seed = LibtorrentPeer(path, tmp_path / "seed")
        leecher = Aria2Peer(path, tmp_path / "aria2", seed=False, log=tmp_path / "aria2.log")
        async with running(seed):
            await until(seed.finished.is_set, "libtorrent to check its data")
            await until(lambda: seeders_listed(tracker), "the tracker to list the seed")
            async with running(leecher):
                await until(leecher.complete, "aria2 to finish")
            await until(lambda: seed.uploaded >= torrent.total_size, "the seed's upload count")
    assert files_match(torrent, tmp_path / "seed", tmp_path / "aria2") == []


async def test_transmission_downloads_from_a_libtorrent_seed(tmp_path: Path) -> None:
    make_files(tmp_path / "seed" / "content", FOLDER)
    async with http_tracker() as tracker:
        torrent, path = write_torrent(
            tmp_path / "seed" / "content", announce_url(tracker), PIECE, tmp_path / "t.torrent"
        )
        leecher = TransmissionPeer(path, tmp_path / "transmission", tmp_path / "tr-config")
        async with running(leecher):
            await until(lambda: peers_listed(tracker), "the tracker to list Transmission")
            seed = LibtorrentPeer(path, tmp_path / "seed")
            async with running(seed):
                await until(leecher.complete, "Transmission to finish", timeout=90)
                await until(lambda: seed.uploaded >= torrent.total_size, "the seed's upload count")
    copy = tmp_path / "transmission"
    assert files_match(torrent, tmp_path / "seed", copy, empty_files_made=False) == []
