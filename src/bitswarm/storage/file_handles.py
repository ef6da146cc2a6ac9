"""A bounded, thread-safe cache of open file descriptors for a torrent's files.

A torrent may hold thousands of files and a session many torrents, while a
process may keep only so many descriptors open; opening a file for every 16 KiB
block would cost a path lookup each time. :class:`FileHandles` keeps the most
recently used descriptors open, up to ``capacity``, and closes the least
recently used one when another is needed (libtorrent's file pool does the same).

Theory of operation
-------------------
Several disk threads use the cache at once, so a descriptor is *leased*: the
``lease`` context manager counts its users, and eviction closes only idle
descriptors; one still in use when it falls out of the cache (or is replaced by
a writable one) is closed by its last user. A lock guards the table and the
opens; reads and writes themselves run outside it, in parallel.

A file opened for writing is created with its folders, at its full size as a
sparse file (``ftruncate``, never zeros written), and never shortened: data
beyond the torrent's size is not the cache's to destroy. A file opened for
reading only is never created. Paths are opened with ``O_NOFOLLOW``, so a
symbolic link planted where a file belongs cannot redirect writes out of the
download folder. Every failure is a
:class:`~bitswarm.storage.errors.StorageError` naming the file.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bitswarm.storage.errors import StorageError

_FLAGS = os.O_CLOEXEC | os.O_NOFOLLOW


@dataclass(frozen=True, slots=True)
class FileSpec:
    """What the cache needs to know of one file: where, how large, and its mode bits."""

    disk_path: Path
    length: int
    executable: bool = False


@dataclass(slots=True)
class _Handle:
    fd: int
    writable: bool
    users: int = 0
    retired: bool = False


def _reason(exc: OSError) -> str:
    if exc.errno == getattr(os, "ELOOP", None):
        return "is a symbolic link, which bitswarm does not follow"
    return exc.strerror or str(exc)


def _open(spec: FileSpec, flags: int, mode: int, purpose: str) -> int:
    try:
        fd = os.open(spec.disk_path, flags | _FLAGS, mode)
    except OSError as exc:
        raise StorageError(spec.disk_path, f"cannot open {purpose}: {_reason(exc)}") from exc
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError as exc:
        os.close(fd)
        raise StorageError(spec.disk_path, f"cannot stat: {_reason(exc)}") from exc
    if not regular:
        os.close(fd)
        raise StorageError(spec.disk_path, "is not a regular file")
    return fd


def _open_for_writing(spec: FileSpec) -> int:
    try:
        spec.disk_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(spec.disk_path.parent, f"cannot create folder: {_reason(exc)}") from exc
    mode = 0o777 if spec.executable else 0o666  # the umask takes off the rest
    fd = _open(spec, os.O_RDWR | os.O_CREAT, mode, "for writing")
    try:
        if os.fstat(fd).st_size < spec.length:
            os.ftruncate(fd, spec.length)
    except OSError as exc:
        os.close(fd)
        raise StorageError(spec.disk_path, f"cannot set size: {_reason(exc)}") from exc
    return fd


def _open_for_reading(spec: FileSpec) -> int:
    return _open(spec, os.O_RDONLY, 0, "for reading")


class FileHandles:
    """Up to ``capacity`` open descriptors over the files ``specs``, least recently used out."""

    def __init__(self, specs: dict[int, FileSpec], capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError(f"file handle capacity must be at least 1, got {capacity}")
        self._specs = specs
        self._capacity = capacity
        self._open: OrderedDict[int, _Handle] = OrderedDict()
        self._dirty: set[int] = set()
        self._lock = threading.Lock()

    def spec(self, index: int) -> FileSpec:
        return self._specs[index]

    @property
    def open_count(self) -> int:
        """How many descriptors the cache holds now (users may hold retired ones beyond)."""
        with self._lock:
            return len(self._open)

    def create(self, index: int) -> None:
        """Create file ``index`` (and its folders) at its full size, if it is not there."""
        with self.lease(index, write=True):
            pass

    @contextmanager
    def lease(self, index: int, *, write: bool) -> Iterator[int]:
        """A descriptor of file ``index``, readable (and writable with ``write``) while held."""
        handle = self._acquire(index, write)
        try:
            yield handle.fd
        finally:
            self._release(handle)

    def _acquire(self, index: int, write: bool) -> _Handle:
        with self._lock:
            handle = self._open.get(index)
            if handle is not None and (handle.writable or not write):
                self._open.move_to_end(index)
            else:
                spec = self._specs[index]
                fd = _open_for_writing(spec) if write else _open_for_reading(spec)
                if handle is not None:
                    self._retire(handle)
                handle = self._open[index] = _Handle(fd, write)
                self._evict()
            handle.users += 1
            if write:
                self._dirty.add(index)
            return handle

    def _release(self, handle: _Handle) -> None:
        with self._lock:
            handle.users -= 1
            if handle.retired and not handle.users:
                os.close(handle.fd)

    def _retire(self, handle: _Handle) -> None:
        handle.retired = True
        if not handle.users:
            os.close(handle.fd)

    def _evict(self) -> None:
        """Drop least recently used descriptors until the cache is within its capacity."""
        excess = len(self._open) - self._capacity
        for index in list(self._open)[:excess]:
            self._retire(self._open.pop(index))

    def sync(self) -> None:
        """``fsync`` every file written since the last sync, so its data survives a power cut.

        A file whose descriptor was evicted meanwhile is opened again for it.
        """
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        try:
            while dirty:
                index = min(dirty)
                with self.lease(index, write=False) as fd:
                    try:
                        os.fsync(fd)
                    except OSError as exc:
                        raise StorageError(self._specs[index].disk_path, _reason(exc)) from exc
                dirty.discard(index)
        finally:
            with self._lock:
                self._dirty |= dirty

    def close(self) -> None:
        """Close every idle descriptor now; those in use close when their lease ends."""
        with self._lock:
            while self._open:
                self._retire(self._open.popitem()[1])
