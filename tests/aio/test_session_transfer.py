"""A bitswarm seed and a bitswarm leecher over 127.0.0.1: whole transfers, resume, caps."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest
from peer_fixtures import make_torrent, peer, same_tree, wait_for

from bitswarm.aio.disk import DiskIO
from bitswarm.aio.session import Session, SessionConfig
from bitswarm.aio.torrent_open import default_state_dir, open_torrent
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.storage.errors import StorageError
from bitswarm.storage.resume import load_resume


async def test_a_leecher_gets_a_multi_file_torrent_byte_exact(tmp_path: Path) -> None:
    torrent, seed_root = make_torrent(tmp_path)
    leech_root = tmp_path / "leech"
    async with peer(torrent, seed_root) as (seed, seeding):
        assert seeding.finished.is_set()
        async with peer(torrent, leech_root) as (_, leeching):
            assert not leeching.finished.is_set()
            leeching.add_peers([("127.0.0.1", seed.port)])
            await wait_for(leeching.finished)
            status = leeching.status()
            assert status.complete and status.verified == status.size
            assert status.downloaded >= torrent.total_size
        assert seeding.status().uploaded >= torrent.total_size
    assert same_tree(seed_root / "content", leech_root / "content")


async def test_a_leecher_short_of_memory_spills_blocks_to_disk_and_gets_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed_from_disk: list[int] = []
    hash_piece = DiskIO.hash_piece

    async def counting(disk: DiskIO, piece: int) -> bool:
        hashed_from_disk.append(piece)
        return await hash_piece(disk, piece)

    monkeypatch.setattr(DiskIO, "hash_piece", counting)
    torrent, seed_root = make_torrent(tmp_path)
    leech_root = tmp_path / "leech"
    async with peer(torrent, seed_root) as (seed, _), peer(torrent, leech_root) as (_, leeching):
        leeching._writer.max_buffered = 1  # every block goes to disk as it comes
        leeching.add_peers([("127.0.0.1", seed.port)])
        await wait_for(leeching.finished)
    assert sorted(hashed_from_disk) == list(range(torrent.piece_count))
    assert same_tree(seed_root / "content", leech_root / "content")


async def test_a_stopped_leecher_resumes_without_fetching_verified_pieces_again(
    tmp_path: Path,
) -> None:
    torrent, seed_root = make_torrent(tmp_path)
    leech_root = tmp_path / "leech"
    size = torrent.total_size
    async with peer(torrent, seed_root, max_up=size // 2) as (seed, _):  # about 2 s in all
        async with peer(torrent, leech_root) as (_, leeching):
            leeching.add_peers([("127.0.0.1", seed.port)])
            async with asyncio.timeout(30):
                while leeching.status().verified < size // 3:
                    await asyncio.sleep(0.02)
        # Closed half-way: the resume data holds what was verified.
        saved = load_resume(default_state_dir(leech_root), torrent)
        assert saved is not None
        kept = saved.verified()
        assert 0 < kept.count() < torrent.piece_count
        async with peer(torrent, leech_root) as (_, again):
            assert again.have.count() >= kept.count()
            assert all(again.have[piece] for piece in kept)
            again.add_peers([("127.0.0.1", seed.port)])
            await wait_for(again.finished)
            fetched = again.status().downloaded
    kept_bytes = sum(
        torrent.last_piece_size if p == torrent.piece_count - 1 else torrent.piece_length
        for p in kept
    )
    assert fetched <= torrent.stream_size - kept_bytes
    assert same_tree(seed_root / "content", leech_root / "content")


async def test_a_download_cap_is_honoured(tmp_path: Path) -> None:
    torrent, seed_root = make_torrent(tmp_path)
    rate = 200_000
    async with (
        peer(torrent, seed_root) as (seed, _),
        peer(torrent, tmp_path / "leech", max_down=rate) as (leecher, leeching),
    ):
        started = time.monotonic()
        leeching.add_peers([("127.0.0.1", seed.port)])
        await wait_for(leeching.finished)
        elapsed = time.monotonic() - started
        downloaded = leeching.status().downloaded
        burst = leecher.limits.down.burst
    # What came in over `elapsed` seconds is within the cap, plus one burst and one
    # socket read that may land before the reader pauses.
    assert torrent.total_size <= downloaded <= rate * elapsed + burst + 256 * 1024


async def test_an_upload_cap_is_honoured(tmp_path: Path) -> None:
    torrent, seed_root = make_torrent(tmp_path)
    rate = 300_000
    async with (
        peer(torrent, seed_root, max_up=rate) as (seed, _),
        peer(torrent, tmp_path / "leech") as (_, leeching),
    ):
        started = time.monotonic()
        leeching.add_peers([("127.0.0.1", seed.port)])
        await wait_for(leeching.finished)
        elapsed = time.monotonic() - started
        burst = seed.limits.up.burst
    # The whole content crossed the seed's cap within `elapsed` seconds.
    frame = 16 * 1024 + 13
    assert torrent.total_size <= rate * elapsed + burst + frame


async def test_a_failing_disk_stops_the_torrent_with_the_file_named(tmp_path: Path) -> None:
    torrent, seed_root = make_torrent(tmp_path)
    leech_root = tmp_path / "leech"
    (leech_root / "content" / "a.bin").mkdir(parents=True)  # a folder where a file must go
    async with peer(torrent, seed_root) as (seed, _), peer(torrent, leech_root) as (_, leeching):
        leeching.add_peers([("127.0.0.1", seed.port)])
        await wait_for(leeching.ended)
        assert leeching.error is not None and "a.bin" in leeching.error
        reasons = [await c.closed for c in list(leeching.connections.values())]
        assert all("a.bin" in reason for reason in reasons)  # every peer dropped, told why
        assert not leeching.connections


async def test_dialling_ourselves_is_noticed_and_not_repeated(tmp_path: Path) -> None:
    torrent, seed_root = make_torrent(tmp_path)
    async with peer(torrent, seed_root) as (seed, seeding):
        ourselves = ("127.0.0.1", seed.port)
        seeding.add_peers([ourselves])
        async with asyncio.timeout(10):
            while ourselves not in seeding.dialer.ourselves:
                await asyncio.sleep(0.01)
        seeding.add_peers([ourselves])  # a tracker lists us again: not dialled
        assert not seeding.dialer.known(ourselves) and not seeding.connections


async def test_one_connection_between_two_peers_that_dial_each_other(tmp_path: Path) -> None:
    torrent, seed_root = make_torrent(tmp_path)
    async with (
        peer(torrent, seed_root) as (seed, seeding),
        peer(torrent, tmp_path / "leech") as (leecher, leeching),
    ):
        leeching.add_peers([("127.0.0.1", seed.port)])
        await wait_for(leeching.finished)
        seeding.add_peers([("127.0.0.1", leecher.port)])  # the other way too
        await asyncio.sleep(0.3)
        assert len(seeding.connections) <= 1 and len(leeching.connections) <= 1


async def test_ipv6_loopback_transfer(tmp_path: Path) -> None:
    torrent, seed_root = make_torrent(tmp_path)
    async with (
        peer(torrent, seed_root, bind="::1") as (seed, _),
        peer(torrent, tmp_path / "leech", bind="::1") as (_, leeching),
    ):
        leeching.add_peers([("::1", seed.port)])
        await wait_for(leeching.finished)
        assert [c.address[0] for c in leeching.connections.values()] in ([], ["::1"])
    assert same_tree(seed_root / "content", tmp_path / "leech" / "content")


async def test_resume_data_that_cannot_be_saved_does_not_stop_a_download(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    torrent, seed_root = make_torrent(tmp_path)

    def read_only_folder(have: Bitfield) -> None:
        raise StorageError(tmp_path / "state", "cannot create resume file: Read-only file system")

    async with peer(torrent, seed_root) as (seed, _):
        leecher = Session(SessionConfig(bind="127.0.0.1", port=0))
        await leecher.start()
        try:
            parts = await open_torrent(torrent, tmp_path / "leech", tmp_path / "state")
            leeching = leecher.add(replace(parts, save_resume=read_only_folder), announce=False)
            leeching.add_peers([("127.0.0.1", seed.port)])
            await wait_for(leeching.finished)
            assert not leeching.ended.is_set()
        finally:
            await leecher.close()  # saves once more, fails once more, closes cleanly
    assert "resume data not saved" in caplog.text and "Read-only" in caplog.text
    assert same_tree(seed_root / "content", tmp_path / "leech" / "content")
