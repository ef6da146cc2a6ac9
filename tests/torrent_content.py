"""Files to make torrents of in tests: sizes that exercise every layout case, and damage.

Shared by the storage tests and the interop tests (pytest puts ``tests/`` on the
import path through its ``conftest.py``).
"""

from __future__ import annotations

import random
from pathlib import Path

KIB = 1024
PIECE = 32 * KIB
"""The piece length the folder below is laid out for."""

FOLDER = {
    "a.bin": 3 * PIECE + 123,
    "b/empty": 0,
    "b/small": 100,
    "b/zz": PIECE,
    "c": 5000,
    "d/long": 9 * PIECE + 7,
    "e": 0,
}
"""Relative path to size: v1 pieces span files, some files are smaller than a
piece, one is exactly a piece, two are empty."""


def make_files(root: Path, files: dict[str, int], seed: int | str = 7) -> Path:
    """Write ``files`` (relative path to size) of random bytes under ``root``; returns it."""
    rng = random.Random(seed)
    for name, size in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    return root


def flip_byte(path: Path, offset: int) -> None:
    """Invert the bits of the byte at ``offset`` of ``path``."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)[0]
        handle.seek(offset)
        handle.write(bytes([byte ^ 0xFF]))
