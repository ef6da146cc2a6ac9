"""Transfer rates over a sliding window (bytes per second), for the choker and the pipeline.

BEP 3's tit-for-tat ranks peers by how fast they send to us "over a rolling
20-second average" in the original client; current clients use a few seconds
so that the ranking follows changes within one 10 s choke round. The
request pipeline sizes its queue from the same figure, so both must read one
meter: :class:`RateMeter`.

Theory of operation: bytes are added into buckets of ``resolution`` seconds
stamped by the caller's ``now`` (no clock here); the rate is the sum of the
buckets inside the last ``window`` seconds over the time covered (their sum
is kept as they come and go, so reading a rate costs the same as adding
bytes: the pipeline reads it for every block). Until a
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

    __slots__ = ("_buckets", "_in_window", "_resolution", "_started", "_window", "total")

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
        self._in_window = 0.0
        """The bytes of the buckets held."""
        self.total = 0
        """Every byte ever added."""

    def add(self, size: int, now: float) -> None:
        if size < 0:
            raise ValueError(f"cannot add a negative byte count ({size})")
        self.total += size
        self._in_window += size
        buckets = self._buckets
        start = now - (now - self._started) % self._resolution
        if buckets and buckets[-1][0] >= start:
            buckets[-1][1] += size
        else:
            buckets.append([start, float(size)])
            self._expire(now)

    def _expire(self, now: float) -> None:
        buckets = self._buckets
        horizon = now - self._window - self._resolution
        while buckets and buckets[0][0] <= horizon:
            self._in_window -= buckets.popleft()[1]
        if not buckets:
            self._in_window = 0.0  # no rounding drift survives an idle spell

    def rate(self, now: float) -> float:
        """Bytes per second over the window ending at ``now``."""

        buckets = self._buckets
        if not buckets:
            return 0.0
        if buckets[0][0] <= now - self._window - self._resolution:
            self._expire(now)
            if not buckets:
                return 0.0
        covered = min(self._window, max(now - self._started, self._resolution))
        return self._in_window / covered
