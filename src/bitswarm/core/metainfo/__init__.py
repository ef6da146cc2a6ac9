"""Torrent metainfo: the model, reading and writing ``.torrent`` files (BEP 3, 12, 19, 27, 47, 52).

Public API::

    parse_torrent(data) -> Torrent          # validate a .torrent file
    build_torrent(info, trackers=...) -> Torrent   # from an info dict (creation, BEP 9)
    rehash(torrent, private=..., source=...) -> Torrent   # new info-hash, explicitly
    Torrent.to_bytes()                      # info bytes kept exactly
    Torrent.with_trackers/with_web_seeds/with_comment/...  # same info-hash
    target_path(root, entry.path)           # safe path under a download folder

Every fault raises :class:`TorrentError` (a ``ValueError``) naming the field.
"""

from bitswarm.core.metainfo.errors import TorrentError
from bitswarm.core.metainfo.model import FileEntry, Torrent, Version
from bitswarm.core.metainfo.paths import check_component, check_path, target_path
from bitswarm.core.metainfo.torrent_file import build_torrent, parse_torrent, rehash

__all__ = [
    "FileEntry",
    "Torrent",
    "TorrentError",
    "Version",
    "build_torrent",
    "check_component",
    "check_path",
    "parse_torrent",
    "rehash",
    "target_path",
]
