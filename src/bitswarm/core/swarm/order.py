"""The order in which the piece picker considers pieces (BEP 3 "rarest first").

Pieces are sorted by a key, ``(-priority, availability)``, and within a key by
a rank: a random permutation drawn once (ties broken at random, differently
for every downloader, so a swarm does not crowd the same piece), or the piece
index itself in sequential mode. :class:`PieceOrder` keeps one sorted list of
ranks a key, so a ``have`` that changes one piece's availability moves it in
O(log n) and walking the order stops as soon as the picker has enough.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

Key = tuple[int, int]
"""(-priority, availability); availability is 0 while it is being ignored."""


class PieceOrder:
    """Pieces bucketed by :data:`Key` and ranked within a bucket."""

    __slots__ = ("_buckets", "_keys", "_piece_at", "_rank")

    def __init__(self, piece_at: list[int]) -> None:
        """``piece_at[rank]`` is the piece of each rank: a permutation of the pieces."""

        self._piece_at = piece_at
        self._rank = [0] * len(piece_at)
        for rank, piece in enumerate(piece_at):
            self._rank[piece] = rank
        self._buckets: dict[Key, list[int]] = {}
        self._keys: list[Key] = []
        """The keys of the buckets, sorted."""

    def rank(self, piece: int) -> int:
        return self._rank[piece]

    def add(self, piece: int, key: Key) -> None:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = []
            insort(self._keys, key)
        insort(bucket, self._rank[piece])

    def remove(self, piece: int, key: Key) -> None:
        bucket = self._buckets[key]
        del bucket[bisect_left(bucket, self._rank[piece])]
        if not bucket:
            del self._buckets[key]
            del self._keys[bisect_left(self._keys, key)]

    def __iter__(self) -> Iterator[tuple[Key, int, int]]:
        """``(key, rank, piece)`` in pick order."""

        for key in self._keys:
            for rank in self._buckets[key]:
                yield key, rank, self._piece_at[rank]
