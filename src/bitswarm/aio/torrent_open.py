"""Opening a torrent for a session: its verified pieces, its files and its state machine.

What a torrent needs before it can meet peers, in order:

1. the pieces already verified: resume data trusted where the files are
   unchanged, the rest hashed again (:func:`bitswarm.storage.resume.restore`,
   on a thread, so the loop keeps running);
2. its block storage (:class:`~bitswarm.storage.piece_store.PieceStore`
   under the disk threads of :mod:`bitswarm.aio.disk`), told which files are
   skipped so that it does not create them;
3. its :class:`~bitswarm.core.swarm.torrent.TorrentSwarm`, seeded with those
   pieces, and given the piece priorities of the file selection
   (:mod:`bitswarm.core.selection`) and the picking order;
4. a resume-data writer: flush the files (``fsync``), then save the verified
   pieces with the files' sizes and mtimes, atomically.

v2-only torrents are refused for now: their pieces end at file boundaries, so
they do not have the uniform geometry the state machine works with; v1 and
hybrid torrents (whose v1 view pads files to piece boundaries) do.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from pathlib import Path

from bitswarm.aio.disk import DiskIO
from bitswarm.aio.session import TorrentParts
from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import Torrent
from bitswarm.core.selection import SKIP, piece_priorities
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.pieces import PieceGeometry
from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.storage.hashing import Progress
from bitswarm.storage.piece_store import PieceStore
from bitswarm.storage.resume import restore, save_resume, snapshot

STATE_FOLDER = ".bitswarm"
"""Where resume data lives by default: inside the download folder."""


def default_state_dir(save_path: str | os.PathLike[str]) -> Path:
    return Path(save_path) / STATE_FOLDER


class UnsupportedTorrent(ValueError):
    """The peer cannot download this torrent yet; the message says why."""


async def open_torrent(
    torrent: Torrent,
    save_path: str | os.PathLike[str],
    state_dir: str | os.PathLike[str],
    *,
    recheck: bool = False,
    file_priorities: Sequence[int] | None = None,
    sequential: bool = False,
    progress: Progress | None = None,
    max_up: float = 0,
    max_down: float = 0,
    rng: random.Random | None = None,
) -> TorrentParts:
    """Check what is on disk and build everything the session needs to run ``torrent``.

    ``file_priorities`` (one a file, 0 skips it; every file by default) selects
    what to download; ``sequential`` fetches pieces in order rather than rarest
    first. Raises :class:`~bitswarm.core.selection.SelectionError` for bad
    priorities.
    """

    if torrent.version == "v2":
        raise UnsupportedTorrent(
            f"{torrent.name}: v2-only torrents cannot be downloaded yet (v1 and hybrid can)"
        )
    priorities: list[int] | None = None
    skip: tuple[int, ...] = ()
    if file_priorities is not None:
        priorities = piece_priorities(Layout.of(torrent), file_priorities)
        skip = tuple(index for index, priority in enumerate(file_priorities) if priority == SKIP)
    have = await asyncio.to_thread(
        restore, torrent, save_path, state_dir, force=recheck, progress=progress
    )
    store = PieceStore(torrent, save_path, skip=skip)
    disk = DiskIO(store)
    geometry = PieceGeometry(torrent.piece_length, torrent.stream_size)
    loop = asyncio.get_running_loop()
    swarm = TorrentSwarm(geometry, have, rng or random.Random(), loop.time(), priorities=priorities)
    if sequential:
        swarm.set_sequential(True)
    if swarm.is_finished():  # nothing to write, so no write makes the empty files: make them
        await asyncio.to_thread(store.create_empty_files)

    def save(verified: Bitfield) -> None:
        store.flush()
        save_resume(state_dir, snapshot(torrent, save_path, verified))

    return TorrentParts(
        torrent,
        swarm,
        disk,
        have,
        save_resume=save,
        close=disk.close,
        max_up=max_up,
        max_down=max_down,
    )
