"""Finding the files a new torrent is made of: one file, or a folder walked recursively.

The order is the one libtorrent gives a v2 or hybrid torrent (BEP 52 asks for a
canonical order): files sorted by their path, compared as UTF-8 bytes of the
``/``-joined components. bitswarm uses it for v1 torrents too, so the same folder
always gives the same torrent whatever order the file system lists it in.

Nothing is skipped silently. Symbolic links (to files or folders) and special
files (sockets, FIFOs, devices) are left out of the torrent and each is reported
as a :class:`Skipped` entry: following links could pull in files from outside the
folder, or loop. A folder or file that cannot be read, or a name that a torrent
cannot carry (not UTF-8, or unsafe on some platform by
:func:`bitswarm.core.metainfo.paths.unsafe_reason`), stops the walk with a
:class:`StorageError` naming it: a torrent missing a file its author expected is
worse than no torrent. Hidden files are included, as libtorrent, mktorrent and
Transmission include them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bitswarm.core.metainfo.paths import unsafe_reason
from bitswarm.storage.errors import StorageError


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A regular file to put in the torrent."""

    path: tuple[str, ...]
    """As in a torrent: ``(name,)`` alone, or ``(name, *components)`` in a folder."""
    disk_path: Path
    length: int
    executable: bool


@dataclass(frozen=True, slots=True)
class Skipped:
    """A folder entry left out of the torrent, and why."""

    disk_path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class Content:
    """What :func:`walk` found under a path."""

    name: str
    """The torrent's ``name``: the file's or the folder's own name."""
    is_folder: bool
    files: tuple[FoundFile, ...]
    skipped: tuple[Skipped, ...]

    @property
    def total_size(self) -> int:
        return sum(f.length for f in self.files)


def _component(raw: str, disk_path: Path) -> str:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise StorageError(
            disk_path, "name is not valid UTF-8, a torrent cannot carry it"
        ) from None
    reason = unsafe_reason(raw)
    if reason is not None:
        raise StorageError(disk_path, f"name cannot go in a torrent: {reason}")
    return raw


def _found(disk_path: Path, path: tuple[str, ...], info: os.stat_result) -> FoundFile:
    executable = bool(info.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    return FoundFile(path, disk_path, info.st_size, executable)


def _walk_folder(
    folder: Path, prefix: tuple[str, ...], files: list[FoundFile], skipped: list[Skipped]
) -> None:
    try:
        with os.scandir(folder) as entries:
            listed = list(entries)
    except OSError as exc:
        raise StorageError(folder, f"cannot list folder: {exc.strerror}") from exc
    for entry in listed:
        disk_path = folder / entry.name
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError as exc:
            raise StorageError(disk_path, f"cannot stat: {exc.strerror}") from exc
        if stat.S_ISLNK(info.st_mode):
            skipped.append(Skipped(disk_path, "symbolic link, not followed"))
            continue
        path = (*prefix, _component(entry.name, disk_path))
        if stat.S_ISDIR(info.st_mode):
            _walk_folder(disk_path, path, files, skipped)
        elif stat.S_ISREG(info.st_mode):
            _check_readable(disk_path)
            files.append(_found(disk_path, path, info))
        else:
            skipped.append(Skipped(disk_path, "not a regular file or folder"))


def _check_readable(disk_path: Path) -> None:
    if not os.access(disk_path, os.R_OK):
        raise StorageError(disk_path, "file is not readable")


def _sort_key(found: FoundFile) -> bytes:
    return "/".join(found.path).encode("utf-8")


def walk(path: str | os.PathLike[str]) -> Content:
    """The files under ``path`` (a file or a folder), in canonical order.

    ``path`` itself may be a symbolic link: it was named explicitly, so it is
    followed. Raises :class:`StorageError` if ``path`` is missing, unreadable,
    holds no file, or holds a name a torrent cannot carry.
    """
    top = Path(os.path.abspath(path))
    name = _component(top.name, top)
    try:
        info = top.stat()
    except OSError as exc:
        raise StorageError(top, f"cannot stat: {exc.strerror}") from exc
    if stat.S_ISREG(info.st_mode):
        _check_readable(top)
        return Content(name, False, (_found(top, (name,), info),), ())
    if not stat.S_ISDIR(info.st_mode):
        raise StorageError(top, "neither a regular file nor a folder")
    files: list[FoundFile] = []
    skipped: list[Skipped] = []
    _walk_folder(top, (name,), files, skipped)
    if not files:
        raise StorageError(top, "folder holds no files")
    files.sort(key=_sort_key)
    skipped.sort(key=lambda s: os.fsencode(s.disk_path))
    return Content(name, True, tuple(files), tuple(skipped))
