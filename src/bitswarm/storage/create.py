"""Making a torrent from a file or a folder: v1 (BEP 3), v2 (BEP 52) or hybrid.

:func:`create_torrent` walks the path (:mod:`bitswarm.storage.walk`), lays the
files out (:mod:`bitswarm.core.metainfo.creation`), reads and hashes them on a
thread pool (:mod:`bitswarm.storage.hashing`) and returns a validated
:class:`~bitswarm.core.metainfo.Torrent`, ready for ``to_bytes()``. The default
is a hybrid torrent, as libtorrent makes: v1 and v2 peers can both join it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Literal

from bitswarm import __version__
from bitswarm.core.bencode import encode
from bitswarm.core.metainfo import Torrent, Version, build_torrent
from bitswarm.core.metainfo.creation import (
    NewFile,
    info_dictionary,
    lay_out,
    piece_layers,
    with_roots,
)
from bitswarm.core.metainfo.merkle import file_root
from bitswarm.core.metainfo.piece_size import auto_piece_length, check_piece_length
from bitswarm.storage.hashing import Progress, Source, hash_pieces
from bitswarm.storage.walk import Skipped, walk

CREATED_BY = f"bitswarm/{__version__}"

_log = logging.getLogger(__name__)


def _log_skip(skipped: Skipped) -> None:
    _log.warning("skipped %s: %s", skipped.disk_path, skipped.reason)


def _tiers(trackers: Sequence[str | Sequence[str]]) -> list[list[str]]:
    return [[tier] if isinstance(tier, str) else list(tier) for tier in trackers]


def _read_in_full(hashes: tuple[bytes | None, ...]) -> list[bytes]:
    """The hashes of a run, none missing: creation reads every byte (or raises)."""
    known = [digest for digest in hashes if digest is not None]
    assert len(known) == len(hashes), "a piece was skipped while creating a torrent"
    return known


def create_torrent(
    path: str | os.PathLike[str],
    *,
    version: Version = "hybrid",
    piece_length: int | None = None,
    trackers: Sequence[str | Sequence[str]] = (),
    web_seeds: Sequence[str] = (),
    private: bool = False,
    comment: str | None = None,
    source: str | None = None,
    created_by: str | None = CREATED_BY,
    creation_date: int | Literal["now"] | None = "now",
    progress: Progress | None = None,
    on_skip: Callable[[Skipped], None] = _log_skip,
    workers: int | None = None,
) -> Torrent:
    """A new torrent of the file or folder at ``path``.

    ``piece_length`` defaults to libtorrent's choice for the content's size
    (:func:`~bitswarm.core.metainfo.piece_size.auto_piece_length`). Each entry of
    ``trackers`` is a tier (BEP 12): a URL alone, or a sequence of URLs.
    ``creation_date`` is seconds since the epoch, ``"now"``, or ``None`` to leave
    it out (so that the same content always gives the same file). ``progress``
    is called with ``(bytes_done, bytes_total)`` as hashing advances; ``on_skip``
    with each symbolic link or special file left out (by default, a log warning).

    Raises :class:`~bitswarm.storage.errors.StorageError` for content that cannot
    be read, and ``ValueError`` for an unusable piece length or content with no
    bytes at all.
    """
    content = walk(path)
    for skipped in content.skipped:
        on_skip(skipped)
    if piece_length is None:
        piece_length = auto_piece_length(content.total_size)
    check_piece_length(piece_length, v2=version != "v1")
    new_files = [
        NewFile(found.path, found.length, "x" if found.executable else "")
        for found in content.files
    ]
    layout = lay_out(new_files, piece_length, version)
    disk_paths = {found.path: found.disk_path for found in content.files}
    sources = [Source(None if e.is_pad else disk_paths[e.path], e.length) for e in layout]
    v1_hashes: list[bytes] = []
    layers: dict[int, list[bytes]] = {}
    runs = hash_pieces(
        layout,
        piece_length,
        sources,
        v1=version != "v2",
        v2=version != "v1",
        progress=progress,
        workers=workers,
    )
    for run in runs:
        v1_hashes += _read_in_full(run.v1)
        if run.file_index is not None:
            layers.setdefault(run.file_index, []).extend(_read_in_full(run.v2))
    roots = {
        index: file_root(layer, layout[index].length, piece_length)
        for index, layer in layers.items()
    }
    layout = with_roots(layout, roots)
    info = info_dictionary(
        layout,
        piece_length,
        version,
        pieces=b"".join(v1_hashes),
        private=private,
        source=source,
    )
    return build_torrent(
        encode(info),
        trackers=_tiers(trackers),
        web_seeds=web_seeds,
        comment=comment,
        created_by=created_by,
        creation_date=int(time.time()) if creation_date == "now" else creation_date,
        piece_layers=piece_layers(layout, layers, piece_length) if version != "v1" else None,
    )
