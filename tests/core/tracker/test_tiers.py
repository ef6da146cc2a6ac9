"""BEP 12 tier order: shuffle within tiers, promote the tracker that answers."""

from __future__ import annotations

import random

import pytest

from bitswarm.core.tracker.tiers import TrackerTiers

A, B, C, D, E = (f"http://127.0.0.1:{port}/announce" for port in range(7001, 7006))


def test_tiers_keep_their_order_and_shuffle_within() -> None:
    seen_first = set()
    for seed in range(40):
        tiers = TrackerTiers([[A, B, C], [D], [E]], random.Random(seed))
        order = list(tiers)
        assert set(order[:3]) == {A, B, C} and order[3:] == [D, E]
        seen_first.add(order[0])
    assert seen_first == {A, B, C}  # every tracker of the first tier gets asked first sometimes


def test_shuffle_follows_the_seed() -> None:
    first = TrackerTiers([[A, B, C, D, E]], random.Random(7)).tiers
    assert TrackerTiers([[A, B, C, D, E]], random.Random(7)).tiers == first


def test_promote_moves_to_front_of_its_own_tier_only() -> None:
    tiers = TrackerTiers([[A, B, C], [D, E]], random.Random(1))
    first, second = tiers.tiers
    tiers.promote(second[-1])
    assert tiers.tiers == (first, (second[-1], *second[:-1]))
    tiers.promote(first[2])
    assert tiers.tiers[0] == (first[2], first[0], first[1])
    assert list(tiers)[:3] == [first[2], first[0], first[1]]


def test_iteration_is_a_snapshot() -> None:
    tiers = TrackerTiers([[A, B]], random.Random(3))
    order = []
    for url in tiers:
        order.append(url)
        tiers.promote(url)
    assert sorted(order) == [A, B]


def test_duplicates_and_empty_tiers_are_dropped() -> None:
    tiers = TrackerTiers([[A, A], [], [A, B]], random.Random(0))
    assert tiers.tiers == ((A,), (B,))
    assert len(tiers) == 2


def test_promoting_a_stranger_is_an_error() -> None:
    with pytest.raises(KeyError, match="not one of this torrent's trackers"):
        TrackerTiers([[A]], random.Random(0)).promote(B)
