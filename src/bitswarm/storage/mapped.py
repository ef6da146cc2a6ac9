"""A file's bytes straight from the page cache, through a guarded memory map.

Hashing reads every byte of the content once. Read into a buffer, each byte is
first copied out of the page cache, about a tenth of the work of hashing with
SHA-1 on cores that have SHA instructions; hashed from a memory map, it is not
copied at all. A map has one hazard, a file truncated while it is mapped: the
next touch of a page past its new end raises SIGBUS, which ends the process.
The C helper ``bitswarm.storage._shrink_guard`` turns such pages into zeros
while a map is in use, and counts them, so :func:`mapped_bytes` can raise a
:class:`StorageError` for that file instead.

Without the helper (built without a compiler) or for a file that cannot be
mapped, :func:`mapped_bytes` gives ``None`` and the caller reads as before.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from bitswarm.storage.errors import StorageError

if TYPE_CHECKING:
    from bitswarm.storage._shrink_guard import Guard


def _helper() -> Callable[[mmap.mmap], Guard] | None:
    try:
        from bitswarm.storage import _shrink_guard
    except ImportError:  # built without the C helper
        return None
    return _shrink_guard.guard


GUARD = _helper()
"""The C helper's ``guard``, or ``None`` when ``bitswarm.storage._shrink_guard`` was not built."""


@contextmanager
def mapped_bytes(path: Path, offset: int, length: int) -> Iterator[memoryview | None]:
    """A read-only view of ``length`` (> 0) bytes of ``path`` at ``offset``, valid in the block.

    ``None`` when mapping is not available here; the caller then reads the
    bytes instead. Raises :class:`StorageError` if the file is shorter than
    ``offset + length`` or shrinks before the block ends (the view then held
    zeros where the file had gone).
    """
    if GUARD is None:
        yield None
        return
    skip = offset % mmap.ALLOCATIONGRANULARITY
    try:
        handle = open(path, "rb", buffering=0)  # noqa: SIM115 (closed at once, below)
    except OSError as exc:
        raise StorageError.unreadable(path, exc) from exc
    with handle:
        try:
            mapping = mmap.mmap(
                handle.fileno(),
                skip + length,
                prot=mmap.PROT_READ,
                offset=offset - skip,
            )
        except ValueError:  # the file ends before offset + length
            raise StorageError.shrank(path) from None
        except OSError:  # not a mappable file (some special file systems)
            mapping = None
    if mapping is None:
        yield None
        return
    try:
        try:
            guard = GUARD(mapping)
        except RuntimeError:  # every guard slot in use: read this one instead
            guard = None
        if guard is None:  # yielded outside the handler, so the caller's errors stand alone
            yield None
            return
        try:
            with memoryview(mapping) as view, view[skip:] as wanted:
                yield wanted
        finally:
            shrank = guard.release()
        if shrank:
            raise StorageError.shrank(path)
    finally:
        mapping.close()
