"""Hypothesis: whatever a peer sends, TorrentSwarm answers with actions, never an exception.

A hostile peer's messages (any type, any field values a wire parser can
produce) are interleaved with honest driver answers (reads, verifications,
timers). The swarm must never raise; a peer it gives up on is dropped with a
Disconnect (or a Ban), and after that its messages change nothing. Its timer
stays the earliest deadline of all, however the messages move them.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.swarm.actions import (
    Ban,
    Disconnect,
    Finished,
    PieceDone,
    ReadBlock,
    Send,
    VerifyPiece,
    WriteBlock,
)
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.pieces import BLOCK_SIZE, PieceGeometry
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
    UnknownMessage,
)

ACTIONS = (Send, Disconnect, Ban, WriteBlock, ReadBlock, VerifyPiece, PieceDone, Finished)
PIECES = 6
GEOMETRY = PieceGeometry(2 * BLOCK_SIZE, 5 * 2 * BLOCK_SIZE + 1000)
U32 = st.integers(0, 2**32 - 1)
INDEX = st.one_of(st.integers(0, PIECES + 1), U32)
BEGIN = st.one_of(st.sampled_from([0, BLOCK_SIZE, 1000, BLOCK_SIZE - 1]), U32)
LENGTH = st.one_of(st.sampled_from([BLOCK_SIZE, 1000, 1, 0]), U32)

messages: st.SearchStrategy[Message] = st.one_of(
    st.sampled_from(
        [KeepAlive(), Choke(), Unchoke(), Interested(), NotInterested(), HaveAll(), HaveNone()]
    ),
    st.builds(Have, INDEX),
    st.builds(SuggestPiece, INDEX),
    st.builds(AllowedFast, INDEX),
    st.builds(HaveBitfield, st.binary(max_size=3)),
    st.builds(Request, INDEX, BEGIN, LENGTH),
    st.builds(Cancel, INDEX, BEGIN, LENGTH),
    st.builds(RejectRequest, INDEX, BEGIN, LENGTH),
    st.builds(Piece, INDEX, BEGIN, st.sampled_from([b"x" * BLOCK_SIZE, b"y" * 1000, b"z"])),
    st.builds(Port, st.integers(0, 65535)),
    st.builds(Extended, st.integers(0, 255), st.binary(max_size=8)),
    st.builds(UnknownMessage, st.integers(21, 255), st.binary(max_size=8)),
)

steps = st.lists(
    st.one_of(
        messages,
        st.tuples(st.just("tick"), st.floats(0, 100)),
        st.tuples(st.just("verify"), st.booleans()),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    have=st.integers(0, 2**PIECES - 1),
    fast=st.booleans(),
    script=steps,
    seed=st.integers(0, 2**16),
)
def test_hostile_peer_never_raises(have: int, fast: bool, script: list[object], seed: int) -> None:
    field = Bitfield.from_indices(PIECES, (p for p in range(PIECES) if have >> p & 1))
    swarm = TorrentSwarm(GEOMETRY, field, random.Random(seed), 0.0)
    reserved = Extensions.FAST if fast else Extensions.NONE
    now = 0.0
    swarm.peer_connected("evil", Handshake(bytes(20), b"e" * 20, reserved), now, address="::1")
    swarm.peer_connected("good", Handshake(bytes(20), b"g" * 20, Extensions.FAST), now)
    swarm.message_received("good", HaveAll(), now)
    swarm.message_received("good", Unchoke(), now)
    pending_verify: list[int] = []
    gone = False

    def drain() -> None:
        nonlocal gone
        for action in swarm.actions():
            assert isinstance(action, ACTIONS)
            if isinstance(action, Disconnect | Ban) and action.peer == "evil":
                gone = True
            if isinstance(action, ReadBlock):
                data = b"d" * action.request.length
                swarm.block_read(action.peer, action.request, data, now)
            if isinstance(action, VerifyPiece):
                pending_verify.append(action.piece)

    def scanned_timer() -> float | None:
        """The timer by brute force, for the index get_timer keeps: every deadline read."""

        times = [swarm._deadline_of(key) for key in swarm.peer_keys]
        times.append(swarm._choker.get_timer())
        return min((t for t in times if t is not None), default=None)

    for step in script:
        drain()
        assert swarm.get_timer() == scanned_timer()
        if isinstance(step, tuple) and step[0] == "tick":
            now += float(step[1])
            swarm.handle_timer(now)
            timer = swarm.get_timer()
            assert timer is None or timer > now  # no busy loop for the driver
        elif isinstance(step, tuple) and step[0] == "verify":
            if pending_verify:
                swarm.piece_verified(pending_verify.pop(0), bool(step[1]), now)
        else:
            assert not isinstance(step, tuple)
            swarm.message_received("evil", step, now)  # type: ignore[arg-type]
    drain()
    assert gone == ("evil" not in swarm.peer_keys)
