"""What a torrent has and wants, in payload bytes: for the tracker, the progress bars, the session.

A download may skip files (:mod:`bitswarm.core.selection`), so two questions
have two answers. The tracker's ``left`` is the whole torrent's: BEP 3's
"bytes this peer still has to download" of the torrent it announces, and a
peer that skipped files is still a leecher there (it says ``completed`` only
once it has every piece). A progress bar and its time left count the pieces
the download *wants* (priority above 0), as libtorrent's ``total_wanted``: a
piece shared with a skipped file counts whole, since all of it is fetched.

:class:`WantedPieces` keeps the wanted pieces beside the picker's priorities
and sums piece sets in bytes from their counts (every piece but the last has
the same size), so a status taken several times a second costs no walk over
the pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.picker import PiecePicker
from bitswarm.core.swarm.pieces import PieceGeometry


@dataclass(frozen=True, slots=True)
class TransferTotals:
    """Payload bytes for the tracker (``uploaded``, ``downloaded``, ``left``) and the session."""

    downloaded: int
    uploaded: int
    wasted: int
    left: int
    """Bytes of the torrent's pieces not verified yet (the tracker's ``left``)."""
    wanted: int
    """Bytes of the pieces the download wants, verified or not (the whole torrent by default)."""
    wanted_left: int
    """Bytes of the wanted pieces not verified yet."""


class WantedPieces:
    """The pieces of priority above 0, set through the picker, and byte sums of piece sets."""

    def __init__(self, geometry: PieceGeometry, picker: PiecePicker) -> None:
        self.geometry = geometry
        self._picker = picker
        self.pieces = Bitfield.full(geometry.piece_count)

    def set(self, priorities: Sequence[int]) -> None:
        """Give the picker these piece priorities (0 skips a piece)."""

        self._picker.set_priorities(list(priorities))
        wanted = (piece for piece, priority in enumerate(priorities) if priority > 0)
        self.pieces = Bitfield.from_indices(self.geometry.piece_count, wanted)

    def bytes_of(self, pieces: Bitfield) -> int:
        geometry = self.geometry
        count = pieces.count()
        if not count:
            return 0
        last = geometry.piece_count - 1
        short = geometry.piece_length - geometry.piece_size(last) if pieces[last] else 0
        return count * geometry.piece_length - short

    def totals(self, have: Bitfield, downloaded: int, uploaded: int, wasted: int) -> TransferTotals:
        wanted = self.bytes_of(self.pieces)
        left = self.geometry.total_length - self.bytes_of(have)
        wanted_left = wanted - self.bytes_of(self.pieces & have)
        return TransferTotals(downloaded, uploaded, wasted, left, wanted, wanted_left)
