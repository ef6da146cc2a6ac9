"""Reading what the user names on the command line: a ``.torrent`` file or a magnet link.

Every failure becomes a :class:`~bitswarm.cli.errors.UserError` that names the
file and the fault (the parsers already say where in the document), so the
user sees one line such as ``x.torrent: torrent: info.piece length: missing``.
"""

from __future__ import annotations

import os

from bitswarm.cli.errors import UserError
from bitswarm.cli.units import format_size
from bitswarm.core.bencode import BencodeError
from bitswarm.core.magnet import Magnet, MagnetError, parse_magnet
from bitswarm.core.metainfo import Torrent, TorrentError, parse_torrent

MAX_TORRENT_FILE = 64 * 1024 * 1024
"""Largest ``.torrent`` read; v2 piece layers make big ones, but not this big."""


def read_torrent(path: str) -> Torrent:
    """The torrent in the file at ``path``, validated."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_TORRENT_FILE + 1)
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from error
    if len(data) > MAX_TORRENT_FILE:
        raise UserError(f"{path}: larger than {format_size(MAX_TORRENT_FILE)}, not a torrent")
    try:
        return parse_torrent(data)
    except (BencodeError, TorrentError) as error:
        raise UserError(f"{path}: not a valid torrent: {error}") from error


def read_torrent_or_magnet(text: str) -> Torrent | Magnet:
    """A magnet link if ``text`` is one, else the torrent file it names."""
    if text[:7].lower() == "magnet:":
        try:
            return parse_magnet(text)
        except MagnetError as error:
            raise UserError(str(error)) from error
    if not os.path.exists(text):
        raise UserError(f"no such torrent file or magnet link: {text}")
    return read_torrent(text)
