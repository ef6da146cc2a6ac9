"""Hashing from guarded file maps: the bytes a read gives, and an error, not SIGBUS, on a shrink."""

from __future__ import annotations

import hashlib
import mmap
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bitswarm.core.metainfo import FileEntry
from bitswarm.storage import hashing, mapped
from bitswarm.storage.errors import StorageError
from bitswarm.storage.hashing import Source, hash_pieces
from bitswarm.storage.mapped import mapped_bytes
from bitswarm_testing import missing


@pytest.fixture
def helper() -> None:
    """The C guard is built (a missing one fails under BITSWARM_REQUIRE_TOOLS)."""
    if mapped.GUARD is None:
        missing(
            "the C helper bitswarm.storage._shrink_guard is not built",
            "python setup.py build_ext --inplace",
        )


def _run_on_file(tmp_path: Path, size: int, script: str) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter (a SIGBUS ends it, not the test run), with ``path``
    naming a file of ``size`` bytes."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    prelude = f"from pathlib import Path\npath = Path({str(path)!r})\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.usefixtures("helper")
def test_view_holds_the_file_bytes_at_any_offset(tmp_path: Path) -> None:
    data = os.urandom(3 * 65536 + 123)
    path = tmp_path / "f"
    path.write_bytes(data)
    for offset, length in [(0, len(data)), (1, 5000), (65537, 70000), (len(data) - 1, 1)]:
        with mapped_bytes(path, offset, length) as view:
            assert view is not None
            assert bytes(view) == data[offset : offset + length]


@pytest.mark.usefixtures("helper")
def test_a_file_shorter_than_asked_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000)
    with pytest.raises(StorageError, match="shrank"), mapped_bytes(path, 500, 501):
        pass


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot read"), mapped_bytes(tmp_path / "no", 0, 1):
        pass


@pytest.mark.usefixtures("helper")
def test_a_file_truncated_while_mapped_is_an_error_not_a_crash(tmp_path: Path) -> None:
    script = """
        import os, hashlib
        from bitswarm.storage.errors import StorageError
        from bitswarm.storage.mapped import mapped_bytes
        try:
            with mapped_bytes(path, 0, 1 << 20) as view:
                os.truncate(path, 10000)
                hashlib.sha1(view).digest()  # touches every page past the new end
                tail = bytes(view[10000:10010])
        except StorageError as exc:
            print("error:", exc, tail)
        """
    done = _run_on_file(tmp_path, 1 << 20, script)
    assert done.returncode == 0, done.stderr
    assert "shrank while it was being read" in done.stdout
    assert "b'\\x00\\x00" in done.stdout  # the vanished pages read as zeros meanwhile


@pytest.mark.usefixtures("helper")
def test_a_fault_outside_any_guard_still_ends_the_process(tmp_path: Path) -> None:
    script = """
        import mmap, os
        from bitswarm.storage.mapped import mapped_bytes
        with mapped_bytes(path, 0, 4096):  # the handler is now installed
            pass
        with open(path, "rb") as handle:
            bare = mmap.mmap(handle.fileno(), 1 << 16, prot=mmap.PROT_READ)
        os.truncate(path, 4096)
        print(bare[40000])
        """
    done = _run_on_file(tmp_path, 1 << 16, script)
    assert done.returncode == -signal.SIGBUS


@pytest.mark.usefixtures("helper")
def test_every_guard_slot_taken_falls_back_to_reading(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"y" * 8192)
    with path.open("rb") as handle:
        maps = [mmap.mmap(handle.fileno(), 8192, prot=mmap.PROT_READ) for _ in range(64)]
    assert mapped.GUARD is not None
    guards = [mapped.GUARD(m) for m in maps]  # the C helper's 64 slots, all taken
    try:
        with mapped_bytes(path, 0, 8192) as view:
            assert view is None
    finally:
        for guard in guards:
            guard.release()
        for m in maps:
            m.close()
    with mapped_bytes(path, 0, 8192) as view:  # a slot is free again
        assert view is not None and bytes(view) == b"y" * 8192


@pytest.mark.parametrize("mapping", [True, False], ids=["mapped", "read"])
def test_hashes_are_the_same_mapped_or_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mapping: bool
) -> None:
    if not mapping:
        monkeypatch.setattr(mapped, "GUARD", None)
    data = os.urandom(hashing.RUN_BYTES * 2 + 70000)
    (tmp_path / "a").write_bytes(data[:100000])
    (tmp_path / "b").write_bytes(data[100000:])
    files = [FileEntry(("a",), 100000, 0), FileEntry(("b",), len(data) - 100000, 100000)]
    sources = [Source(tmp_path / "a", 100000), Source(tmp_path / "b", len(data) - 100000)]
    piece = 65536
    got = [h for run in hash_pieces(files, piece, sources, v1=True, v2=False) for h in run.v1]
    assert got == [hashlib.sha1(data[i : i + piece]).digest() for i in range(0, len(data), piece)]
