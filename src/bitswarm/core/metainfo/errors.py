"""The one exception a malformed torrent raises (BEP 3, 12, 19, 27, 47, 52).

Every fault names *where* it is, as a key path into the metainfo dictionary
(``info.files[3].path[1]``, ``announce-list[0]``), and *what* is wrong, so that a
user can tell a broken tool from a hostile file without a hex editor.
"""

from __future__ import annotations


class TorrentError(ValueError):
    """A ``.torrent`` file, or an info dictionary, that breaks the specification.

    ``where`` is the key path of the faulty field (empty for the document
    itself) and ``reason`` says what is wrong with it.
    """

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"torrent: {where}: {reason}" if where else f"torrent: {reason}")
        self.where = where
        self.reason = reason
