"""``download --only/--skip/--sequential``: which files to fetch, and in which order.

``--only PATTERN`` keeps the files a pattern names, ``--skip PATTERN`` drops
them (both repeatable; the rules of :mod:`bitswarm.core.selection`: a shell
glob on the file's path as ``bitswarm info`` lists it, or on that path below
the torrent's folder, ``*`` crossing ``/``). A pattern that matches nothing is
a usage error, so a typo never downloads the whole torrent. ``--sequential``
fetches pieces in order, for playing a file while it downloads.

With a selection, ``--json`` lists every file with whether it was wanted and
whether it is complete on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from bitswarm.cli.errors import UserError
from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import Torrent
from bitswarm.core.selection import SKIP, SelectionError, file_path, select_files
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.storage.piece_store import disk_path

_F = TypeVar("_F", bound=Callable[..., Any])


def selection_options(command: _F) -> _F:
    """The options ``--only``, ``--skip`` (repeatable) and ``--sequential``."""

    options = [
        click.option(
            "--only",
            multiple=True,
            metavar="PATTERN",
            help="Download only the files this glob names, e.g. '*.mkv' (repeatable).",
        ),
        click.option(
            "--skip",
            multiple=True,
            metavar="PATTERN",
            help="Do not download the files this glob names (repeatable).",
        ),
        click.option(
            "--sequential", is_flag=True, help="Fetch pieces in order (to play while downloading)."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def file_priorities(torrent: Torrent, only: Sequence[str], skip: Sequence[str]) -> list[int] | None:
    """The file priorities ``--only`` and ``--skip`` ask for; ``None`` without either."""

    if not only and not skip:
        return None
    try:
        return select_files(torrent.files, only=only, skip=skip)
    except SelectionError as error:
        where = f"--{error.option}: " if error.option else "--only/--skip: "
        raise UserError(f"{where}{error}") from None


def files_record(
    torrent: Torrent, root: Path, priorities: Sequence[int], have: Bitfield
) -> list[object]:
    """Each file (pad files left out): its path, size, whether wanted, whether complete
    (its pieces verified; an empty file, on disk)."""

    layout = Layout.of(torrent)
    record: list[object] = []
    for index, entry in enumerate(torrent.files):
        if entry.is_pad or entry.is_symlink:
            continue
        wanted = priorities[index] != SKIP
        if entry.length:
            complete = all(have[piece] for piece in layout.file_pieces(index))
        else:
            complete = disk_path(root, entry).is_file()
        record.append(
            {"path": file_path(entry), "size": entry.length, "wanted": wanted, "complete": complete}
        )
    return record
