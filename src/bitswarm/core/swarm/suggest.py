"""A seed's suggestions (BEP 6 ``suggest piece``): first copies, each to one peer at a time.

Theory of operation
-------------------
The origin of a new torrent is the one place many pieces exist, and its
upload is the swarm's bottleneck until every piece has a copy elsewhere: a
byte it sends of a piece some downloader has already is a byte of a missing
piece it did not send. Each downloader it unchokes asks for the rarest
pieces it can see, but it cannot see what the others asked the origin for,
so in a flash crowd several of them fetch the same piece from it.

:class:`FirstCopies` lets the seed coordinate them. It suggests to every
peer it unchokes (with the fast extension) pieces that none of the seed's
peers has and that are not suggested to another peer, ``ahead`` of what it
has been sent: when the seed sends the last block of a suggested piece, the
next piece is suggested. With two ahead, a peer whose requests run up to a
piece past the one it is being sent always has a suggested piece to ask for,
and never falls back on its own choice, which would be blind to the others'.
A suggestion stays open until the peer announces the piece (it is not
offered to anyone else meanwhile), the seed chokes the peer, or the peer
leaves. A downloader that honours suggestions (bitswarm's picker takes them
first; libtorrent's too) then spends the origin's upload on distinct first
copies. Pieces the swarm has already are never suggested, so once every
piece has a copy the seed falls silent and downloaders pick as usual.

The seed's view is its own peers': a piece one of its peers has counts as
present even if that peer is about to leave, and a piece held only outside
its view counts as missing, so a suggestion is a strong hint, not a promise.
Once a pass over the pieces finds each at some peer, no pass is made again
until a peer leaves (a seed serves long after that, and unchokes often).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from bitswarm.core.swarm.pieces import PeerKey

MAX_OPEN = 8
"""Suggestions open with one peer at most, however many it was sent and has not announced."""


class FirstCopies:
    """Which piece a seed suggests to which peer; see the module docstring."""

    __slots__ = (
        "_ahead",
        "_all_present",
        "_availability",
        "_cursor",
        "_holder",
        "_open",
        "_order",
        "_unsent",
    )

    def __init__(
        self, piece_count: int, availability: Callable[[int], int], rng: random.Random, ahead: int
    ) -> None:
        """``availability(piece)`` counts the seed's peers that have the piece."""

        self._ahead = ahead
        self._availability = availability
        self._order = list(range(piece_count))
        rng.shuffle(self._order)
        """Pieces in the order they are suggested: random, so two seeds differ."""
        self._cursor = 0
        self._open: dict[PeerKey, list[int]] = {}
        """The open suggestions of each peer, oldest first."""
        self._unsent: dict[PeerKey, list[int]] = {}
        """Those of them whose last block we have not sent the peer yet."""
        self._all_present = False
        """A full pass found every piece at some peer: no pass until a peer leaves."""
        self._holder: dict[int, PeerKey] = {}
        """The peer each suggested piece is open with."""

    def unchoked(self, peer: PeerKey) -> list[int]:
        """The pieces to suggest to ``peer``, which we now upload to."""

        self._open.setdefault(peer, [])
        self._unsent.setdefault(peer, [])
        return self._top_up(peer)

    def sent_last_block(self, peer: PeerKey, piece: int) -> list[int]:
        """We sent ``peer`` the last block of ``piece``; the pieces to suggest to it next."""

        unsent = self._unsent.get(peer)
        if unsent is None or piece not in unsent:
            return []
        unsent.remove(piece)
        return self._top_up(peer)

    def announced(self, peer: PeerKey, piece: int) -> list[int]:
        """``peer`` has ``piece`` now; the pieces to suggest to it next (if it is unchoked)."""

        suggested = self._open.get(peer)
        if suggested is None or piece not in suggested:
            return []
        suggested.remove(piece)
        if piece in self._unsent[peer]:
            self._unsent[peer].remove(piece)
        del self._holder[piece]
        return self._top_up(peer)

    def closed(self, peer: PeerKey) -> None:
        """``peer`` was choked or left: its suggestions are free for other peers."""

        self._all_present = False  # it may have held the only copy of some
        self._unsent.pop(peer, None)
        for piece in self._open.pop(peer, ()):
            del self._holder[piece]

    def open_with(self, peer: PeerKey) -> list[int]:
        """The pieces suggested to ``peer`` and not yet announced by it, oldest first."""

        return list(self._open.get(peer, ()))

    def _top_up(self, peer: PeerKey) -> list[int]:
        suggested, unsent = self._open[peer], self._unsent[peer]
        made: list[int] = []
        if self._all_present:
            return made
        count = len(self._order)
        missing = False
        for _ in range(count):
            if len(unsent) >= self._ahead or len(suggested) >= MAX_OPEN:
                return made
            piece = self._order[self._cursor]
            self._cursor = (self._cursor + 1) % count
            if self._availability(piece) == 0:
                missing = True
                if piece not in self._holder:
                    self._holder[piece] = peer
                    suggested.append(piece)
                    unsent.append(piece)
                    made.append(piece)
        self._all_present = not missing
        return made
