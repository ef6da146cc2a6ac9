"""File selection: which of a torrent's files to download, as the picker's piece priorities.

Theory of operation
-------------------
A user chooses *files* (libtorrent's file priorities: 0 skips a file, 1-7
rank the rest, 4 is the default); the
:class:`~bitswarm.core.swarm.picker.PiecePicker` works on *pieces*. In a v1
or hybrid torrent a piece may hold the end of one file and the start of the
next, so :func:`piece_priorities` gives each piece the highest priority of the
files it touches, read from the :class:`~bitswarm.core.layout.Layout`: a piece
shared by a wanted file and a skipped one is wanted, since the wanted file
cannot be finished without it. Only the skipped file's bytes in that piece
reach its file on disk. BEP 47 pad files take the priority of the file they pad
out (the one before them): their zeros share that file's last piece. Empty
files cover no piece and change nothing.

:func:`select_files` turns ``--only`` and ``--skip`` patterns into file
priorities. A pattern is a shell glob (``*``, ``?``, ``[...]``; ``*`` also
crosses ``/``), matched against a file's path as ``bitswarm info`` lists it
(``name/folder/file`` for a multi-file torrent) or the same path below the
torrent's folder (``folder/file``). Pad files are never matched. A pattern
that matches no file is an error (a typo would otherwise download everything
or nothing), and so is a selection that leaves no file at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import FileEntry
from bitswarm.core.swarm.picker import DEFAULT_PRIORITY, MAX_PRIORITY

SKIP = 0
"""The priority of a file (or piece) not to download."""


class SelectionError(ValueError):
    """File priorities or patterns that cannot be used; ``option`` names the culprit, if one."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


def piece_priorities(layout: Layout, file_priorities: Sequence[int]) -> list[int]:
    """Each piece's priority: the highest of the files it holds bytes of (0 if none wants it)."""

    files = layout.files
    if len(file_priorities) != len(files):
        raise SelectionError(f"{len(file_priorities)} file priorities for {len(files)} files")
    pieces = [SKIP] * layout.piece_count
    padded = SKIP  # the priority of the last real file: a pad file after it shares it
    for index, (entry, priority) in enumerate(zip(files, file_priorities, strict=True)):
        if not 0 <= priority <= MAX_PRIORITY:
            raise SelectionError(
                f"priority of file {index} must be 0-{MAX_PRIORITY}, got {priority}"
            )
        if entry.is_pad:
            priority = padded
        else:
            padded = priority
        for piece in layout.file_pieces(index):
            if priority > pieces[piece]:
                pieces[piece] = priority
    return pieces


def file_path(entry: FileEntry) -> str:
    """A file's path as ``bitswarm info`` lists it."""
    return "/".join(entry.path)


def matches(entry: FileEntry, pattern: str) -> bool:
    """Whether ``pattern`` names ``entry`` (its listed path, or that path below the torrent's
    folder); pad files never match."""

    if entry.is_pad:
        return False
    inner = "/".join(entry.path[1:])
    return fnmatchcase(file_path(entry), pattern) or bool(inner and fnmatchcase(inner, pattern))


def select_files(
    files: Sequence[FileEntry], *, only: Sequence[str] = (), skip: Sequence[str] = ()
) -> list[int]:
    """File priorities for ``--only`` and ``--skip`` patterns: the default for a file that
    some ``only`` pattern names (every file when there is none) unless a ``skip`` pattern
    names it, 0 otherwise.

    Raises :class:`SelectionError` for a pattern that matches no file, or a selection
    that leaves no file to download.
    """

    for option, patterns in (("only", only), ("skip", skip)):
        for pattern in patterns:
            if not any(matches(entry, pattern) for entry in files):
                raise SelectionError(f"{pattern!r} matches no file in the torrent", option)
    priorities = []
    for entry in files:
        wanted = not entry.is_pad and (not only or any(matches(entry, p) for p in only))
        wanted = wanted and not any(matches(entry, p) for p in skip)
        priorities.append(DEFAULT_PRIORITY if wanted else SKIP)
    if all(priority == SKIP for priority in priorities):
        raise SelectionError("the selection leaves no file to download")
    return priorities
