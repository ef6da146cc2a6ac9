"""Which tracker to ask next: BEP 12's tiers of announce URLs.

A torrent's ``announce-list`` is a list of tiers, each a list of tracker URLs.
BEP 12's procedure:

* Shuffle each tier once, when the torrent is loaded, so that clients spread
  their load over the trackers of a tier.
* Try the trackers of the first tier in order; if none answers, go on to the
  next tier, and so on.
* A tracker that answers moves to the front of its own tier, so it is asked
  first next time. The order of the tiers never changes.

:class:`TrackerTiers` keeps that order and nothing else; the caller performs
the requests, reports each outcome, and stops at the first success. The random
generator is passed in, so a seeded one makes the shuffle reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator


class TrackerTiers:
    """The announce URLs of one torrent in BEP 12 order.

    A URL listed twice is kept only where it first appears; empty tiers are
    dropped.
    """

    __slots__ = ("_tier_of", "_tiers")

    def __init__(self, tiers: Iterable[Iterable[str]], rng: random.Random) -> None:
        self._tiers: list[list[str]] = []
        self._tier_of: dict[str, int] = {}
        for urls in tiers:
            tier = []
            for url in urls:
                if url not in self._tier_of:
                    self._tier_of[url] = len(self._tiers)
                    tier.append(url)
            if tier:
                rng.shuffle(tier)
                self._tiers.append(tier)

    def __iter__(self) -> Iterator[str]:
        """The URLs in the order to try them; a snapshot, safe to iterate while promoting."""
        return iter([url for tier in self._tiers for url in tier])

    def __len__(self) -> int:
        return len(self._tier_of)

    @property
    def tiers(self) -> tuple[tuple[str, ...], ...]:
        """The current order, tier by tier."""
        return tuple(tuple(tier) for tier in self._tiers)

    def promote(self, url: str) -> None:
        """``url`` answered: move it to the front of its tier (BEP 12)."""
        try:
            tier = self._tiers[self._tier_of[url]]
        except KeyError:
            raise KeyError(f"{url} is not one of this torrent's trackers") from None
        tier.remove(url)
        tier.insert(0, url)
