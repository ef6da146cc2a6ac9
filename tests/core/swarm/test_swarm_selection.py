"""Piece priorities and sequential mode at run time: what TorrentSwarm fetches, and *finished*.

A download whose wanted pieces are all verified is finished (libtorrent's
*finished*, not *seeding*): it emits ``Finished`` and stops being interested,
while its totals still count the skipped pieces as ``left`` for the tracker.
State is written as strings: one digit a piece for priorities, ``0``/``1`` for
the pieces we have.
"""

from __future__ import annotations

import random

from swarm_harness import MemorySwarm

from bitswarm.core.swarm.actions import Action, Finished, Send
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.pieces import BLOCK_SIZE, PieceGeometry
from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.messages import HaveAll, Interested, NotInterested, Request, Unchoke

PIECE = 2 * BLOCK_SIZE


def digits(text: str) -> list[int]:
    return [int(c) for c in text]


def swarm_with(have: str) -> TorrentSwarm:
    geometry = PieceGeometry(PIECE, len(have) * PIECE - 100)  # a short last piece
    return TorrentSwarm(geometry, Bitfield.from_string(have), random.Random(1), 0.0)


def with_seed(swarm: TorrentSwarm) -> list[Action]:
    """A fast seed joins, has everything and unchokes us."""
    swarm.peer_connected("seed", Handshake(bytes(20), b"seed".ljust(20, b"-"), Extensions.FAST), 0)
    for message in (HaveAll(), Unchoke()):
        swarm.message_received("seed", message, 0.0)
    return swarm.actions()


def sent(actions: list[Action]) -> list[object]:
    return [action.message for action in actions if isinstance(action, Send)]


def test_skipping_every_missing_piece_finishes_at_once() -> None:
    swarm = swarm_with("11110000")
    assert not swarm.is_finished()
    assert Interested() in sent(with_seed(swarm))
    swarm.set_priorities(digits("44440000"), 1.0)
    actions = swarm.actions()
    assert Finished() in actions and swarm.is_finished()
    assert NotInterested() in sent(actions)
    totals = swarm.totals()
    assert totals.wanted_left == 0 and totals.wanted == 4 * PIECE
    assert totals.left == 4 * PIECE - 100  # the tracker still hears what the torrent lacks


def test_wanting_a_missing_piece_again_unfinishes_the_download() -> None:
    swarm = swarm_with("11110000")
    swarm.set_priorities(digits("44440000"), 0.0)
    assert Finished() in swarm.actions()
    assert Interested() not in sent(with_seed(swarm))  # nothing it has is wanted

    swarm.set_priorities(digits("44440001"), 1.0)
    actions = swarm.actions()
    assert not swarm.is_finished() and Finished() not in actions
    messages = sent(actions)
    assert Interested() in messages
    assert {m.index for m in messages if isinstance(m, Request)} == {7}  # the wanted one only
    assert swarm.totals().wanted_left == PIECE - 100


def test_requests_follow_priorities_and_never_name_a_skipped_piece() -> None:
    swarm = swarm_with("00000000")
    swarm.set_priorities(digits("00700100"), 0.0)
    requests = [m for m in sent(with_seed(swarm)) if isinstance(m, Request)]
    assert requests and {r.index for r in requests} <= {2, 5}
    assert requests[0].index == 2  # priority 7 before priority 1


def test_sequential_mode_asks_for_pieces_in_order() -> None:
    swarm = swarm_with("00000000")
    swarm.set_sequential(True)
    requests = [m for m in sent(with_seed(swarm)) if isinstance(m, Request)]
    indices = [r.index for r in requests]
    assert indices == sorted(indices) and indices[0] == 0 and len(set(indices)) > 1


def test_a_download_that_skips_pieces_finishes_with_the_wanted_ones_byte_exact() -> None:
    data = random.Random(5).randbytes(12 * PIECE + 999)
    net = MemorySwarm(data, PIECE)
    seed = net.add_node("seed", complete=True)
    leecher = net.add_node("leecher")
    wanted = "4400000700040"
    leecher.swarm.set_priorities(digits(wanted), 0.0)
    net.connect("seed", "leecher")
    net.run(lambda: leecher.finished_at is not None, limit=60)

    chosen = [piece for piece, c in enumerate(wanted) if c != "0"]
    assert sorted(leecher.done) == chosen
    assert all(leecher.disk[p] == data[p * PIECE : (p + 1) * PIECE] for p in chosen)
    assert leecher.swarm.have.to_string() == "".join("1" if c != "0" else "0" for c in wanted)
    assert seed.swarm.totals().uploaded == 4 * PIECE  # no skipped piece was sent
    assert not leecher.disconnects  # finished, not a seed: the seed may stay

    # Wanting everything later: unfinished again, then finished as a whole torrent.
    first_finish = leecher.finished_at
    net.command("leecher", lambda swarm: swarm.set_priorities([4] * len(wanted), net.now))
    assert not leecher.swarm.is_finished()
    net.run(lambda: leecher.swarm.is_finished(), limit=60)
    assert leecher.finished_at is not None and leecher.finished_at > first_finish
    assert leecher.data() == data
    assert leecher.swarm.totals().left == 0
