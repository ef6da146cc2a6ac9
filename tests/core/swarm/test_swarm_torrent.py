"""TorrentSwarm driven by hand, one message at a time: joining, requests, hostile peers."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from bitswarm.core.swarm.actions import (
    Action,
    Ban,
    Disconnect,
    Finished,
    PieceDone,
    ReadBlock,
    Send,
    Stopped,
    VerifyPiece,
    WriteBlock,
)
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.choker import ChokerConfig
from bitswarm.core.swarm.config import SwarmConfig
from bitswarm.core.swarm.pieces import BLOCK_SIZE, PieceGeometry
from bitswarm.core.swarm.pipeline import PipelineConfig
from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.messages import (
    AllowedFast,
    Cancel,
    Choke,
    Extended,
    Have,
    HaveAll,
    HaveBitfield,
    HaveNone,
    Interested,
    KeepAlive,
    Message,
    NotInterested,
    Piece,
    Port,
    RejectRequest,
    Request,
    SuggestPiece,
    Unchoke,
)

PIECES = 8
PIECE_LENGTH = 2 * BLOCK_SIZE
INFO_HASH = bytes(range(20))
ALMOST_ALL = "11111101"
"""A leecher lacking piece 6, outside the allowed-fast sets of 127.0.0.1 (7, 3, 0)."""


def make(
    have: str | None = None, *, now: float = 0.0, **config: object
) -> tuple[TorrentSwarm, list[Action]]:
    geometry = PieceGeometry(PIECE_LENGTH, PIECES * PIECE_LENGTH)
    field = Bitfield.from_string(have) if have is not None else Bitfield(PIECES)
    swarm = TorrentSwarm(geometry, field, random.Random(1), now, config=SwarmConfig(**config))  # type: ignore[arg-type]
    return swarm, swarm.actions()


def handshake(name: str, *, fast: bool = True) -> Handshake:
    reserved = Extensions.FAST if fast else Extensions.NONE
    return Handshake(INFO_HASH, name.encode().ljust(20, b"-"), reserved)


def join(swarm: TorrentSwarm, name: str, *, fast: bool = True, now: float = 0.0) -> list[Action]:
    swarm.peer_connected(name, handshake(name, fast=fast), now)
    return swarm.actions()


def feed(swarm: TorrentSwarm, name: str, *messages: Message, now: float = 0.0) -> list[Action]:
    for message in messages:
        swarm.message_received(name, message, now)
    return swarm.actions()


def sent(actions: Sequence[Action], peer: str, kind: type | None = None) -> list[Message]:
    return [
        a.message
        for a in actions
        if isinstance(a, Send) and a.peer == peer and (kind is None or isinstance(a.message, kind))
    ]


def dropped(actions: Sequence[Action]) -> list[tuple[object, str]]:
    return [(a.peer, a.reason) for a in actions if isinstance(a, Disconnect | Ban)]


def unchoked_seed(swarm: TorrentSwarm, name: str = "seed") -> list[Request]:
    """A fast seed that unchokes us; returns the requests we sent it."""

    join(swarm, name)
    actions = feed(swarm, name, HaveAll(), Unchoke())
    assert sent(actions, name, Interested)
    return [m for m in sent(actions, name, Request) if isinstance(m, Request)]


def block(request: Request, fill: int = 1) -> Piece:
    return Piece(request.index, request.begin, bytes([fill]) * request.length)


# -- joining -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("have", "fast", "expected"),
    [
        ("00000000", True, [HaveNone()]),
        ("11111111", True, [HaveAll()]),
        ("10000001", True, [HaveBitfield(b"\x81")]),
        ("10000001", False, [HaveBitfield(b"\x81")]),
        ("00000000", False, []),
    ],
)
def test_piece_summary_on_join(have: str, fast: bool, expected: list[Message]) -> None:
    swarm, _ = make(have)
    assert sent(join(swarm, "p", fast=fast), "p") == expected


def test_allowed_fast_set_sent_when_address_known() -> None:
    swarm, _ = make(ALMOST_ALL, allowed_fast_count=3)
    swarm.peer_connected("p", handshake("p"), 0.0, address="127.0.0.1")
    allowed = sent(swarm.actions(), "p", AllowedFast)
    assert len(allowed) == 3
    assert len({m.index for m in allowed if isinstance(m, AllowedFast)}) == 3


def test_a_seed_grants_no_allowed_fast_set() -> None:
    """A seed's slots are better spent by the choker than on every newcomer's ten pieces."""

    swarm, _ = make("11111111", allowed_fast_count=3)
    swarm.peer_connected("p", handshake("p"), 0.0, address="127.0.0.1")
    assert sent(swarm.actions(), "p", AllowedFast) == []
    actions = feed(swarm, "p", HaveNone(), Request(7, 0, BLOCK_SIZE))
    assert sent(actions, "p") == [RejectRequest(7, 0, BLOCK_SIZE)]


def test_turning_seed_withdraws_the_allowed_fast_sets() -> None:
    swarm, _ = make(ALMOST_ALL, allowed_fast_count=3)
    swarm.peer_connected("p", handshake("p"), 0.0, address="127.0.0.1")
    assert len(sent(swarm.actions(), "p", AllowedFast)) == 3
    feed(swarm, "p", HaveNone())
    swarm.peer_connected("s", handshake("s"), 0.0)
    for request in sent(feed(swarm, "s", HaveAll(), Unchoke()), "s", Request):
        assert isinstance(request, Request) and request.index == 6
        feed(swarm, "s", Piece(request.index, request.begin, b"x" * request.length))
    swarm.piece_verified(6, True, 1.0)
    swarm.actions()
    assert swarm.is_finished()
    actions = feed(swarm, "p", Request(7, 0, BLOCK_SIZE), now=2.0)
    assert sent(actions, "p") == [RejectRequest(7, 0, BLOCK_SIZE)]


def test_choked_peer_may_request_allowed_fast_pieces() -> None:
    swarm, _ = make(ALMOST_ALL, allowed_fast_count=1)
    swarm.peer_connected("p", handshake("p"), 0.0, address="127.0.0.1")
    (allowed,) = sent(swarm.actions(), "p", AllowedFast)
    assert isinstance(allowed, AllowedFast)
    other = (allowed.index + 1) % PIECES
    actions = feed(swarm, "p", HaveNone(), Request(allowed.index, 0, BLOCK_SIZE))
    assert [a for a in actions if isinstance(a, ReadBlock)] == [
        ReadBlock("p", Request(allowed.index, 0, BLOCK_SIZE))
    ]
    actions = feed(swarm, "p", Request(other, 0, BLOCK_SIZE))
    assert sent(actions, "p") == [RejectRequest(other, 0, BLOCK_SIZE)]


def test_duplicate_peer_key_is_a_driver_error() -> None:
    swarm, _ = make()
    join(swarm, "p")
    with pytest.raises(ValueError, match="already connected"):
        join(swarm, "p")


# -- downloading -----------------------------------------------------------------------


def test_unchoke_starts_min_depth_requests_then_piece_is_written_and_verified() -> None:
    swarm, _ = make()
    requests = unchoked_seed(swarm)
    assert len(requests) == PipelineConfig().min_depth
    first = [r for r in requests if r.index == requests[0].index]
    assert len(first) == 2  # partial pieces first: both blocks of one piece
    actions: list[Action] = []
    for request in first:
        actions += feed(swarm, "seed", block(request), now=0.1)
    writes = [a for a in actions if isinstance(a, WriteBlock)]
    assert [(w.piece, w.offset) for w in writes] == [(r.index, r.begin) for r in first]
    assert VerifyPiece(first[0].index) in actions
    # slow start: each block raised the depth by one, and the pipeline refilled to it
    assert len(sent(actions, "seed", Request)) == 2 + 2

    swarm.piece_verified(first[0].index, True, 0.2)
    actions = swarm.actions()
    assert PieceDone(first[0].index) in actions
    assert sent(actions, "seed", Have) == [Have(first[0].index)]
    assert swarm.have.to_string().count("1") == 1


def test_a_passed_piece_ends_interest_only_in_the_peers_it_was_the_last_offer_of() -> None:
    swarm, _ = make("11111100")
    join(swarm, "only-6")
    assert sent(feed(swarm, "only-6", HaveNone(), Have(6)), "only-6", Interested)
    join(swarm, "only-7")
    assert sent(feed(swarm, "only-7", HaveNone(), Have(7)), "only-7", Interested)
    for request in unchoked_seed(swarm):
        if request.index == 6:
            feed(swarm, "seed", block(request))
    swarm.piece_verified(6, True, 1.0)
    actions = swarm.actions()
    assert sent(actions, "only-6") == [NotInterested()]  # it has the piece: no ``have``
    assert sent(actions, "only-7") == [Have(6)]  # it still has the piece we lack
    assert sent(actions, "seed") == [Have(6)]


def test_a_passed_piece_is_announced_to_peers_lacking_it_to_seeds_and_to_its_senders() -> None:
    swarm, _ = make("11111100")
    for name, summary in [("lacks-6", HaveNone()), ("has-6", HaveNone()), ("seed", HaveAll())]:
        join(swarm, name)
        feed(swarm, name, summary, *([Have(6)] if name == "has-6" else []))
    join(swarm, "sender")
    requests = sent(feed(swarm, "sender", HaveNone(), Have(6), Unchoke()), "sender", Request)
    assert {r.index for r in requests if isinstance(r, Request)} == {6}
    for request in requests:
        assert isinstance(request, Request)
        feed(swarm, "sender", block(request))
    swarm.piece_verified(6, True, 1.0)
    told = {a.peer for a in swarm.actions() if isinstance(a, Send) and a.message == Have(6)}
    assert told == {"lacks-6", "seed", "sender"}


def test_last_piece_finishes_the_torrent_and_drops_seeds() -> None:
    swarm, _ = make("11111110")
    requests = unchoked_seed(swarm)
    assert {r.index for r in requests} == {7}
    for request in requests:
        feed(swarm, "seed", block(request))
    swarm.piece_verified(7, True, 1.0)
    actions = swarm.actions()
    assert Finished() in actions
    assert dropped(actions) == [("seed", "both sides are seeds")]
    assert swarm.totals().left == 0


def test_unrequested_and_misaligned_blocks_are_waste_then_dropped() -> None:
    swarm, _ = make(max_strikes=3)
    unchoked_seed(swarm)
    actions = feed(swarm, "seed", Piece(5, 0, b"x" * BLOCK_SIZE), Piece(6, 100, b"y" * 10))
    assert dropped(actions) == []
    assert swarm.totals().wasted == BLOCK_SIZE + 10
    actions = feed(swarm, "seed", Piece(5, BLOCK_SIZE, b"z" * BLOCK_SIZE))
    ((peer, reason),) = dropped(actions)
    assert peer == "seed"
    assert "never requested" in reason
    assert "3 offences" in reason


@pytest.mark.parametrize(
    ("message", "name"),
    [(Have(99), "have"), (SuggestPiece(99), "suggest piece"), (AllowedFast(99), "allowed fast")],
)
def test_bad_piece_index_drops_the_peer(message: Message, name: str) -> None:
    swarm, _ = make()
    join(swarm, "p")
    ((_, reason),) = dropped(feed(swarm, "p", HaveNone(), message))
    assert reason == f"{name} names piece 99, but the torrent has 8"
    assert feed(swarm, "p", Have(1)) == []  # later messages from the dropped peer are ignored


def test_a_batch_of_messages_acts_as_each_in_turn_and_tops_up_once() -> None:
    one, _ = make()
    batched, _ = make()
    singly = unchoked_seed(one)
    assert unchoked_seed(batched) == singly
    blocks = [block(request) for request in singly]
    one_by_one: list[Action] = []
    for piece in blocks:
        one_by_one += feed(one, "seed", piece, now=0.1)
    batched.messages_received("seed", blocks, 0.1)
    together = batched.actions()
    writes = [a for a in together if isinstance(a, WriteBlock | VerifyPiece)]
    assert writes == [a for a in one_by_one if isinstance(a, WriteBlock | VerifyPiece)]
    # slow start raised the depth block by block either way; one top-up asks for all of it
    assert len(sent(together, "seed", Request)) == len(sent(one_by_one, "seed", Request))
    requests = [a for a in together if isinstance(a, Send) and isinstance(a.message, Request)]
    assert together.index(requests[0]) > together.index(writes[-1])


def test_a_batch_stops_at_the_message_that_drops_the_peer() -> None:
    swarm, _ = make()
    join(swarm, "p")
    swarm.messages_received("p", [HaveNone(), Have(99), Have(1), Interested()], 0.0)
    ((_, reason),) = dropped(swarm.actions())
    assert reason == "have names piece 99, but the torrent has 8"
    assert swarm.peer_keys == []


def test_reject_of_a_request_never_sent_drops_the_peer() -> None:
    swarm, _ = make("11111100")
    unchoked_seed(swarm)
    ((_, reason),) = dropped(feed(swarm, "seed", RejectRequest(3, 0, BLOCK_SIZE)))
    assert "never requested" in reason


def test_fast_message_without_fast_extension_drops_the_peer() -> None:
    swarm, _ = make()
    join(swarm, "p", fast=False)
    ((_, reason),) = dropped(feed(swarm, "p", HaveAll()))
    assert "fast extension was not negotiated" in reason


def test_extension_and_port_messages_may_precede_the_bitfield() -> None:
    swarm, _ = make("00000000")
    join(swarm, "p")
    actions = feed(swarm, "p", Extended(0, b"d1:md1:ei0eee"), Port(6881), HaveBitfield(b"\x01"))
    assert dropped(actions) == []
    assert sent(actions, "p", Interested) == [Interested()]


def test_a_late_bitfield_replaces_what_the_peer_announced() -> None:
    """aria2 sends a bitfield (or have all) mid-connection in place of many haves."""

    swarm, _ = make("11111100")
    join(swarm, "p")
    assert sent(feed(swarm, "p", HaveNone(), Have(0)), "p", Interested) == []
    actions = feed(swarm, "p", HaveBitfield(b"\x81"), HaveBitfield(b"\x81"))
    assert dropped(actions) == []
    assert sent(actions, "p", Interested) == [Interested()]
    requests = sent(feed(swarm, "p", Unchoke()), "p", Request)
    assert {r.index for r in requests if isinstance(r, Request)} == {7}  # never 6
    actions = feed(swarm, "p", Choke(), HaveNone())
    assert sent(actions, "p", NotInterested) == [NotInterested()]


def test_a_late_have_all_makes_the_peer_a_seed() -> None:
    swarm, _ = make("11111111")
    join(swarm, "p")
    assert dropped(feed(swarm, "p", HaveNone(), Have(3), Interested())) == []
    ((_, reason),) = dropped(feed(swarm, "p", HaveAll()))
    assert reason == "both sides are seeds"


def endgame_pair(swarm: TorrentSwarm, fast: bool = True) -> tuple[list[Message], list[Message]]:
    """We lack two pieces (four blocks): "a" is asked for all, then "b" for duplicates."""

    join(swarm, "a", fast=fast)
    summary = HaveAll() if fast else HaveBitfield(b"\xff")
    to_a = sent(feed(swarm, "a", summary, Unchoke()), "a", Request)
    join(swarm, "b", fast=fast, now=1.0)
    to_b = sent(feed(swarm, "b", summary, Unchoke(), now=1.0), "b", Request)
    assert len(to_a) == 4
    assert len(to_b) == swarm.config.endgame_depth
    assert set(to_b) < set(to_a)
    return to_a, to_b


def test_reject_frees_the_block_for_another_peer() -> None:
    swarm, _ = make("11111100")
    to_a, to_b = endgame_pair(swarm)
    rejects = [RejectRequest(r.index, r.begin, r.length) for r in to_a if isinstance(r, Request)]
    actions = feed(swarm, "a", Choke(), *rejects, now=2.0)
    assert set(to_b) | set(sent(actions, "b", Request)) == set(to_a)


def test_plain_choke_voids_requests_and_they_go_elsewhere() -> None:
    swarm, _ = make("11111100")
    to_a, to_b = endgame_pair(swarm, fast=False)
    actions = feed(swarm, "a", Choke(), now=2.0)
    assert set(to_b) | set(sent(actions, "b", Request)) == set(to_a)
    late = to_a[0]
    assert isinstance(late, Request)
    assert dropped(feed(swarm, "a", block(late))) == []  # a crossing block is no offence


def test_request_timeout_cancels_and_reissues_elsewhere() -> None:
    swarm, _ = make("11111100")
    to_a, to_b = endgame_pair(swarm)
    timeout = PipelineConfig().timeout_initial
    assert swarm.get_timer() == timeout
    swarm.handle_timer(timeout)
    actions = swarm.actions()
    assert sent(actions, "a", Cancel) == [
        Cancel(r.index, r.begin, r.length) for r in to_a if isinstance(r, Request)
    ]
    assert set(to_b) | set(sent(actions, "b", Request)) == set(to_a)
    stats = {s.key: s for s in swarm.peer_stats(timeout)}
    assert stats["a"].snubbed
    assert stats["a"].queue_depth == 1


def test_idle_peer_is_dropped_and_quiet_link_gets_keepalives() -> None:
    swarm, _ = make(keepalive_interval=30.0, idle_timeout=100.0)
    join(swarm, "p")
    feed(swarm, "p", HaveNone())
    assert swarm.get_timer() == 30.0
    swarm.handle_timer(30.0)
    assert sent(swarm.actions(), "p") == [KeepAlive()]
    feed(swarm, "p", KeepAlive(), now=50.0)
    swarm.handle_timer(149.0)
    assert dropped(swarm.actions()) == []
    swarm.handle_timer(150.0)
    assert dropped(swarm.actions()) == [("p", "nothing heard for 100 s")]


# -- uploading ---------------------------------------------------------------------------


def interested_leecher(swarm: TorrentSwarm, name: str = "leecher") -> None:
    join(swarm, name)
    actions = feed(swarm, name, HaveNone(), Interested())
    assert sent(actions, name, Unchoke) == [Unchoke()]


def test_requests_are_read_and_served() -> None:
    swarm, _ = make("11111111")
    interested_leecher(swarm)
    request = Request(3, BLOCK_SIZE, BLOCK_SIZE)
    assert feed(swarm, "leecher", request) == [ReadBlock("leecher", request)]
    swarm.block_read("leecher", request, b"d" * BLOCK_SIZE, 1.0)
    assert sent(swarm.actions(), "leecher") == [Piece(3, BLOCK_SIZE, b"d" * BLOCK_SIZE)]
    assert swarm.totals().uploaded == BLOCK_SIZE


def test_cancel_rejects_and_the_late_read_is_dropped() -> None:
    swarm, _ = make("11111111")
    interested_leecher(swarm)
    request = Request(3, 0, BLOCK_SIZE)
    feed(swarm, "leecher", request)
    actions = feed(swarm, "leecher", Cancel(3, 0, BLOCK_SIZE))
    assert sent(actions, "leecher") == [RejectRequest(3, 0, BLOCK_SIZE)]
    swarm.block_read("leecher", request, b"d" * BLOCK_SIZE, 1.0)
    assert swarm.actions() == []


def test_plain_cancel_forgets_the_request_without_an_answer() -> None:
    swarm, _ = make("11111111")
    join(swarm, "leecher", fast=False)
    feed(swarm, "leecher", Interested())
    request = Request(3, 0, BLOCK_SIZE)
    assert feed(swarm, "leecher", request) == [ReadBlock("leecher", request)]
    assert feed(swarm, "leecher", Cancel(3, 0, BLOCK_SIZE)) == []  # BEP 3: no reject
    swarm.block_read("leecher", request, b"d" * BLOCK_SIZE, 1.0)
    assert swarm.actions() == []


def test_choking_keeps_the_allowed_fast_requests() -> None:
    """BEP 6: a choke rejects every queued request but those for allowed-fast pieces."""

    swarm, _ = make(ALMOST_ALL, allowed_fast_count=1)
    swarm.peer_connected("p", handshake("p"), 0.0, address="127.0.0.1")
    (allowed,) = [m.index for m in sent(swarm.actions(), "p") if isinstance(m, AllowedFast)]
    other = (allowed + 1) % PIECES
    assert sent(feed(swarm, "p", HaveNone(), Interested()), "p", Unchoke) == [Unchoke()]
    feed(swarm, "p", Request(allowed, 0, BLOCK_SIZE), Request(other, 0, BLOCK_SIZE))
    feed(swarm, "p", NotInterested(), now=1.0)
    swarm.handle_timer(swarm.config.choker.round_interval)
    assert sent(swarm.actions(), "p") == [Choke(), RejectRequest(other, 0, BLOCK_SIZE)]
    swarm.block_read("p", Request(allowed, 0, BLOCK_SIZE), b"d" * BLOCK_SIZE, 20.0)
    assert sent(swarm.actions(), "p") == [Piece(allowed, 0, b"d" * BLOCK_SIZE)]


def test_request_while_choked_is_rejected_not_punished() -> None:
    swarm, _ = make("11111111", max_strikes=1)
    join(swarm, "p")
    actions = feed(swarm, "p", HaveNone(), Request(0, 0, BLOCK_SIZE))
    assert sent(actions, "p") == [RejectRequest(0, 0, BLOCK_SIZE)]
    assert dropped(actions) == []


@pytest.mark.parametrize(
    "request_",
    [
        Request(8, 0, BLOCK_SIZE),
        Request(0, 0, BLOCK_SIZE + 1),
        Request(7, BLOCK_SIZE, 2 * BLOCK_SIZE),
    ],
)
def test_out_of_bounds_request_drops_the_peer(request_: Request) -> None:
    swarm, _ = make("11111111")
    interested_leecher(swarm)
    ((_, reason),) = dropped(feed(swarm, "leecher", request_))
    assert f"piece {request_.index}" in reason


def test_request_flood_is_bounded_then_dropped() -> None:
    swarm, _ = make("11111111", max_strikes=5)
    interested_leecher(swarm)
    limit = swarm.config.upload.max_requests_in
    # distinct requests (a repeated one is ignored): vary the length
    flood = [Request(n % PIECES, 0, BLOCK_SIZE - n // PIECES) for n in range(limit)]
    actions = feed(swarm, "leecher", *flood)
    reads = [a for a in actions if isinstance(a, ReadBlock)]
    assert len(reads) == swarm.config.upload.reads_per_peer
    assert dropped(actions) == []
    extra = [Request(1, BLOCK_SIZE, n) for n in range(1, 6)]
    actions = feed(swarm, "leecher", *extra)
    assert sent(actions, "leecher", RejectRequest)[:4] == [
        RejectRequest(r.index, r.begin, r.length) for r in extra[:4]
    ]
    ((_, reason),) = dropped(actions)
    assert f"more than {limit} requests queued (5 offences)" == reason


def test_reads_in_flight_stay_bounded_through_answers_and_cancels() -> None:
    swarm, _ = make("11111111")
    interested_leecher(swarm)
    bound = swarm.config.upload.reads_per_peer
    queue = [Request(n % PIECES, 0, BLOCK_SIZE - n // PIECES) for n in range(3 * bound)]
    reads = [a.request for a in feed(swarm, "leecher", *queue) if isinstance(a, ReadBlock)]
    assert reads == queue[:bound]
    # two reads under way are cancelled: their slots are free for the next requests
    for request in reads[:2]:
        feed(swarm, "leecher", Cancel(request.index, request.begin, request.length))
    started = []
    for request in reads[2:4]:
        swarm.block_read("leecher", request, b"d" * request.length, 1.0)
        started += [a.request for a in swarm.actions() if isinstance(a, ReadBlock)]
    assert started == queue[bound : bound + 4]  # 2 answered + 2 cancelled, in queue order
    late = reads[0]
    swarm.block_read("leecher", late, b"d" * late.length, 1.0)  # the cancelled read lands
    assert swarm.actions() == []


def test_choking_a_peer_rejects_its_queue() -> None:
    swarm, _ = make("11111111")
    interested_leecher(swarm)
    feed(swarm, "leecher", Request(1, 0, BLOCK_SIZE), Request(2, 0, BLOCK_SIZE))
    assert feed(swarm, "leecher", NotInterested(), now=1.0) == []  # wait for the round
    round_at = swarm.get_timer()
    assert round_at == swarm.config.choker.round_interval
    swarm.handle_timer(round_at)
    assert sent(swarm.actions(), "leecher") == [
        Choke(),
        RejectRequest(1, 0, BLOCK_SIZE),
        RejectRequest(2, 0, BLOCK_SIZE),
    ]


def test_a_slot_freed_between_rounds_goes_to_the_peer_waiting_for_it() -> None:
    swarm, _ = make("11111111", choker=ChokerConfig(upload_slots=1), suggest_ahead=0)
    interested_leecher(swarm, "a")
    join(swarm, "b")
    assert feed(swarm, "b", HaveNone(), Interested(), now=1.0) == []  # no slot free: b waits
    handed = feed(swarm, "a", NotInterested(), Interested(), now=2.0)
    assert handed == [Send("a", Choke()), Send("b", Unchoke())]
    for _ in range(3):  # a flapping peer moves nothing more, not even the next round
        assert feed(swarm, "a", NotInterested(), Interested(), now=3.0) == []
    assert swarm.get_timer() == swarm.config.choker.round_interval


# -- hash failures, disk errors -----------------------------------------------------------


def test_sole_sender_of_two_failed_pieces_is_banned() -> None:
    swarm, _ = make()
    requests = unchoked_seed(swarm, "liar")
    failed: list[int] = []
    for request in requests:
        actions = feed(swarm, "liar", block(request, 0))
        failed += [a.piece for a in actions if isinstance(a, VerifyPiece)]
    assert len(failed) == 2
    swarm.piece_verified(failed[0], False, 1.0)
    assert dropped(swarm.actions()) == []
    swarm.piece_verified(failed[1], False, 1.0)
    ((peer, reason),) = dropped(swarm.actions())
    assert (peer, reason) == ("liar", "sent every block of 2 pieces that failed the hash")
    assert join(swarm, "liar") == [Disconnect("liar", "banned")]


def test_write_failure_stops_the_torrent() -> None:
    swarm, _ = make()
    unchoked_seed(swarm)
    swarm.write_failed(2, "No space left on device", 1.0)
    assert swarm.actions() == [Stopped("writing piece 2 failed: No space left on device")]
    assert swarm.get_timer() is None
    assert feed(swarm, "seed", Have(1)) == []


def test_verify_answer_for_an_unasked_piece_is_a_driver_error() -> None:
    swarm, _ = make()
    with pytest.raises(ValueError, match="was not sent for verification"):
        swarm.piece_verified(0, True, 0.0)


def test_liar_sharing_a_piece_is_banned_on_evidence_and_the_honest_peer_kept() -> None:
    """Piece 7 (two blocks) fails twice with one block from each peer, then passes from the
    honest peer alone: the liar's recorded block differs from the one that passed."""

    swarm, _ = make("11111110")
    asked: dict[str, list[Request]] = {"honest": [], "liar": []}
    written: dict[int, bytes] = {}
    outcomes: list[Action] = []

    def absorb(actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send) and isinstance(action.message, Request):
                asked[str(action.peer)].append(action.message)
            elif isinstance(action, WriteBlock):
                written[action.offset] = action.data
            elif isinstance(action, VerifyPiece):
                good = all(written[o] == b"\x01" * BLOCK_SIZE for o in (0, BLOCK_SIZE))
                swarm.piece_verified(action.piece, good, 1.0)
                absorb(swarm.actions())
            elif isinstance(action, Ban | PieceDone):
                outcomes.append(action)

    for name in asked:
        join(swarm, name)
        absorb(feed(swarm, name, HaveAll(), Unchoke()))
    for attempt in range(3):
        honest_first = attempt == 2
        answers = [(r, "honest", 1) for r in asked["honest"]]
        answers += [(r, "liar", 0) for r in asked["liar"]]
        asked = {"honest": [], "liar": []}
        # first two attempts: block 0 from the honest peer and block 1 from the liar come
        # first (the other copies are late duplicates); the last: the honest peer's alone
        answers.sort(
            key=lambda a: (
                (a[1] == "liar") if honest_first else (a[0].begin == 0) == (a[1] == "liar")
            )
        )
        for request, name, fill in answers:
            absorb(feed(swarm, name, block(request, fill)))
    assert [type(a) for a in outcomes] == [Ban, PieceDone]
    ban = outcomes[0]
    assert isinstance(ban, Ban)
    assert ban.peer == "liar"
    assert ban.reason.endswith("of piece 7 (smart ban)")
    assert swarm.have.all()  # from the honest peer, which no rule blamed


def test_requests_resume_when_the_reject_back_off_ends() -> None:
    swarm, _ = make()
    requests = unchoked_seed(swarm)
    rejects = [RejectRequest(r.index, r.begin, r.length) for r in requests]
    assert sent(feed(swarm, "seed", *rejects, now=1.0), "seed", Request) == []
    backoff = PipelineConfig().reject_backoff
    assert swarm.get_timer() == 1.0 + backoff
    swarm.handle_timer(1.0 + backoff)
    assert len(sent(swarm.actions(), "seed", Request)) == PipelineConfig().min_depth


def test_allowed_fast_is_withdrawn_once_the_peer_has_pieces_to_trade() -> None:
    swarm, _ = make(ALMOST_ALL, allowed_fast_count=2)
    swarm.peer_connected("p", handshake("p"), 0.0, address="127.0.0.1")
    allowed = [
        m.index for m in sent(swarm.actions(), "p", AllowedFast) if isinstance(m, AllowedFast)
    ]
    others = [piece for piece in range(PIECES) if piece not in allowed]
    actions = feed(swarm, "p", HaveNone(), Have(others[0]), Request(allowed[0], 0, BLOCK_SIZE))
    assert actions == [ReadBlock("p", Request(allowed[0], 0, BLOCK_SIZE))]  # still a newcomer
    actions = feed(swarm, "p", Have(others[1]), Have(others[2]), Request(allowed[1], 0, BLOCK_SIZE))
    assert sent(actions, "p") == [RejectRequest(allowed[1], 0, BLOCK_SIZE)]


@pytest.mark.parametrize("answer", ["block", "reject"])
@pytest.mark.parametrize("who", ["first", "second"])
def test_a_deadline_that_comes_earlier_is_the_timer(answer: str, who: str) -> None:
    """A block measures its sender's round trip, which can shorten the time-out of its
    other requests, and a reject begins a back-off: either can bring that peer's deadline
    before every other peer's, and the timer must move with it."""

    config = PipelineConfig(min_depth=8)  # the two seeds are asked for every block at once
    swarm, _ = make(pipeline=config)
    requests = {name: unchoked_seed(swarm, name) for name in ("first", "second")}
    assert swarm.get_timer() == config.timeout_initial
    if answer == "block":
        assert not sent(feed(swarm, who, block(requests[who][0]), now=1.0), who, Request)
        assert swarm.get_timer() == config.timeout_min  # its next request, sent at 0
    else:
        request = requests[who][0]
        feed(swarm, who, RejectRequest(request.index, request.begin, request.length), now=1.0)
        assert swarm.get_timer() == 1.0 + config.reject_backoff
