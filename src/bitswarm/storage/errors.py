"""The exception storage raises for a file or folder it cannot use, naming it."""

from __future__ import annotations

import os
from pathlib import Path


class StorageError(Exception):
    """A file or folder that cannot be walked, read or hashed: ``path`` and ``reason``."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = Path(path)
        self.reason = reason

    @classmethod
    def unreadable(cls, path: str | os.PathLike[str], error: OSError) -> StorageError:
        """``path`` could not be opened or read: the system's reason."""
        return cls(path, f"cannot read: {error.strerror}")

    @classmethod
    def shrank(cls, path: str | os.PathLike[str]) -> StorageError:
        """``path`` ended before the bytes it was known to hold, while they were read."""
        return cls(path, "file shrank while it was being read")
