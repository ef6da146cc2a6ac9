"""Per-address token buckets, to stop one address flooding the tracker with connects.

A UDP connect is the one request a tracker must answer without knowing the
sender is genuine, so it is the lever for floods and reflection. Each source
address gets a bucket of ``burst`` tokens refilled at ``rate`` per second; a
connect that finds the bucket empty is dropped in silence.

Memory is bounded: at most ``max_tracked`` addresses are remembered. When the
table is full, addresses whose bucket has refilled (so forgetting them changes
nothing) are dropped first, then the least recently seen, down to nine tenths
of the limit, so that a flood of spoofed sources costs one sweep per many
packets rather than one per packet.
"""

from __future__ import annotations


class RateLimiter:
    """Token buckets keyed by bytes (typically a packed IP address)."""

    def __init__(self, rate: float, burst: float, max_tracked: int = 100_000) -> None:
        if rate <= 0 or burst < 1 or max_tracked < 1:
            raise ValueError("rate must be positive, burst at least 1, max_tracked at least 1")
        self.rate = rate
        self.burst = burst
        self.max_tracked = max_tracked
        self._buckets: dict[bytes, tuple[float, float]] = {}  # key -> (tokens, at)

    def allow(self, key: bytes, now: float) -> bool:
        """Take one token for ``key``; whether there was one."""
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        if len(self._buckets) >= self.max_tracked:
            self._make_room(now)
        self._buckets[key] = (tokens, now)  # re-inserted last: the dict stays in recency order
        return allowed

    def __len__(self) -> int:
        return len(self._buckets)

    def _make_room(self, now: float) -> None:
        refill = self.burst / self.rate
        for key in [k for k, (_, at) in self._buckets.items() if now - at >= refill]:
            del self._buckets[key]
        keep = self.max_tracked * 9 // 10
        while len(self._buckets) > keep:
            del self._buckets[next(iter(self._buckets))]
