"""A download that skips files, between two bitswarm sessions on 127.0.0.1.

The wanted files arrive byte-exact, the skipped ones are not created unless a
wanted piece holds some of their bytes, progress counts the wanted pieces
only, and the tracker hears ``completed`` only from a download of the whole
torrent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from peer_fixtures import make_torrent, peer, wait_for

from bitswarm.aio.announcer import Announcer
from bitswarm.aio.tracker_server import TrackerConfig, TrackerServer
from bitswarm.core.selection import select_files
from bitswarm.core.tracker.policy import TrackerPolicy
from bitswarm.storage.create import create_torrent
from torrent_content import PIECE


async def test_a_download_that_skips_files_gets_the_wanted_ones_and_creates_no_other(
    tmp_path: Path,
) -> None:
    # a.bin fills pieces 0-3; piece 3 also holds b/empty, b/small and the start of b/zz
    torrent, seed_root = make_torrent(tmp_path)
    priorities = select_files(torrent.files, only=["a.bin"])
    leech_root = tmp_path / "leech"
    async with peer(torrent, seed_root) as (seed, seeding):
        async with peer(torrent, leech_root, file_priorities=priorities) as (_, leeching):
            leeching.add_peers([("127.0.0.1", seed.port)])
            await wait_for(leeching.finished)
            status = leeching.status()
            assert status.complete and status.size == status.verified == 4 * PIECE
            assert status.eta == 0.0
            assert leeching.have.count() == 4 and not leeching.have.all()
        assert seeding.status().uploaded == 4 * PIECE
    got, want = leech_root / "content", seed_root / "content"
    assert (got / "a.bin").read_bytes() == (want / "a.bin").read_bytes()
    assert (got / "b" / "small").read_bytes() == (want / "b" / "small").read_bytes()
    for skipped in ("b/empty", "c", "d/long", "e"):
        assert not (got / skipped).exists(), skipped
    assert sorted(p.name for p in got.rglob("*")) == ["a.bin", "b", "small", "zz"]


@pytest.fixture
async def tracker() -> AsyncIterator[str]:
    policy = TrackerPolicy(interval=60, min_interval=0)
    server = TrackerServer(TrackerConfig(http=("127.0.0.1", 0), udp=None, policy=policy))
    await server.start()
    assert server.http_address is not None
    host, port = server.http_address
    yield f"http://{host}:{port}/announce"
    await server.stop()


async def test_completed_is_announced_only_for_the_whole_torrent(
    tmp_path: Path, tracker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    completed: list[Announcer] = []
    monkeypatch.setattr(Announcer, "completed", lambda announcer: completed.append(announcer))
    _, seed_root = make_torrent(tmp_path)
    torrent = create_torrent(
        seed_root / "content", version="v1", piece_length=PIECE, trackers=[tracker]
    )
    async with peer(torrent, seed_root, announce=True) as (seed, _):
        partial = select_files(torrent.files, skip=["d/*"])
        async with peer(torrent, tmp_path / "part", file_priorities=partial, announce=True) as (
            _,
            leeching,
        ):
            leeching.add_peers([("127.0.0.1", seed.port)])
            await wait_for(leeching.finished)
            assert not leeching.have.all()
        assert completed == []  # finished, not complete: still a leecher to the tracker
        async with peer(torrent, tmp_path / "whole", announce=True) as (_, leeching):
            leeching.add_peers([("127.0.0.1", seed.port)])
            await wait_for(leeching.finished)
        assert completed == [leeching.announcer]
