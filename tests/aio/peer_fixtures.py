"""Two real bitswarm peers on 127.0.0.1, for the session tests: content, torrent, sessions."""

from __future__ import annotations

import asyncio
import filecmp
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from bitswarm.aio.session import Session, SessionConfig
from bitswarm.aio.torrent_open import default_state_dir, open_torrent
from bitswarm.aio.torrent_runner import TorrentRunner
from bitswarm.core.metainfo import Torrent
from bitswarm.storage.create import create_torrent
from torrent_content import FOLDER, PIECE, make_files


def make_torrent(tmp_path: Path) -> tuple[Torrent, Path]:
    """A multi-file v1 torrent of :data:`torrent_content.FOLDER`; returns it and its folder."""
    seed_root = tmp_path / "seed"
    make_files(seed_root / "content", FOLDER)
    torrent = create_torrent(seed_root / "content", version="v1", piece_length=PIECE)
    return torrent, seed_root


@asynccontextmanager
async def peer(
    torrent: Torrent,
    root: Path,
    *,
    max_up: float = 0,
    max_down: float = 0,
    bind: str = "127.0.0.1",
    file_priorities: Sequence[int] | None = None,
    announce: bool = False,
) -> AsyncIterator[tuple[Session, TorrentRunner]]:
    """A session on loopback running ``torrent`` with its data under ``root``."""
    config = SessionConfig(bind=bind, port=0, max_up=max_up, max_down=max_down)
    running = session_of(config, root, [torrent], file_priorities, announce=announce)
    async with running as (session, (runner,)):
        yield session, runner


@asynccontextmanager
async def session_of(
    config: SessionConfig,
    root: Path,
    torrents: Sequence[Torrent],
    file_priorities: Sequence[int] | None = None,
    *,
    caps: Sequence[float] | None = None,
    announce: bool = False,
) -> AsyncIterator[tuple[Session, list[TorrentRunner]]]:
    """A started session running every torrent of ``torrents`` with its data under ``root``;
    ``caps`` are their own upload caps (none by default)."""
    session = Session(config)
    await session.start()
    try:
        runners = []
        state = default_state_dir(root)
        for torrent, cap in zip(torrents, caps or [0.0] * len(torrents), strict=True):
            parts = await open_torrent(
                torrent, root, state, file_priorities=file_priorities, max_up=cap
            )
            runners.append(session.add(parts, announce=announce))
        yield session, runners
    finally:
        await session.close()


async def wait_for(event: asyncio.Event, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        await event.wait()


def same_tree(left: Path, right: Path) -> bool:
    """Every file under ``left`` is under ``right`` with the same bytes, and nothing more."""
    compared = filecmp.dircmp(left, right)
    if compared.left_only or compared.right_only or compared.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, compared.common_files, shallow=False)
    return (
        not mismatch
        and not errors
        and all(same_tree(left / sub, right / sub) for sub in compared.common_dirs)
    )
