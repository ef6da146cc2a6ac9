"""Several torrents in one session: one listener routes by info-hash; limits per torrent,
for the whole session, and on connections (BEP 3 over 127.0.0.1)."""

from __future__ import annotations

import asyncio
import time
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from hostile_peer import RawPeer
from peer_fixtures import same_tree, session_of, wait_for

from bitswarm import __version__
from bitswarm.aio.session import Session, SessionConfig, peer_id_prefix
from bitswarm.aio.torrent_runner import TorrentRunner
from bitswarm.core.metainfo import Torrent
from bitswarm.core.wire.messages import HaveAll
from bitswarm.storage.create import create_torrent
from torrent_content import FOLDER, PIECE, make_files

FRAME = 16 * 1024 + 13
"""One ``piece`` message of a full block: a cap may be overrun by the one in flight."""


def two_torrents(root: Path) -> list[Torrent]:
    """Two different multi-file v1 torrents, their content under ``root / "seed"``."""
    torrents = []
    for name, seed in (("first", 1), ("second", 2)):
        make_files(root / "seed" / name, FOLDER, seed=seed)
        torrents.append(create_torrent(root / "seed" / name, version="v1", piece_length=PIECE))
    return torrents


def session_with(
    torrents: list[Torrent],
    root: Path,
    *,
    caps: list[float] | None = None,
    max_up: float = 0,
    max_connections: int = 200,
) -> AbstractAsyncContextManager[tuple[Session, list[TorrentRunner]]]:
    """One session on loopback running every torrent of ``torrents`` under ``root``;
    ``caps`` are per-torrent upload caps, the rest the session's own settings."""
    config = SessionConfig(bind="127.0.0.1", port=0, max_up=max_up, max_connections=max_connections)
    return session_of(config, root, torrents, caps=caps)


async def download_all(seed: Session, leeching: list[TorrentRunner]) -> float:
    """Every leecher dials the seed's one port; returns the seconds until all are done."""
    started = time.monotonic()
    for runner in leeching:
        runner.add_peers([("127.0.0.1", seed.port)])
    await asyncio.gather(*(wait_for(runner.finished) for runner in leeching))
    return time.monotonic() - started


async def test_one_listener_serves_two_torrents_to_one_session(tmp_path: Path) -> None:
    torrents = two_torrents(tmp_path)
    async with (
        session_with(torrents, tmp_path / "seed") as (seed, seeding),
        session_with(torrents, tmp_path / "leech") as (_, leeching),
    ):
        assert all(runner.finished.is_set() for runner in seeding)
        await download_all(seed, leeching)
        for runner, torrent in zip(seeding, torrents, strict=True):
            assert runner.status().uploaded >= torrent.total_size
    for name in ("first", "second"):
        assert same_tree(tmp_path / "seed" / name, tmp_path / "leech" / name)


async def test_a_per_torrent_upload_cap_holds_beside_an_uncapped_torrent(tmp_path: Path) -> None:
    torrents = two_torrents(tmp_path)
    rate = 250_000
    async with (
        session_with(torrents, tmp_path / "seed", caps=[rate, 0]) as (seed, seeding),
        session_with(torrents, tmp_path / "leech") as (_, leeching),
    ):
        elapsed = await download_all(seed, leeching)
        torrent_bucket, session_bucket = seeding[0].limiters.up.buckets
        assert torrent_bucket.rate == rate and session_bucket.rate == 0
        assert [bucket.rate for bucket in seeding[1].limiters.up.buckets] == [0, 0]
        assert session_bucket is seeding[1].limiters.up.buckets[1]
    # The capped torrent's content crossed its own cap within `elapsed` seconds.
    capped = seeding[0].status().uploaded
    assert torrents[0].total_size <= capped <= rate * elapsed + torrent_bucket.burst + FRAME
    assert same_tree(tmp_path / "seed" / "first", tmp_path / "leech" / "first")


async def test_two_torrents_share_the_session_upload_cap(tmp_path: Path) -> None:
    torrents = two_torrents(tmp_path)
    rate = 400_000
    async with (
        session_with(torrents, tmp_path / "seed", max_up=rate) as (seed, seeding),
        session_with(torrents, tmp_path / "leech") as (_, leeching),
    ):
        elapsed = await download_all(seed, leeching)
        burst = seed.limits.up.burst
        uploaded = sum(runner.status().uploaded for runner in seeding)
    # Both torrents' content crossed the one session bucket in `elapsed` seconds.
    assert sum(t.total_size for t in torrents) <= uploaded <= rate * elapsed + burst + 2 * FRAME


async def test_a_full_session_refuses_more_connections(tmp_path: Path) -> None:
    torrents = two_torrents(tmp_path)
    async with session_with(torrents, tmp_path / "seed", max_connections=1) as (seed, _):
        first = await RawPeer.dial(seed.port, torrents[0].piece_count, local="127.0.0.2")
        await first.send_handshake(torrents[0].info_hash)
        assert (await first.read_handshake()).info_hash == torrents[0].info_hash
        assert isinstance(await first.next_message(), HaveAll)
        assert seed.connection_count() == 1
        # The session is full, whichever torrent a newcomer asks for.
        for torrent in torrents:
            extra = await RawPeer.dial(seed.port, torrent.piece_count, local="127.0.0.3")
            await extra.send_handshake(torrent.info_hash)
            assert await extra.closed_by_peer()
        assert seed.connection_count() == 1
        await first.close()
        async with asyncio.timeout(10):
            while seed.connection_count():
                await asyncio.sleep(0.02)
        again = await RawPeer.dial(seed.port, torrents[1].piece_count, local="127.0.0.3")
        await again.send_handshake(torrents[1].info_hash)
        assert (await again.read_handshake()).info_hash == torrents[1].info_hash
        await again.close()


def test_peer_ids_name_bitswarm_and_its_version_bep_20() -> None:
    assert peer_id_prefix("0.1.0") == b"-BS0100-"
    assert peer_id_prefix("1.2.3.4") == b"-BS1234-"
    assert peer_id_prefix("2") == b"-BS2000-"
    with pytest.raises(ValueError, match=r"10\.0"):
        peer_id_prefix("10.0")


async def test_each_session_handshakes_with_a_peer_id_of_its_own(tmp_path: Path) -> None:
    (torrent, _) = two_torrents(tmp_path)
    ids = []
    for _ in range(2):
        async with session_with([torrent], tmp_path / "seed") as (session, _runners):
            raw = await RawPeer.dial(session.port, torrent.piece_count, local="127.0.0.2")
            await raw.send_handshake(torrent.info_hash)
            ids.append((await raw.read_handshake()).peer_id)
            await raw.close()
    assert all(len(i) == 20 and i.startswith(peer_id_prefix(__version__)) for i in ids)
    assert ids[0] != ids[1]
