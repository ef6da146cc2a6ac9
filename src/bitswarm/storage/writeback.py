"""Early write-back: the kernel starts writing a piece to disk as soon as it is written.

Why: bitswarm makes its writes durable (``fsync``) before it saves resume
data that claims their pieces (:mod:`bitswarm.storage.resume`). Left alone,
the kernel keeps a fast download's data dirty in memory (up to a tenth of
the RAM) and the ``fsync`` that follows the last piece writes all of it at
once, with the download done and its user waiting: a second a GiB on a fast
disk. Asking for write-back of each piece as it is written (Linux's
``sync_file_range`` with ``SYNC_FILE_RANGE_WRITE``: start writing, do not
wait) spreads that work over the download, so the final ``fsync`` waits for
the last few pieces only. The data stays in the page cache, so a seed that
reads it back soon still finds it there.

Where there is no ``sync_file_range`` (another system, another C library),
:func:`start_writeback` does nothing: the writes are as durable, only the
final ``fsync`` is longer. The call is advice: its failure is ignored, and
the ``fsync`` before each resume save still decides what is durable.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

SYNC_FILE_RANGE_WRITE = 2
"""``<fcntl.h>``: start write-out of the range's dirty pages, without waiting for it."""


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range``, called without the GIL, or ``None`` where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE = _sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing ``length`` bytes of ``fd`` at ``offset`` to disk."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, SYNC_FILE_RANGE_WRITE)
