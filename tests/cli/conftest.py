"""Fixtures for the command-line tests: sample content and a click runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.helpers import ALBUM, Run, bitswarm, random_bytes


@pytest.fixture
def album(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path/album`` with the files of ``ALBUM``; the working folder is ``tmp_path``."""
    for seed, (name, size) in enumerate(ALBUM.items()):
        path = tmp_path / "album" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(random_bytes(size, seed))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "album"


@pytest.fixture
def run() -> Run:
    """The ``bitswarm`` command through click's runner, stderr kept apart."""
    return bitswarm
