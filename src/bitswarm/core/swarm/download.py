"""Downloading: requests through each peer's pipeline, blocks checked and written (BEP 3, BEP 6).

Theory of operation
-------------------
:class:`Downloader` is the torrent's receiving half. It owns the
:class:`~bitswarm.core.swarm.picker.PiecePicker` and the
:class:`~bitswarm.core.swarm.smart_ban.SmartBan` evidence, and works on the
torrent's :class:`~bitswarm.core.swarm.peer_state.PeerState` records.

Requests: peers whose situation changed (unchoked us, announced a piece, sent
a block) are marked with :meth:`Downloader.wake`; when blocks go back to the
pool (a reject, a plain choke, a time-out, a departure, a failed piece) every
peer is. :meth:`Downloader.flush`, run by the torrent after each event, tops
up the marked peers' pipelines from the picker: up to the pipeline's room,
only allowed-fast pieces while the peer chokes us, and in endgame (every
missing block already asked for) at most ``endgame_depth`` duplicates a peer,
so the last blocks are not fetched five times over. Snubbed peers are served
last, so freed blocks go to peers that answer.

Blocks: a ``piece`` message must name a real block (else it is waste and an
:class:`~bitswarm.core.swarm.upload.Offence`) that we asked this peer for, or
asked and then cancelled (a crossing answer). Data the picker still wants
becomes a :class:`~bitswarm.core.swarm.actions.WriteBlock`, and the other
peers asked for the same block in endgame get a ``cancel``; a piece whose
blocks are all written becomes a :class:`~bitswarm.core.swarm.actions.VerifyPiece`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from bitswarm.core.swarm.actions import Action, VerifyPiece, WriteBlock
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.core.swarm.peer_state import PeerState
from bitswarm.core.swarm.picker import PiecePicker
from bitswarm.core.swarm.pieces import BlockRef, PeerKey, PieceGeometry
from bitswarm.core.swarm.pipeline import Answer
from bitswarm.core.swarm.smart_ban import SmartBan, Verdict
from bitswarm.core.swarm.upload import Offence
from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.messages import Cancel, Message, Piece, RejectRequest, Request


class Downloader:
    """The picker, the pipelines' refills, and what arriving blocks become."""

    def __init__(
        self,
        geometry: PieceGeometry,
        have: Bitfield,
        rng: random.Random,
        peers: Mapping[PeerKey, PeerState],
        send: Callable[[PeerState, Message], None],
        emit: Callable[[Action], None],
        *,
        endgame_depth: int,
    ) -> None:
        self.geometry = geometry
        self.picker = PiecePicker(geometry, rng, have=have)
        self._smart_ban = SmartBan(rng)
        self._peers = peers
        """The torrent's peers (shared, not copied)."""
        self._send = send
        self._emit = emit
        self._endgame_depth = endgame_depth
        self._verifying: set[int] = set()
        self._wake: set[PeerKey] = set()
        self._wake_all = False
        self.downloaded = 0
        """Payload bytes received, wasted ones included."""
        self.wasted = 0
        """Payload bytes received and not used: duplicates, unrequested or misshapen blocks."""

    # -- what changed -------------------------------------------------------------------

    def wake(self, peer: PeerState) -> None:
        """``peer`` may take more requests: top it up at the next :meth:`flush`."""

        self._wake.add(peer.key)

    def _release(self, peer: PeerState, blocks: list[BlockRef]) -> None:
        """``peer`` will not send ``blocks``: they go back to the pool."""

        for block in blocks:
            self.picker.request_failed(peer.key, block)
        if blocks:
            self._wake_all = True

    def choked(self, peer: PeerState) -> None:
        """The peer choked us; without BEP 6 that voids every request (with it, rejects come)."""

        if not peer.fast:
            self._release(peer, peer.pipeline.drop_all())

    def expire(self, peer: PeerState, now: float) -> None:
        """Time-outs: cancel the late requests and let other peers have them. The peer is
        woken too: its reject back-off may have ended."""

        late = peer.pipeline.expire(now)
        for block in late:
            self._send(peer, Cancel(*block))
        self._release(peer, late)
        self.wake(peer)

    def peer_left(self, peer: PeerState) -> None:
        if len(peer.pipeline):
            self._wake_all = True
        self.picker.peer_left(peer.key)

    # -- answers ----------------------------------------------------------------------

    def rejected(self, peer: PeerState, message: RejectRequest, now: float) -> None:
        block = BlockRef(message.index, message.begin, message.length)
        answer = peer.pipeline.rejected(block, now, choked=peer.peer_choking)
        if answer is Answer.UNREQUESTED:
            raise ProtocolError(f"reject for {_describe(block)}, which was never requested")
        if answer is Answer.EXPECTED:
            self.picker.request_failed(peer.key, block)
            self._wake_all = True
        if peer.peer_choking:  # BEP 6 allows refusing allowed-fast pieces: stop asking
            peer.allowed_fast_in.discard(block.piece)

    def block(self, peer: PeerState, message: Piece, now: float) -> None:
        size = len(message.block)
        if not 0 <= message.index < self.geometry.piece_count:
            raise ProtocolError(
                f"piece names piece {message.index}, but the torrent has "
                f"{self.geometry.piece_count}"
            )
        self.downloaded += size
        block = BlockRef(message.index, message.begin, size)
        try:
            index = self.geometry.block_index(block)
        except ValueError as error:
            self.waste(peer, size)
            raise Offence(f"block {_describe(block)} is not a block: {error}") from None
        if peer.pipeline.answered(block, now) is Answer.UNREQUESTED:
            self.waste(peer, size)
            raise Offence(f"block {_describe(block)} was never requested")
        peer.down.add(size, now)  # only what we asked for earns tit-for-tat credit
        arrival = self.picker.block_received(peer.key, block, index)
        for cancellation in arrival.cancel:
            other = self._peers.get(cancellation.peer)
            if other is not None and other.pipeline.cancel(block):
                self._send(other, Cancel(*block))
        self.wake(peer)
        if not arrival.wanted:
            self.waste(peer, size)
            return
        self._smart_ban.block_received(block.piece, index, peer.key, message.block)
        self._emit(WriteBlock(block.piece, block.begin, message.block))
        if self.picker.block_finished(block, index):
            self._verifying.add(block.piece)
            self._emit(VerifyPiece(block.piece))

    def waste(self, peer: PeerState, size: int) -> None:
        peer.wasted += size
        self.wasted += size

    def senders(self, piece: int) -> set[PeerKey]:
        """The peers that sent the blocks of ``piece`` now written (until it is verified)."""

        return self._smart_ban.senders(piece)

    def verified(self, piece: int, ok: bool) -> list[Verdict]:
        """The driver hashed ``piece``: keep it or download it again; who to ban."""

        if piece not in self._verifying:
            raise ValueError(f"piece {piece} was not sent for verification")
        self._verifying.discard(piece)
        if ok:
            self.picker.piece_passed(piece)
            return self._smart_ban.piece_passed(piece)
        self.picker.piece_failed(piece)
        self._wake_all = True
        return self._smart_ban.piece_failed(piece)

    # -- requests -------------------------------------------------------------------------

    def flush(self, now: float) -> None:
        """Top up the pipelines of the peers woken since the last flush."""

        peers, wake = self._peers, self._wake
        if self._wake_all:
            keys = list(peers)
        elif not wake:  # a have we do not need, a choke: nobody's pipeline changed
            return
        elif len(wake) == 1:  # most events: one peer's news, nothing to sort
            peer = peers.get(wake.pop())
            if peer is not None:
                self._request_more(peer, now)
            return
        else:
            keys = [key for key in wake if key in peers]
        wake.clear()
        self._wake_all = False
        woken = [peers[key] for key in keys]
        if len(woken) > 1:
            woken.sort(key=lambda p: p.pipeline.snubbed)
        for peer in woken:
            self._request_more(peer, now)

    def _request_more(self, peer: PeerState, now: float) -> None:
        if not peer.am_interested:
            return
        only = peer.allowed_fast_in if peer.peer_choking else None
        if only is not None and not only:
            return
        room = peer.pipeline.room(peer.down.rate(now), now)
        if room > 0 and self.picker.in_endgame:  # duplicates only to idle peers, a few at a time
            room = min(room, self._endgame_depth - len(peer.pipeline))
        if room <= 0:
            return
        sent = peer.pipeline.sent
        for block in self.picker.pick(peer.key, room, only=only, first=peer.suggested_in):
            sent(block, now)
            self._send(peer, Request(*block))


def _describe(block: BlockRef) -> str:
    return f"piece {block.piece} offset {block.begin} ({block.length} bytes)"
