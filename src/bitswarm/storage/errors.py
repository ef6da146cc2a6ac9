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
