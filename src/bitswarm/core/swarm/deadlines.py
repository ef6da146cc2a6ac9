"""The earliest of many peers' deadlines, without looking at every peer (BEP 3 keep-alives).

A torrent keeps timers a peer: the keep-alive it owes (BEP 3: one every two
minutes of silence), the idle time-out it grants, and its oldest request's
time-out. The driver asks for the earliest after every event; with a thousand
connections, reading them all each time is what the whole swarm spends its
time on. :class:`PeerDeadlines` keeps a heap of lower bounds instead:

* a peer whose deadline may have moved *earlier* (a request sent into an
  empty pipeline, a faster round trip, a reject's back-off) must be
  :meth:`~PeerDeadlines.touch` ed; the torrent touches a peer that connects,
  that sends a block or a reject, and that it sends a request to, which
  covers all of them (any other message, heard or sent, moves only the idle
  time-out or the keep-alive, and later);
* a deadline that moved *later* (a keep-alive sent, a message heard, a
  request answered) needs nothing: its stale entry is found when it reaches
  the top, recomputed and pushed down (lazy deletion).

So every entry is at most its peer's true deadline, and the validated top is
the exact minimum.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from bitswarm.core.swarm.pieces import PeerKey

_SLACK = 64
"""Stale entries tolerated beyond four a peer before the heap is rebuilt."""


class PeerDeadlines:
    """The earliest deadline among peers; ``due(key)`` is a peer's, ``None`` once it left."""

    __slots__ = ("_due", "_heap", "_latest", "_order", "_touched")

    def __init__(self, due: Callable[[PeerKey], float | None]) -> None:
        self._due = due
        self._heap: list[tuple[float, int, PeerKey]] = []
        """(lower bound, tie-breaker, peer): peers need not be comparable."""
        self._latest: dict[PeerKey, float] = {}
        """The newest bound pushed for each peer; older entries of it are stale."""
        self._touched: set[PeerKey] = set()
        self._order = 0

    def touch(self, key: PeerKey) -> None:
        """``key``'s deadline may have moved earlier (or it is new): read it again."""

        self._touched.add(key)

    def earliest(self) -> float | None:
        """The earliest deadline of the peers ``due`` still knows."""

        for key in self._touched:
            self._push(key, self._due(key))
        self._touched.clear()
        heap = self._heap
        if len(heap) > 4 * len(self._latest) + _SLACK:
            self._compact()
        while heap:
            bound, _, key = heap[0]
            if self._latest.get(key) != bound:
                heapq.heappop(heap)  # superseded by a newer entry
                continue
            due = self._due(key)
            if due == bound:
                return bound
            heapq.heappop(heap)
            self._push(key, due)
        return None

    def _push(self, key: PeerKey, due: float | None) -> None:
        if due is None:
            self._latest.pop(key, None)
            return
        self._latest[key] = due
        self._order += 1
        heapq.heappush(self._heap, (due, self._order, key))

    def _compact(self) -> None:
        latest = self._latest
        self._heap = [entry for entry in self._heap if latest.get(entry[2]) == entry[0]]
        heapq.heapify(self._heap)
