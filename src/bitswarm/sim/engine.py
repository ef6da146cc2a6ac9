"""The discrete-event loop: a heap of ``(time, seq, callback, argument)`` and a virtual clock.

Events run in time order; events due at the same instant run in the order
they were scheduled (``seq``), so a run is a pure function of its inputs and
its seed. Callbacks take one argument so the hot path schedules a bound
method and a value instead of building a closure per event.
"""

from __future__ import annotations

import gc
import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

COLLECT_EVERY = 100_000
"""Container allocations between two young-generation collections while events run.

A large run keeps millions of objects alive (cores, connections, messages in
flight) and makes new ones at every event. At CPython's default of 700 the
collector runs tens of thousands of times, and a full collection of every
object each time their number grows by a quarter: a sixth of a 10,000-peer
run. Cycles are still collected, a little later."""


@contextmanager
def _fewer_collections() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], COLLECT_EVERY), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


class EventLoop:
    """Virtual time; :meth:`at` schedules, :meth:`run` executes until a condition or a limit."""

    __slots__ = ("_heap", "_seq", "events", "now")

    def __init__(self) -> None:
        self.now = 0.0
        self.events = 0
        """Events executed so far."""
        self._heap: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self._seq = itertools.count()

    def at(self, when: float, callback: Callable[[Any], None], argument: Any = None) -> None:
        """Run ``callback(argument)`` at virtual time ``when`` (never earlier than now)."""

        if when < self.now:
            when = self.now
        heapq.heappush(self._heap, (when, next(self._seq), callback, argument))

    def run(self, done: Callable[[], bool], *, until: float) -> bool:
        """Run events until ``done()`` holds (True) or the clock would pass ``until`` (False).

        ``done`` is checked only when the clock moves, which is cheap and
        enough: all events of one instant run before the swarm is judged.
        """

        with _fewer_collections():
            return self._run(done, until)

    def _run(self, done: Callable[[], bool], until: float) -> bool:
        heap, pop = self._heap, heapq.heappop
        checked_at = -1.0
        while heap:
            when = heap[0][0]
            if when != checked_at:
                if done():
                    return True
                checked_at = when
            if when > until:
                self.now = until
                return False
            _, _, callback, argument = pop(heap)
            self.now = when
            self.events += 1
            callback(argument)
        return done()
