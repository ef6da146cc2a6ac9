"""Early write-back: Linux's sync_file_range where there is one, nothing where there is not."""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from pathlib import Path

import pytest

from bitswarm.storage import writeback


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_linux_hands_the_range_to_sync_file_range(tmp_path: Path) -> None:
    ctypes.set_errno(0)
    writeback.start_writeback(-1, 0, 1)
    assert ctypes.get_errno() == errno.EBADF  # libc's call, which checks its descriptor
    path = tmp_path / "data"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        os.pwrite(fd, b"x" * 65536, 4096)
        writeback.start_writeback(fd, 4096, 65536)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert path.read_bytes() == bytes(4096) + b"x" * 65536


def test_without_sync_file_range_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writeback, "_SYNC_FILE_RANGE", None)
    ctypes.set_errno(0)
    writeback.start_writeback(-1, 0, 1)  # libc would refuse the descriptor: nothing calls it
    assert ctypes.get_errno() == 0
