"""Token buckets that cap the peer traffic of a session and of each torrent.

Every peer connection asks its limiter before it writes a frame or after it
reads bytes; a limiter is a chain of buckets (the torrent's, then the
session's), one chain for uploads and one for downloads. A rate of 0 means
unlimited.

The buckets work by reservation: :meth:`TokenBucket.reserve` takes the
bytes at once, letting the balance go into debt, and answers how long the
caller must wait before the bytes may move. Because each connection reserves
one frame (a 16 KiB block at most) and then waits its turn before reserving
the next, connections that share a bucket are served in the order they
asked, which shares the rate fairly between them without a scheduler. Over
any interval of ``t`` seconds a bucket lets through at most
``rate * t + burst`` bytes plus the one reservation in flight.

The buckets take ``now`` from their caller, so tests drive them with a fake
clock; the connections pass the event loop's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_BURST_SECONDS = 0.1
"""A full bucket holds this many seconds' worth of traffic."""

MIN_BURST = 16 * 1024 + 13
"""At least one block message (16 KiB plus its 13-byte header) goes out without waiting."""


class TokenBucket:
    """One rate cap in bytes per second; ``rate == 0`` lets everything through."""

    def __init__(self, rate: float = 0, burst: float | None = None) -> None:
        self._rate = 0.0
        self._burst = 0.0
        self._explicit_burst = burst
        self._tokens = 0.0
        self._stamp: float | None = None
        self.set_rate(rate)

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> float:
        return self._burst

    def set_rate(self, rate: float) -> None:
        """Change the cap; the current balance is kept within the new burst."""

        if rate < 0:
            raise ValueError(f"a rate cannot be negative, got {rate}")
        self._rate = float(rate)
        explicit = self._explicit_burst
        self._burst = (
            float(explicit)
            if explicit is not None
            else max(MIN_BURST, self._rate * DEFAULT_BURST_SECONDS)
        )
        self._tokens = min(self._tokens, self._burst)

    def _refill(self, now: float) -> None:
        if self._stamp is None:
            self._tokens = self._burst
        elif now > self._stamp:
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = max(now, self._stamp or now)

    def reserve(self, amount: int, now: float) -> float:
        """Take ``amount`` bytes; the answer is the wait in seconds before they may move."""

        if amount < 0:
            raise ValueError(f"cannot reserve a negative amount, got {amount}")
        if not self._rate:
            return 0.0
        self._refill(now)
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


@dataclass(frozen=True, slots=True)
class Limiter:
    """A chain of buckets that all must allow a transfer (e.g. torrent, then session)."""

    buckets: Sequence[TokenBucket] = ()

    @property
    def unlimited(self) -> bool:
        """Whether no bucket caps anything now (each rate 0)."""

        return not any(bucket.rate for bucket in self.buckets)

    def reserve(self, amount: int, now: float) -> float:
        """Reserve ``amount`` in every bucket; the wait is the longest one."""

        return max((bucket.reserve(amount, now) for bucket in self.buckets), default=0.0)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The up and down buckets of one scope: a session or a torrent."""

    up: TokenBucket
    down: TokenBucket

    @classmethod
    def of(cls, up: float = 0, down: float = 0) -> RateLimits:
        return cls(TokenBucket(up), TokenBucket(down))


@dataclass(frozen=True, slots=True)
class Limiters:
    """What one connection consults: its upload chain and its download chain."""

    up: Limiter
    down: Limiter

    @classmethod
    def chain(cls, *scopes: RateLimits) -> Limiters:
        """Innermost scope first: ``Limiters.chain(torrent_limits, session_limits)``."""

        return cls(Limiter(tuple(s.up for s in scopes)), Limiter(tuple(s.down for s in scopes)))
