"""The bitswarm peer with libtorrent, aria2 and Transmission, each way, and in a mixed swarm.

Every transfer goes through bitswarm's HTTP tracker inside a network namespace
with only ``lo`` (``netns`` marker), with each program in a process of its own
(``peers.py``; bitswarm through its ``download`` and ``seed`` commands). The
torrent is multi-file: files smaller than a piece, empty files, a file of
exactly one piece, and pieces that span files, plus one file of a few MiB.
Seeds start first; leechers start once the tracker lists them. Transmission
never dials a 127.x peer, so as a leecher it waits for the bitswarm seed,
which learns of it from the tracker's next answer. Every file is compared
byte for byte with the original.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from peers import Aria2Peer, BitswarmPeer, LibtorrentPeer, PeerProcess, TransmissionPeer
from swarm_setup import (
    announce_url,
    files_match,
    http_tracker,
    running,
    seeders_listed,
    until,
    write_torrent,
)

from bitswarm.aio.tracker_server import TrackerServer
from bitswarm.core.metainfo import Torrent
from torrent_content import FOLDER, PIECE, make_files

pytestmark = [pytest.mark.interop, pytest.mark.netns]

CONTENT = {**FOLDER, "f/big.bin": 3 * 1024 * 1024 + 17}
THIRD_PARTIES = ["libtorrent", "aria2", "transmission"]
SEED_CAP = 256 * 1024
"""Bytes/s each seed of the mixed swarm uploads: the leechers must trade to finish sooner."""
FINISH = 60.0
"""Seconds for a transfer: Transmission alone takes ~20 s (it rechokes every 10 s)."""


def client(kind: str, torrent: Path, folder: Path, *, seed: bool) -> PeerProcess:
    """A peer of ``kind`` with its data (complete for a seed) in ``folder``."""
    log = folder.parent / f"{folder.name}.log"
    if kind == "libtorrent":
        return LibtorrentPeer(torrent, folder)
    if kind == "aria2":
        return Aria2Peer(torrent, folder, seed=seed, log=log)
    if kind == "transmission":
        return TransmissionPeer(torrent, folder, folder.parent / f"{folder.name}-config")
    return BitswarmPeer(torrent, folder, seed=seed, log=log)


async def seeded_then_fetched(tmp_path: Path, seed_kind: str, leech_kind: str) -> Torrent:
    """``seed_kind`` seeds a fresh torrent; ``leech_kind`` downloads it into ``tmp_path/leech``."""
    make_files(tmp_path / "seed" / "content", CONTENT)
    async with http_tracker() as tracker:
        torrent, path = make_torrent(tmp_path, tracker)
        seed = client(seed_kind, path, tmp_path / "seed", seed=True)
        leecher = client(leech_kind, path, tmp_path / "leech", seed=False)
        async with running(seed):
            await until(
                lambda: seeders_listed(tracker), f"the tracker to list the {seed_kind} seed"
            )
            async with running(leecher):
                await until(leecher.complete, f"{leech_kind} to finish", timeout=FINISH)
    return torrent


def make_torrent(tmp_path: Path, tracker: TrackerServer) -> tuple[Torrent, Path]:
    content = tmp_path / "seed" / "content"
    return write_torrent(content, announce_url(tracker), PIECE, tmp_path / "content.torrent")


@pytest.mark.parametrize("kind", THIRD_PARTIES)
async def test_bitswarm_downloads_from_a_third_party_seed(tmp_path: Path, kind: str) -> None:
    torrent = await seeded_then_fetched(tmp_path, kind, "bitswarm")
    assert files_match(torrent, tmp_path / "seed", tmp_path / "leech") == []


@pytest.mark.parametrize("kind", THIRD_PARTIES)
async def test_a_third_party_downloads_from_a_bitswarm_seed(tmp_path: Path, kind: str) -> None:
    torrent = await seeded_then_fetched(tmp_path, "bitswarm", kind)
    made = kind != "transmission"  # Transmission 3.00 never creates empty files
    assert files_match(torrent, tmp_path / "seed", tmp_path / "leech", empty_files_made=made) == []


async def test_a_mixed_swarm_completes_and_its_leechers_trade(tmp_path: Path) -> None:
    """A bitswarm and a libtorrent seed, each capped to ``SEED_CAP``; a bitswarm and a
    libtorrent leecher, which have to trade pieces to finish sooner than the seeds allow."""
    make_files(tmp_path / "seed" / "content", CONTENT)
    make_files(tmp_path / "lt-seed" / "content", CONTENT)
    async with http_tracker() as tracker:
        torrent, path = make_torrent(tmp_path, tracker)
        seeds = [
            BitswarmPeer(
                path, tmp_path / "seed", seed=True, log=tmp_path / "seed.log", max_up=SEED_CAP
            ),
            LibtorrentPeer(path, tmp_path / "lt-seed", max_up=SEED_CAP),
        ]
        bitswarm = BitswarmPeer(path, tmp_path / "leech", seed=False, log=tmp_path / "leech.log")
        libtorrent = LibtorrentPeer(path, tmp_path / "lt-leech")
        async with running(seeds[0]), running(seeds[1]):
            await until(lambda: seeders_listed(tracker, 2), "the tracker to list both seeds")
            async with running(bitswarm), running(libtorrent):
                for leecher in (bitswarm, libtorrent):
                    await until(leecher.complete, f"{leecher.name} to finish", timeout=FINISH)
                traded = libtorrent.uploaded
    for copy in ("leech", "lt-leech"):
        assert files_match(torrent, tmp_path / "seed", tmp_path / copy) == []
    # A seed downloads nothing, so each leecher's upload went to the other one.
    assert bitswarm.record()["uploaded"] > 0, "the libtorrent leecher took nothing from bitswarm"
    assert traded > 0, "the bitswarm leecher took nothing from the libtorrent leecher"
