"""BEP 6 suggestions: a seed hands out first copies (FirstCopies), downloaders take them first."""

from __future__ import annotations

import random

from bitswarm.core.swarm.actions import Send
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.choker import ChokerConfig
from bitswarm.core.swarm.config import SwarmConfig
from bitswarm.core.swarm.picker import PiecePicker
from bitswarm.core.swarm.pieces import BLOCK_SIZE, PieceGeometry
from bitswarm.core.swarm.suggest import MAX_OPEN, FirstCopies
from bitswarm.core.swarm.super_seed import SuperSeeder
from bitswarm.core.swarm.torrent import MAX_SUGGESTED_IN, TorrentSwarm
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.messages import (
    Choke,
    Have,
    HaveAll,
    HaveBitfield,
    HaveNone,
    Interested,
    Message,
    NotInterested,
    Request,
    SuggestPiece,
    Unchoke,
)

PIECES = 8


def first_copies(availability: list[int], ahead: int = 2) -> FirstCopies:
    return FirstCopies(len(availability), availability.__getitem__, random.Random(0), ahead)


def test_each_unchoked_peer_gets_its_own_missing_pieces() -> None:
    copies = first_copies([0, 1, 0, 0, 2, 0, 0, 1])
    a, b = copies.unchoked("a"), copies.unchoked("b")
    assert len(a) == len(b) == 2
    assert not set(a) & set(b)
    assert set(a) | set(b) <= {0, 2, 3, 5, 6}  # never a piece a peer has
    assert copies.open_with("a") == a


def test_an_announced_piece_makes_room_for_the_next() -> None:
    availability = [0] * 6
    copies = first_copies(availability)
    first, second = copies.unchoked("a")
    availability[first] = 1
    assert copies.announced("b", first) == []  # not b's suggestion
    (third,) = copies.announced("a", first)
    assert third not in (first, second)
    assert copies.open_with("a") == [second, third]
    assert copies.announced("a", first) == []  # announced twice: nothing more


def test_the_last_block_sent_of_a_suggestion_brings_the_next() -> None:
    copies = first_copies([0] * 20)
    first, second = copies.unchoked("a")
    (third,) = copies.sent_last_block("a", first)
    assert copies.sent_last_block("a", first) == []  # once per piece
    assert copies.open_with("a") == [first, second, third]  # first is open until announced
    for _ in range(10):  # sent fast, announced never: at most MAX_OPEN open
        copies.sent_last_block("a", copies.open_with("a")[-2])
    assert len(copies.open_with("a")) == MAX_OPEN


def test_a_closed_peer_frees_its_pieces_for_others() -> None:
    copies = first_copies([0, 0, 5, 5])
    taken = copies.unchoked("a")
    assert sorted(taken) == [0, 1]
    assert copies.unchoked("b") == []  # every missing piece is open with a
    copies.closed("a")
    assert sorted(copies.unchoked("b")) == [0, 1]
    assert copies.open_with("a") == []


def test_once_every_piece_has_a_copy_nothing_is_suggested() -> None:
    assert first_copies([1, 3, 2]).unchoked("a") == []
    assert first_copies([0, 0], ahead=0).unchoked("a") == []


def test_no_pass_over_the_pieces_after_one_found_them_all_until_a_peer_leaves() -> None:
    availability = [1, 1, 1]
    looked: list[int] = []

    def count(piece: int) -> int:
        looked.append(piece)
        return availability[piece]

    copies = FirstCopies(3, count, random.Random(0), 2)
    assert copies.unchoked("a") == [] and len(looked) == 3
    assert copies.unchoked("b") == [] and len(looked) == 3  # no second pass
    availability[1] = 0
    copies.closed("a")  # a left, with the only copy of piece 1
    assert copies.unchoked("b") == [1]


# -- a seed's core ---------------------------------------------------------------------


def swarm(have: Bitfield, **config: object) -> TorrentSwarm:
    geometry = PieceGeometry(2 * BLOCK_SIZE, len(have) * 2 * BLOCK_SIZE)
    settings = SwarmConfig(**config)  # type: ignore[arg-type]
    return TorrentSwarm(geometry, have, random.Random(3), 0.0, config=settings)


def join(core: TorrentSwarm, name: str, *messages: Message, fast: bool = True) -> list[Message]:
    reserved = Extensions.FAST if fast else Extensions.NONE
    core.peer_connected(name, Handshake(bytes(20), name.encode().ljust(20, b"-"), reserved), 0.0)
    core.actions()
    return feed(core, name, *messages)


def feed(core: TorrentSwarm, name: str, *messages: Message, now: float = 0.0) -> list[Message]:
    for message in messages:
        core.message_received(name, message, now)
    return [a.message for a in core.actions() if isinstance(a, Send) and a.peer == name]


def suggestions(messages: list[Message]) -> list[int]:
    return [m.index for m in messages if isinstance(m, SuggestPiece)]


def test_a_seed_suggests_different_pieces_to_each_downloader_it_unchokes() -> None:
    seed = swarm(Bitfield.full(PIECES))
    to_b = join(seed, "b", HaveBitfield(Bitfield.from_string("10000000").to_wire()), Interested())
    to_a = join(seed, "a", HaveNone(), Interested())
    assert to_a[0] == to_b[0] == Unchoke()
    a, b = suggestions(to_a), suggestions(to_b)
    assert len(a) == len(b) == 2
    assert not set(a) & set(b)
    assert 0 not in a + b  # b has it


def test_the_next_suggestion_follows_the_downloader_announcing_one() -> None:
    seed = swarm(Bitfield.full(PIECES))
    first, second = suggestions(join(seed, "a", HaveNone(), Interested()))
    (third,) = suggestions(feed(seed, "a", Have(first)))
    assert third not in (first, second)
    summary = Bitfield.from_indices(PIECES, [first, second])  # a late one, as aria2 sends
    (fourth,) = suggestions(feed(seed, "a", HaveBitfield(summary.to_wire())))
    assert fourth not in (first, second, third)


def test_serving_the_last_block_of_a_suggested_piece_suggests_the_next() -> None:
    seed = swarm(Bitfield.full(PIECES))
    first, second = suggestions(join(seed, "a", HaveNone(), Interested()))
    head, tail = Request(first, 0, BLOCK_SIZE), Request(first, BLOCK_SIZE, BLOCK_SIZE)
    feed(seed, "a", head, tail)
    seed.block_read("a", head, bytes(BLOCK_SIZE), 1.0)
    assert suggestions(feed(seed, "a")) == []
    seed.block_read("a", tail, bytes(BLOCK_SIZE), 1.0)
    (third,) = suggestions(feed(seed, "a"))
    assert third not in (first, second)


def test_a_choked_downloaders_pieces_go_to_the_next_one() -> None:
    seed = swarm(Bitfield.full(PIECES), choker=ChokerConfig(upload_slots=1))
    most = HaveBitfield(Bitfield.from_string("11111100").to_wire())  # nobody has 6 or 7
    assert sorted(suggestions(join(seed, "a", most, Interested()))) == [6, 7]
    assert suggestions(join(seed, "b", most, Interested())) == []  # no slot free for b
    seed.message_received("a", NotInterested(), 1.0)
    actions = seed.actions()
    assert Send("a", Choke()) in actions
    to_b = [a.message for a in actions if isinstance(a, Send) and a.peer == "b"]
    assert to_b[0] == Unchoke()
    assert sorted(suggestions(to_b)) == [6, 7]  # what a held is free again


def test_no_suggestions_without_fast_extension_or_when_not_a_seed() -> None:
    seed = swarm(Bitfield.full(PIECES))
    assert suggestions(join(seed, "old", HaveBitfield(bytes(1)), Interested(), fast=False)) == []
    leecher = swarm(Bitfield.from_string("11110000"))
    assert suggestions(join(leecher, "a", HaveNone(), Interested())) == []
    off = swarm(Bitfield.full(PIECES), suggest_ahead=0)
    assert suggestions(join(off, "a", HaveNone(), Interested())) == []


# -- a downloader's core ---------------------------------------------------------------------


def requested(messages: list[Message]) -> list[int]:
    return [m.index for m in messages if isinstance(m, Request)]


def test_a_downloader_asks_for_suggested_pieces_first() -> None:
    leecher = swarm(Bitfield(PIECES))
    join(leecher, "seed", HaveAll())
    assert feed(leecher, "seed", SuggestPiece(6), SuggestPiece(3)) == []  # choked: nothing yet
    asked = requested(feed(leecher, "seed", Unchoke()))
    assert asked[:4] == [6, 6, 3, 3]


def test_suggestions_of_pieces_we_have_are_ignored_and_only_the_latest_kept() -> None:
    count = 2 * MAX_SUGGESTED_IN
    leecher = swarm(Bitfield.from_indices(count, [0]))
    join(leecher, "seed", HaveAll())
    feed(leecher, "seed", SuggestPiece(0))
    assert leecher._peers["seed"].suggested_in == []
    for piece in range(1, count):
        feed(leecher, "seed", SuggestPiece(piece), SuggestPiece(piece))
    assert leecher._peers["seed"].suggested_in == list(range(count - MAX_SUGGESTED_IN, count))


def test_a_suggestion_never_beats_a_higher_priority() -> None:
    geometry = PieceGeometry(BLOCK_SIZE, 4 * BLOCK_SIZE)
    picker = PiecePicker(geometry, random.Random(0), random_first=0)
    picker.set_priorities([1, 7, 4, 4])
    picker.peers.join("seed", Bitfield.full(4))
    picked = [block.piece for block in picker.pick("seed", 4, first=[0, 3, 2])]
    assert picked == [1, 3, 2, 0]


def test_a_super_seed_hides_suggestions() -> None:
    seeder = SuperSeeder(PIECES)
    seeder.peer_connected("a")
    assert seeder.outgoing("a", SuggestPiece(2)) == []
    assert seeder.outgoing("a", Choke()) == [Choke()]
