"""Transfer rates over a sliding window (bytes per second), for the choker and the pipeline.

BEP 3's tit-for-tat ranks peers by how fast they send to us "over a rolling
20-second average" in the original client; current clients use a few seconds
so that the ranking follows changes within one 10 s choke round. The
request pipeline sizes its queue from the same figure, so both must read one
meter: :class:`RateMeter`.

Theory of operation: bytes are added into buckets of ``resolution`` seconds
stamped by the caller's ``now`` (no clock here); the rate is the sum of the
buckets inside the last ``window`` seconds over the time covered. Until a
meter has lived a full window it divides by its age (at least one bucket),
so a fresh fast peer shows a fast rate at once instead of a fifth of it.
Memory is bounded by ``window / resolution`` buckets.
"""

from __future__ import annotations

from collections import deque

DEFAULT_WINDOW = 5.0
DEFAULT_RESOLUTION = 0.5


class RateMeter:
    """Bytes moved, and bytes per second over the last ``window`` seconds."""

    __slots__ = ("_buckets", "_resolution", "_started", "_window", "total")

    def __init__(
        self,
        now: float,
        window: float = DEFAULT_WINDOW,
        resolution: float = DEFAULT_RESOLUTION,
    ) -> None:
        if not 0 < resolution <= window:
            raise ValueError(
                f"rate resolution {resolution} s must be positive and within the window {window} s"
            )
        self._window = window
        self._resolution = resolution
        self._started = now
        self._buckets: deque[list[float]] = deque()
        """``[bucket start, bytes]``, oldest first."""
        self.total = 0
        """Every byte ever added."""

    def add(self, size: int, now: float) -> None:
        if size < 0:
            raise ValueError(f"cannot add a negative byte count ({size})")
        self.total += size
        start = now - (now - self._started) % self._resolution
        if self._buckets and self._buckets[-1][0] >= start:
            self._buckets[-1][1] += size
        else:
            self._buckets.append([start, float(size)])
        self._expire(now)

    def _expire(self, now: float) -> None:
        horizon = now - self._window
        while self._buckets and self._buckets[0][0] + self._resolution <= horizon:
            self._buckets.popleft()

    def rate(self, now: float) -> float:
        """Bytes per second over the window ending at ``now``."""

        self._expire(now)
        if not self._buckets:
            return 0.0
        covered = min(self._window, max(now - self._started, self._resolution))
        return sum(size for _, size in self._buckets) / covered
