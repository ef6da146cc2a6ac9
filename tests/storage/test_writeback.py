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
def test_linux_starts_write_back_of_a_written_range(tmp_path: Path) -> None:
    assert writeback.available()
    path = tmp_path / "data"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        os.pwrite(fd, b"x" * 65536, 4096)
        writeback.start_writeback(fd, 4096, 65536)
        os.fsync(fd)
    finally:
        os.close(fd)
    assert path.read_bytes()[4096:] == b"x" * 65536
    function = writeback._SYNC_FILE_RANGE
    assert function is not None  # libc's, which checks its descriptor:
    assert function(-1, 0, 1, writeback.SYNC_FILE_RANGE_WRITE) == -1
    assert ctypes.get_errno() == errno.EBADF


def test_without_sync_file_range_it_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writeback, "_SYNC_FILE_RANGE", None)
    assert not writeback.available()
    writeback.start_writeback(-1, 0, 1)  # a bad descriptor is never touched
