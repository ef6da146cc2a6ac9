"""Who has what: per-peer piece sets and the availability deltas they report."""

from __future__ import annotations

import pytest

from bitswarm.core.swarm.availability import PeerPieces
from bitswarm.core.swarm.bitfield import Bitfield


def tracker(pieces: int) -> tuple[PeerPieces, list[int]]:
    counts = [0] * pieces

    def on_change(piece: int, delta: int) -> None:
        counts[piece] += delta

    return PeerPieces(pieces, on_change), counts


def test_bitfield_and_haves_are_counted_once() -> None:
    peers, counts = tracker(4)
    peers.join("a", Bitfield.from_string("1010"))
    assert counts == [1, 0, 1, 0]
    assert not peers.have("a", 0) and peers.have("a", 1)
    assert counts == [1, 1, 1, 0]
    assert peers.pieces("a").to_string() == "1110"


def test_seeds_are_counted_apart_and_completing_peers_become_seeds() -> None:
    peers, counts = tracker(3)
    peers.join("s", Bitfield.full(3))
    peers.join("x", Bitfield.from_string("110"))
    assert counts == [1, 1, 0] and peers.seed_count == 1
    peers.have("x", 2)  # complete: now a seed, its per-piece counts returned
    assert counts == [0, 0, 0] and peers.seed_count == 2 and peers.is_seed("x")
    peers.have_all("x")  # repeated: no change
    assert peers.seed_count == 2
    peers.leave("x")
    peers.leave("s")
    assert peers.seed_count == 0 and "x" not in peers


def test_interest_and_membership() -> None:
    peers, _ = tracker(4)
    peers.join("a")
    wanted = Bitfield.from_string("0011")
    assert not peers.has_any("a", wanted)
    peers.have("a", 3)
    assert peers.has_any("a", wanted) and peers.has("a", 3) and not peers.has("a", 2)
    peers.join("s", Bitfield.full(4))
    assert peers.has_any("s", wanted) and not peers.has_any("s", Bitfield(4))


def test_misuse_is_refused() -> None:
    peers, _ = tracker(4)
    peers.join("a")
    with pytest.raises(ValueError, match="peer 'a' already joined"):
        peers.join("a")
    with pytest.raises(ValueError, match="peer bitfield has 3 pieces, the torrent 4"):
        peers.join("b", Bitfield(3))
    with pytest.raises(ValueError, match="peer 'c' has not joined"):
        peers.have("c", 0)
