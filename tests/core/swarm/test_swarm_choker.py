"""The choker alone: tit-for-tat slots, anti-snubbing, optimistic rotation, seed round robin."""

from __future__ import annotations

import random

import pytest

from bitswarm.core.swarm.choker import Choker, ChokerConfig, PeerSnapshot

PIECE = 2**18
QUOTA = ChokerConfig().seeding_quota_pieces * PIECE
"""Bytes a seeding turn lasts for, at the least."""


def peer(
    key: str,
    rate: float = 0.0,
    *,
    interested: bool = True,
    choked: bool = True,
    up: float = 0.0,
    connected_at: float = -1000.0,
    wanted: bool = False,
    last_block_at: float | None = None,
    uploaded: int = 0,
) -> PeerSnapshot:
    return PeerSnapshot(
        key=key,
        interested=interested,
        download_rate=rate,
        upload_rate=up,
        am_choking=choked,
        connected_at=connected_at,
        am_interested=wanted,
        last_block_at=last_block_at,
        uploaded=uploaded,
    )


def test_fastest_three_interested_plus_one_optimistic() -> None:
    peers = [peer(f"p{i}", rate=i) for i in range(1, 7)]
    decision = Choker(random.Random(1)).rechoke(0.0, peers, seeding=False)
    assert {"p6", "p5", "p4"} < decision.unchoked
    assert decision.optimistic in {"p1", "p2", "p3"}
    assert len(decision.unchoked) == 4
    assert set(decision.unchoke) == decision.unchoked and decision.choke == ()


def test_faster_uninterested_peers_are_unchoked_too() -> None:
    peers = [peer("idle", 10, interested=False), peer("zero", 0, interested=False)]
    peers += [peer(f"p{i}", rate=i) for i in range(1, 5)]
    decision = Choker(random.Random(1)).rechoke(0.0, peers, seeding=False)
    assert {"idle", "p4", "p3", "p2"} <= decision.unchoked
    assert "zero" not in decision.unchoked  # not faster than anyone: nothing to reward
    assert decision.optimistic == "p1"


def test_decision_lists_changes_against_the_snapshot() -> None:
    peers = [peer("a", 5, choked=False), peer("b", 1, choked=False), peer("c", 9), peer("d", 8)]
    peers.append(peer("e", 7))
    choker = Choker(random.Random(0), ChokerConfig(upload_slots=3))
    decision = choker.rechoke(0.0, peers, seeding=False)
    assert {"c", "d"} < decision.unchoked
    assert set(decision.unchoke) == decision.unchoked - {"a", "b"}
    assert set(decision.choke) == {"a", "b"} - decision.unchoked


def test_snubbing_peer_loses_its_regular_slot() -> None:
    peers = [peer("snub", 100, wanted=True, last_block_at=0.0)]
    peers += [peer(f"p{i}", rate=i, wanted=True, last_block_at=65.0) for i in range(1, 5)]
    choker = Choker(random.Random(3))
    assert "snub" in choker.rechoke(59.0, peers, seeding=False).unchoked
    decision = Choker(random.Random(3)).rechoke(70.0, peers, seeding=False)
    assert {"p4", "p3", "p2"} < decision.unchoked
    assert choker.is_snubbing(70.0, peers[0]) and not choker.is_snubbing(70.0, peers[1])


def test_optimistic_moves_only_every_30_seconds() -> None:
    peers = [peer(f"p{i}", rate=100 + i) for i in range(3)] + [peer(f"o{i}") for i in range(6)]
    choker = Choker(random.Random(7))
    chosen = []
    for now in range(0, 300, 10):
        decision = choker.rechoke(float(now), peers, seeding=False)
        assert choker.get_timer() == now + 10
        chosen.append(decision.optimistic)
    assert all(chosen[i] == chosen[i - i % 3] for i in range(len(chosen)))  # fixed within 30 s
    assert len(set(chosen)) > 1


def test_departed_optimistic_is_replaced_at_once() -> None:
    peers = [peer("a", 3), peer("b", 2), peer("c", 1), peer("x"), peer("y")]
    choker = Choker(random.Random(2))
    first = choker.rechoke(0.0, peers, seeding=False).optimistic
    assert first in {"x", "y"}
    remaining = [p for p in peers if p.key != first]
    assert choker.rechoke(10.0, remaining, seeding=False).optimistic == ({"x", "y"} - {first}).pop()


def test_newcomers_are_three_times_as_likely_to_be_optimistic() -> None:
    peers = [peer(f"old{i}") for i in range(9)] + [peer("new", connected_at=-5.0)]
    config = ChokerConfig(upload_slots=1)  # no regular slot: the optimistic is everything
    picks = [
        Choker(random.Random(s), config).rechoke(0.0, peers, seeding=False).optimistic
        for s in range(600)
    ]
    share = picks.count("new") / len(picks)
    assert 0.15 < share < 0.35  # 3/12 = 0.25 expected; 1/10 without the weight


def test_seed_mode_rotates_through_every_interested_peer() -> None:
    peers = [peer(f"p{i}", up=i) for i in range(9)] + [peer("idle", interested=False)]
    choker = Choker(random.Random(5), piece_length=PIECE)
    rounds = []
    for now in (0.0, 70.0, 140.0):  # each turn outlasts the quota's minute
        decision = choker.rechoke(now, peers, seeding=True)
        rounds.append(decision)
        peers = [
            peer(
                p.key,
                up=p.upload_rate,
                interested=p.interested,
                choked=p.key not in decision.unchoked,
                uploaded=p.uploaded + (QUOTA if p.key in decision.unchoked else 0),
            )
            for p in peers
        ]
    first, second, third = (d.unchoked for d in rounds)
    assert first - {rounds[0].optimistic} == {"p8", "p7", "p6"}  # first turn: fastest first
    assert not (second - {rounds[1].optimistic}) & first  # then peers still waiting
    assert first | second | third == {f"p{i}" for i in range(9)}
    assert all(len(unchoked) == 4 for unchoked in (first, second, third))


@pytest.mark.parametrize(("later", "sent"), [(70.0, QUOTA // 2), (30.0, 2 * QUOTA)])
def test_a_seeding_turn_lasts_until_the_quota_of_pieces_and_time(later: float, sent: int) -> None:
    choker = Choker(random.Random(0), ChokerConfig(upload_slots=2), piece_length=PIECE)
    everyone = [peer(k) for k in "abcd"]
    first = choker.rechoke(0.0, everyone, seeding=True)
    (regular,) = first.unchoked - {first.optimistic}
    after = [
        peer(k, choked=k not in first.unchoked, uploaded=sent if k == regular else 0)
        for k in "abcd"
    ]
    assert regular in choker.rechoke(later, after, seeding=True).unchoked  # its turn goes on
    done = [peer(k, choked=k not in first.unchoked, uploaded=QUOTA) for k in "abcd"]
    assert regular not in choker.rechoke(later + 70.0, done, seeding=True).unchoked


def test_a_faster_optimistic_peer_does_not_cut_a_seeding_turn_short() -> None:
    choker = Choker(random.Random(4), ChokerConfig(upload_slots=3), piece_length=PIECE)
    first = choker.rechoke(0.0, [peer(k) for k in "abcdef"], seeding=True)
    regular = first.unchoked - {first.optimistic}
    assert len(regular) == 2
    after = [
        peer(k, choked=k not in first.unchoked, up=9e6 if k == first.optimistic else 1.0)
        for k in "abcdef"
    ]
    second = choker.rechoke(10.0, after, seeding=True)
    assert regular < second.unchoked  # their turns go on
    assert second.optimistic == first.optimistic  # and its term does too


def test_get_timer_and_config() -> None:
    choker = Choker(random.Random(0))
    assert choker.get_timer() is None
    choker.rechoke(5.0, [], seeding=False)
    assert choker.get_timer() == 15.0 and choker.optimistic is None
    with pytest.raises(ValueError, match="upload slots must be at least 1, got 0"):
        Choker(random.Random(0), ChokerConfig(upload_slots=0))


def test_fill_hands_free_slots_to_the_fastest_waiting_peers_and_no_one_else_moves() -> None:
    choker = Choker(random.Random(0), ChokerConfig(upload_slots=3))
    peers = [peer("kept", 1, choked=False), peer("gone", 9, choked=False, interested=False)]
    peers += [peer("slow", 2), peer("fast", 8), peer("mid", 5)]
    decision = choker.fill(5.0, peers, seeding=False)
    assert decision.unchoke == ("fast", "mid")  # two slots were free: "gone" is not interested
    assert decision.choke == ("gone",)  # it gives its slot up to a waiting peer
    assert decision.unchoked == {"kept", "fast", "mid"}
    assert choker.get_timer() == 15.0  # the first fill starts the rounds
    later = choker.fill(7.0, [peer("kept", 1, choked=False), peer("late", 99)], seeding=False)
    assert later.unchoke == ("late",) and later.choke == ()
    assert choker.get_timer() == 15.0  # and later fills leave them be


def test_fill_moves_nothing_without_a_free_slot_or_a_waiting_peer() -> None:
    choker = Choker(random.Random(0), ChokerConfig(upload_slots=2))
    full = [peer("a", choked=False), peer("b", choked=False), peer("c", 50)]
    assert choker.fill(0.0, full, seeding=False).unchoke == ()
    idle = [peer("a", choked=False), peer("b", choked=False, interested=False)]
    decision = choker.fill(0.0, idle, seeding=False)
    assert decision.choke == () and decision.unchoked == {"a", "b"}


def test_seeding_fill_serves_the_peer_unchoked_longest_ago() -> None:
    choker = Choker(random.Random(0), ChokerConfig(upload_slots=2))
    everyone = [peer("a"), peer("b"), peer("c")]
    first = choker.rechoke(0.0, everyone, seeding=True).unchoked
    (waited,) = {"a", "b", "c"} - first
    after = [peer(k, choked=k not in first, interested=k != min(first)) for k in "abc"]
    decision = choker.fill(1.0, after, seeding=True)
    assert decision.unchoke == (waited,)
    assert decision.choke == (min(first),)
