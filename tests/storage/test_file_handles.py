"""FileHandles: leases, evicting idle descriptors only, writable upgrades, fsync of dirty files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bitswarm.storage.errors import StorageError
from bitswarm.storage.file_handles import FileHandles, FileSpec


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest.fixture
def handles(tmp_path: Path) -> FileHandles:
    specs = {i: FileSpec(tmp_path / "t" / f"f{i}", 1000 * (i + 1)) for i in range(3)}
    specs[3] = FileSpec(tmp_path / "t" / "tool", 10, executable=True)
    return FileHandles(specs, capacity=1)


def test_a_leased_descriptor_outlives_its_eviction(handles: FileHandles, tmp_path: Path) -> None:
    with handles.lease(0, write=True) as first:
        with handles.lease(1, write=True) as second:
            assert handles.open_count == 1  # file 0 evicted from the cache...
            assert is_open(first)  # ...but not closed under its user
            os.pwrite(first, b"zero", 0)
            os.pwrite(second, b"one", 0)
        assert is_open(first)
    assert not is_open(first)
    assert (tmp_path / "t" / "f0").read_bytes()[:4] == b"zero"
    assert (tmp_path / "t" / "f1").stat().st_size == 2000


def test_a_reader_keeps_its_descriptor_when_a_writer_upgrades_it(
    handles: FileHandles, tmp_path: Path
) -> None:
    handles.create(0)
    handles.close()
    with handles.lease(0, write=False) as reader:
        with handles.lease(0, write=True) as writer:
            assert writer != reader and is_open(reader)
            os.pwrite(writer, b"new", 0)
        assert os.pread(reader, 3, 0) == b"new"
        with handles.lease(0, write=False) as again:
            assert again == writer  # a writable descriptor serves readers too
    assert not is_open(reader)
    handles.close()
    assert not is_open(writer)
    assert handles.open_count == 0


def test_reading_never_creates_a_file(handles: FileHandles, tmp_path: Path) -> None:
    with (
        pytest.raises(StorageError, match=r"f2: cannot open for reading: No such file"),
        handles.lease(2, write=False),
    ):
        pass
    assert not (tmp_path / "t").exists()


def test_files_are_never_shortened_and_keep_their_mode(
    handles: FileHandles, tmp_path: Path
) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "f0").write_bytes(b"x" * 1500)
    handles.create(0)
    handles.create(3)
    assert (tmp_path / "t" / "f0").stat().st_size == 1500
    mode = (tmp_path / "t" / "tool").stat().st_mode
    assert mode & stat.S_IXUSR
    assert not (tmp_path / "t" / "f0").stat().st_mode & stat.S_IXUSR


def test_sync_reaches_files_evicted_since_they_were_written(
    handles: FileHandles, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in (0, 1, 2):
        with handles.lease(index, write=True) as fd:
            os.pwrite(fd, b"data", 0)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: synced.append(os.fstat(fd).st_ino) or real_fsync(fd)
    )
    handles.sync()
    assert sorted(synced) == sorted(handles.spec(i).disk_path.stat().st_ino for i in (0, 1, 2))
    synced.clear()
    handles.sync()
    assert synced == []  # nothing written since


def test_capacity_must_be_positive(handles: FileHandles) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FileHandles({}, capacity=0)
