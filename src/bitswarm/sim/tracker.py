"""The virtual tracker: every peer announces and learns a random subset of the others (BEP 3).

Like a real tracker answering ``numwant``, :meth:`VirtualTracker.announce`
returns up to ``numwant`` peers drawn uniformly at random, with the
simulation's generator, from those currently in the swarm (the caller
excluded), and registers the caller; :meth:`VirtualTracker.leave` is the
``stopped`` event.
"""

from __future__ import annotations

import random

DEFAULT_NUMWANT = 50
"""What most clients ask for, and what trackers hand out by default."""


class VirtualTracker:
    __slots__ = ("_index", "_members", "_rng", "numwant")

    def __init__(self, rng: random.Random, numwant: int = DEFAULT_NUMWANT) -> None:
        if numwant < 1:
            raise ValueError(f"numwant must be at least 1, got {numwant}")
        self._rng = rng
        self.numwant = numwant
        self._members: list[int] = []
        self._index: dict[int, int] = {}
        """peer -> its position in ``_members`` (for O(1) removal)."""

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, peer: object) -> bool:
        return peer in self._index

    def announce(self, peer: int) -> list[int]:
        """Register ``peer`` and return up to ``numwant`` other members, at random."""

        members = self._members
        others = len(members) - (peer in self._index)
        if others <= self.numwant:
            chosen = [member for member in members if member != peer]
        else:
            chosen = []
            for index in self._rng.sample(range(len(members)), min(len(members), self.numwant + 1)):
                if members[index] != peer and len(chosen) < self.numwant:
                    chosen.append(members[index])
        if peer not in self._index:
            self._index[peer] = len(members)
            members.append(peer)
        return chosen

    def leave(self, peer: int) -> None:
        """``peer`` stopped: forget it (swap-remove keeps the list dense)."""

        index = self._index.pop(peer, None)
        if index is None:
            return
        last = self._members.pop()
        if index < len(self._members):
            self._members[index] = last
            self._index[last] = index
