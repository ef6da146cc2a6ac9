"""Walking content for a new torrent: order, what is skipped and said, what is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bitswarm.storage.errors import StorageError
from bitswarm.storage.walk import walk


def write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def test_single_file(tmp_path: Path) -> None:
    write(tmp_path / "movie.mkv", 10)
    content = walk(tmp_path / "movie.mkv")
    assert content.name == "movie.mkv"
    assert not content.is_folder
    assert [(f.path, f.length) for f in content.files] == [(("movie.mkv",), 10)]


def test_folder_in_canonical_order_with_hidden_and_empty_files(tmp_path: Path) -> None:
    top = tmp_path / "top"
    for name, size in [("b", 1), ("a/z", 2), ("a-c", 3), (".hidden", 4), ("e", 0)]:
        write(top / name, size)
    content = walk(top)
    assert content.is_folder and content.name == "top"
    assert [f.path for f in content.files] == [
        ("top", ".hidden"),
        ("top", "a-c"),
        ("top", "a", "z"),
        ("top", "b"),
        ("top", "e"),
    ]
    assert content.total_size == 10
    assert content.files[2].disk_path == top / "a" / "z"


def test_executable_bit_is_seen(tmp_path: Path) -> None:
    script = write(tmp_path / "d" / "run.sh", 5)
    script.chmod(0o755)
    write(tmp_path / "d" / "data", 5)
    executable = {f.path[-1]: f.executable for f in walk(tmp_path / "d").files}
    assert executable == {"run.sh": True, "data": False}


def test_symlinks_and_fifos_are_skipped_and_reported(tmp_path: Path) -> None:
    top = tmp_path / "top"
    target = write(tmp_path / "outside", 7)
    write(top / "real", 1)
    (top / "link").symlink_to(target)
    (top / "dirlink").symlink_to(tmp_path)
    os.mkfifo(top / "pipe")
    content = walk(top)
    assert [f.path for f in content.files] == [("top", "real")]
    assert [(s.disk_path.name, s.reason) for s in content.skipped] == [
        ("dirlink", "symbolic link, not followed"),
        ("link", "symbolic link, not followed"),
        ("pipe", "not a regular file or folder"),
    ]


def test_named_symlink_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "d" / "f", 3)
    (tmp_path / "alias").symlink_to(tmp_path / "d")
    content = walk(tmp_path / "alias")
    assert content.name == "alias"
    assert [f.path for f in content.files] == [("alias", "f")]


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot stat") as caught:
        walk(tmp_path / "nope")
    assert caught.value.path == tmp_path / "nope"


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    with pytest.raises(StorageError, match="holds no files"):
        walk(tmp_path / "d")


def test_name_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "d" / "ok", 1)
    bad = os.path.join(os.fsencode(tmp_path / "d"), b"caf\xe9")
    with open(bad, "wb") as handle:
        handle.write(b"1")
    with pytest.raises(StorageError, match="not valid UTF-8"):
        walk(tmp_path / "d")


def test_name_unsafe_elsewhere_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "d" / "a\\b", 1)
    with pytest.raises(StorageError, match="separator") as caught:
        walk(tmp_path / "d")
    assert caught.value.path.name == "a\\b"


def test_special_file_named_directly_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(StorageError, match="neither a regular file nor a folder"):
        walk(tmp_path / "pipe")


def test_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, for whom chmod 000 still reads: ask os.access instead.
    write(tmp_path / "d" / "secret", 3)
    write(tmp_path / "d" / "open", 3)
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path).name != "secret")
    with pytest.raises(StorageError, match="not readable") as caught:
        walk(tmp_path / "d")
    assert caught.value.path == tmp_path / "d" / "secret"


def test_unlistable_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "d" / "locked" / "f", 3)
    real_scandir = os.scandir

    def scandir(path: Path) -> object:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(StorageError, match="cannot list folder: Permission denied") as caught:
        walk(tmp_path / "d")
    assert caught.value.path == tmp_path / "d" / "locked"
