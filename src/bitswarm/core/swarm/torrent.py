"""The torrent state machine: one torrent's peers, requests, uploads and pieces (BEP 3, BEP 6).

Theory of operation
-------------------
:class:`TorrentSwarm` is sans-I/O, in the shape DESIGN.md gives every core
machine. The driver (aio/'s torrent runner, or the simulator) owns sockets,
disk and clock, and calls::

    swarm.peer_connected(key, handshake, now)    # after a good handshake
    swarm.message_received(key, message, now)    # every parsed message, keep-alives too
    swarm.messages_received(key, messages, now)  # or several of one peer at once
    swarm.peer_disconnected(key, now)
    swarm.block_read(key, request, data, now)    # answers ReadBlock
    swarm.piece_verified(piece, ok, now)         # answers VerifyPiece
    swarm.write_failed(piece, error, now)        # a WriteBlock failed: the torrent stops
    swarm.get_timer() / swarm.handle_timer(now)

and after every call drains :meth:`TorrentSwarm.actions` (see
:mod:`~bitswarm.core.swarm.actions`) and carries them out in order. The
swarm is the protocol authority: feed it the messages of a
:class:`~bitswarm.core.wire.connection.PeerConnection` (or of a plain
:class:`~bitswarm.core.wire.parser.MessageParser`), and it negotiates BEP 6
from the two handshakes (ours announces :data:`EXTENSIONS`), answers every
BEP 6 obligation (rejects on choke and cancel), checks every message against
what it sent and was sent, and keeps each peer's keep-alive and idle timers.

It orchestrates and delegates: the
:class:`~bitswarm.core.swarm.picker.PiecePicker` chooses blocks, a
:class:`~bitswarm.core.swarm.pipeline.RequestPipeline` per peer says how many
to ask for and when one is late, the :class:`~bitswarm.core.swarm.choker.Choker`
chooses whom to upload to, the :class:`~bitswarm.core.swarm.upload.Uploader`
serves requests, and :class:`~bitswarm.core.swarm.smart_ban.SmartBan` finds
who sent bad data.

A peer's life: on connect we send our piece summary (BEP 6 ``have all`` /
``have none`` when both sides are fast, else a bitfield), and, given its
address, its allowed-fast set, unless we are a seed: a seed serving every
newcomer's ten pieces spreads its upload over many half-sent pieces that nobody
can trade on, and its slots are the choker's to give (a seed withdraws the sets
it granted as a leecher). Its summary and ``have`` messages feed the
picker (a later summary replaces what it announced, as libtorrent takes
aria2's); we send ``interested`` while it has a piece we lack. While it
unchokes us (or for allowed-fast pieces) the pipeline keeps requests
outstanding; each block is checked against them (unrequested, misaligned or
wrong-length blocks are waste and an offence; ``max_strikes`` offences drop
the peer), written, and a piece whose blocks are all written is verified. A
passed piece is announced with ``have`` to every peer that lacks it, to every
seed and to the peers that sent blocks of it (see :meth:`_piece_passed`); a
failed one is downloaded again, and SmartBan's verdicts become :class:`Ban` actions. When
every wanted piece (priority above 0) has passed we emit :class:`Finished` and
stop being interested; as a seed (every piece passed) we also drop peers that
are seeds too. Protocol errors become a :class:`Disconnect` action, never an
exception to the driver.

Choking runs every ``choker.round_interval`` from :meth:`get_timer`. Between
rounds a free upload slot is filled at once (:meth:`Choker.fill`): a slot
frees when an unchoked peer leaves or stops being interested (as libtorrent
chokes a peer that is no longer interested), and a choked peer that turns
interested takes a free one. Nobody else moves and the next round stays due,
so a peer flapping its interest cannot set the pace of the rounds.

As a seed we also aim our uploads: each peer we unchoke (with BEP 6) is
suggested pieces none of our peers has, different for each peer
(:class:`~bitswarm.core.swarm.suggest.FirstCopies`, ``suggest_ahead``), the
next whenever we send the last block of one; a choke or a departure frees
its suggestions for others. Suggestions we receive are kept, the latest few,
and the picker takes them first.

Beyond the design note's interface: ``peer_connected`` takes the peer's
``address`` (for its BEP 6 allowed-fast set), a failed write ends in a
:class:`~bitswarm.core.swarm.actions.Stopped` action, :meth:`set_priorities`
and :meth:`set_sequential` change what is fetched, and in which order, at run
time, and :meth:`totals` and :meth:`peer_stats` give the tracker and the
session their byte counts and rates.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence, Set
from typing import Any

from bitswarm.core.swarm.actions import (
    Action,
    Ban,
    Disconnect,
    Finished,
    PieceDone,
    ReadBlock,
    Send,
    Stopped,
)
from bitswarm.core.swarm.bitfield import Bitfield, BitfieldError
from bitswarm.core.swarm.choker import ChokeDecision, Choker
from bitswarm.core.swarm.config import SwarmConfig
from bitswarm.core.swarm.deadlines import PeerDeadlines
from bitswarm.core.swarm.download import Downloader
from bitswarm.core.swarm.peer_state import PeerState, PeerStats
from bitswarm.core.swarm.pieces import PeerKey, PieceGeometry
from bitswarm.core.swarm.smart_ban import Verdict
from bitswarm.core.swarm.suggest import FirstCopies
from bitswarm.core.swarm.totals import TransferTotals, WantedPieces
from bitswarm.core.swarm.upload import Offence, Uploader
from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.fast import allowed_fast_set
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.messages import (
    AllowedFast,
    Cancel,
    Choke,
    Have,
    HaveAll,
    HaveBitfield,
    HaveNone,
    Interested,
    KeepAlive,
    Message,
    NotInterested,
    Piece,
    RejectRequest,
    Request,
    SuggestPiece,
    Unchoke,
)

EXTENSIONS = Extensions.FAST
"""What our handshake announces: BEP 6, which this state machine speaks (BEP 10 it does not)."""

MAX_SUGGESTED_IN = 8
"""Suggestions kept per peer, the latest: a seed that suggests keeps only a few open."""


class TorrentSwarm:
    def __init__(
        self,
        geometry: PieceGeometry,
        have: Bitfield,
        rng: random.Random,
        now: float,
        *,
        config: SwarmConfig | None = None,
        priorities: Sequence[int] | None = None,
    ) -> None:
        self.geometry = geometry
        self.config = config or SwarmConfig()
        self._have = have.copy()
        self._peers: dict[PeerKey, PeerState] = {}
        self._actions: list[Action] = []
        self._downloader = Downloader(
            geometry,
            have,
            rng,
            self._peers,
            self._send,
            self._actions.append,
            endgame_depth=geometry.blocks(self.config.endgame_depth),
        )
        self._picker = self._downloader.picker
        self._wanted = WantedPieces(geometry, self._picker)
        if priorities is not None:
            self._wanted.set(priorities)
        self._choker = Choker(rng, self.config.choker, piece_length=geometry.piece_length)
        self._uploader = Uploader(geometry, self._have, self.config.upload, self._send, self._read)
        self._first_copies = FirstCopies(
            geometry.piece_count, self._picker.availability, rng, self.config.suggest_ahead
        )
        self._banned: set[PeerKey] = set()
        self._finished = self._picker.is_finished()
        self._stopped = False
        self._now = now
        self._uploaded = 0
        self._deadlines = PeerDeadlines(self._deadline_of)
        self._unchoked: set[PeerKey] = set()
        """The peers we unchoke: a handful (the slots), so the busy slots are counted fast."""
        self._interested = 0
        """How many peers are interested in us."""

    # -- driver interface ------------------------------------------------------------

    def actions(self) -> list[Action]:
        """What to do now, in order; the list is handed over and emptied."""

        actions = self._actions[:]
        self._actions.clear()
        return actions

    def peer_connected(
        self, key: PeerKey, handshake: Handshake, now: float, *, address: str | None = None
    ) -> None:
        """A peer completed the handshake; ``address`` (its IP) enables BEP 6 allowed fast."""

        self._now = now
        if key in self._peers:
            raise ValueError(f"peer {key!r} is already connected")
        if self._stopped or key in self._banned:
            self._actions.append(Disconnect(key, "stopped" if self._stopped else "banned"))
            return
        fast = bool(EXTENSIONS & handshake.reserved & Extensions.FAST)
        pipeline, wire_blocks = self.config.pipeline, self.geometry.wire_blocks
        peer = self._peers[key] = PeerState(key, fast, now, pipeline, wire_blocks=wire_blocks)
        self._deadlines.touch(key)
        self._picker.peers.join(key)
        have = self._have
        if fast and have.all():
            self._send(peer, HaveAll())
        elif fast and have.none():
            self._send(peer, HaveNone())
        elif not have.none():
            self._send(peer, HaveBitfield(have.to_wire()))
        if fast and address is not None and self.config.allowed_fast_count and not have.all():
            count, info_hash = self.config.allowed_fast_count, handshake.info_hash
            for piece in allowed_fast_set(address, info_hash, self.geometry.piece_count, count):
                peer.allowed_fast_out.add(piece)
                self._send(peer, AllowedFast(piece))

    def message_received(self, key: PeerKey, message: Message, now: float) -> None:
        self.messages_received(key, (message,), now)

    def messages_received(self, key: PeerKey, messages: Sequence[Message], now: float) -> None:
        """The messages one read brought from a peer, in order, as if received one by one,
        except that the pipelines are topped up once, after the last (a fast peer's read
        holds a dozen blocks). Those after the peer is dropped are ignored."""

        self._now = now
        peer = self._peers.get(key)
        if peer is None or self._stopped:
            return  # messages that crossed our Disconnect
        peer.last_heard = now  # the idle time-out moves later: nothing to touch
        peers = self._peers
        for message in messages:
            try:
                self._dispatch(peer, message, now)
            except ProtocolError as error:
                self._drop(peer, str(error))
            except Offence as offence:
                peer.strikes += 1
                if peer.strikes >= self.config.max_strikes:
                    self._drop(peer, f"{offence} ({peer.strikes} offences)")
            if peers.get(key) is not peer or self._stopped:
                break
        self._flush(now)

    def peer_disconnected(self, key: PeerKey, now: float) -> None:
        self._now = now
        peer = self._peers.get(key)
        if peer is not None:
            self._forget(peer)
            self._flush(now)

    def block_read(self, key: PeerKey, request: Request, data: bytes, now: float) -> None:
        self._now = now
        peer = self._peers.get(key)
        if peer is not None and not self._stopped:
            sent = self._uploader.block_read(peer, request, data, now)
            self._uploaded += sent
            index = request.index
            if sent and request.begin + request.length == self.geometry.piece_size(index):
                self._suggest(peer, self._first_copies.sent_last_block(peer.key, index))

    def piece_verified(self, piece: int, ok: bool, now: float) -> None:
        self._now = now
        if self._stopped:
            return
        senders = self._downloader.senders(piece)
        self._judge(self._downloader.verified(piece, ok))
        if ok:
            self._piece_passed(piece, senders)
        self._flush(now)

    def write_failed(self, piece: int, error: str, now: float) -> None:
        """A block of ``piece`` could not be written: stop the torrent (disk full, gone...)."""

        self._now = now
        if not self._stopped:
            self._stopped = True
            self._actions.append(Stopped(f"writing piece {piece} failed: {error}"))
            self._peers.clear()
            self._unchoked.clear()
            self._interested = 0

    def set_priorities(self, priorities: Sequence[int], now: float) -> None:
        """Piece priorities from now on (0 skips a piece): interest and requests follow, and
        :class:`Finished` comes once the wanted pieces are verified (again)."""

        self._now = now
        self._wanted.set(priorities)
        self._check_finished()
        for peer in list(self._peers.values()):
            self._pieces_changed(peer)
        self._flush(now)

    def set_sequential(self, sequential: bool) -> None:
        """Fetch pieces in order (to play while downloading), or rarest first again."""

        self._picker.sequential = sequential

    def get_timer(self) -> float | None:
        if self._stopped:
            return None
        times = [t for t in (self._choker.get_timer(), self._deadlines.earliest()) if t is not None]
        return min(times, default=None)

    def _deadline_of(self, key: PeerKey) -> float | None:
        """The peer's next keep-alive, idle time-out or request time-out (None once gone)."""

        peer = self._peers.get(key)
        if peer is None:
            return None
        config = self.config
        keepalive = peer.last_sent + config.keepalive_interval
        idle = peer.last_heard + config.idle_timeout
        deadline = peer.pipeline.deadline()
        return min(keepalive, idle) if deadline is None else min(keepalive, idle, deadline)

    def handle_timer(self, now: float) -> None:
        self._now = now
        if self._stopped:
            return
        config = self.config
        for peer in list(self._peers.values()):
            if now >= peer.last_heard + config.idle_timeout:
                self._drop(peer, f"nothing heard for {config.idle_timeout:g} s")
                continue
            self._downloader.expire(peer, now)
            if now >= peer.last_sent + config.keepalive_interval:
                self._send(peer, KeepAlive())
        choke = self._choker.get_timer()
        if choke is not None and now >= choke:
            self._rechoke(now)
        self._flush(now)

    # -- state for the session -------------------------------------------------------

    @property
    def have(self) -> Bitfield:
        return self._have.copy()

    def is_finished(self) -> bool:
        return self._finished

    @property
    def peer_keys(self) -> list[PeerKey]:
        return list(self._peers)

    def peer_stats(self, now: float) -> list[PeerStats]:
        seeds = self._picker.peers
        return [p.stats(now, is_seed=seeds.is_seed(p.key)) for p in self._peers.values()]

    def totals(self) -> TransferTotals:
        downloader = self._downloader
        return self._wanted.totals(
            self._have, downloader.downloaded, self._uploaded, downloader.wasted
        )

    # -- messages ----------------------------------------------------------------------

    def _dispatch(self, peer: PeerState, message: Message, now: float) -> None:
        peer.check_negotiated(message)
        handler = _HANDLERS.get(type(message))
        if handler is not None:
            handler(self, peer, message, now)

    def _check_piece(self, index: int, what: str) -> None:
        if not 0 <= index < self.geometry.piece_count:
            raise ProtocolError(
                f"{what} names piece {index}, but the torrent has {self.geometry.piece_count}"
            )

    def _on_choke(self, peer: PeerState, message: Choke, now: float) -> None:
        peer.peer_choking = True
        self._downloader.choked(peer)

    def _on_unchoke(self, peer: PeerState, message: Unchoke, now: float) -> None:
        peer.peer_choking = False
        self._downloader.wake(peer)

    def _on_interest(
        self, peer: PeerState, message: Interested | NotInterested, now: float
    ) -> None:
        was_interested = peer.peer_interested
        peer.peer_interested = isinstance(message, Interested)
        self._interested += peer.peer_interested - was_interested
        if peer.peer_interested and peer.am_choking:
            self._fill_slots(now)  # it may take a free slot
        elif was_interested and not peer.peer_interested and not peer.am_choking:
            self._fill_slots(now)  # its slot is free for a peer that waits

    def _on_have(self, peer: PeerState, message: Have, now: float) -> None:
        self._check_piece(message.index, "have")
        peer.piece_count += self._picker.peers.have(peer.key, message.index)
        self._suggest(peer, self._first_copies.announced(peer.key, message.index))
        self._pieces_changed(peer, message.index)

    def _on_bitfield(self, peer: PeerState, message: HaveBitfield, now: float) -> None:
        try:
            field = Bitfield.from_wire(message.bits, self.geometry.piece_count)
        except BitfieldError as error:
            raise ProtocolError(f"bitfield: {error}") from None
        self._replace_pieces(peer, field)

    def _on_have_all(self, peer: PeerState, message: HaveAll, now: float) -> None:
        self._picker.peers.have_all(peer.key)
        peer.piece_count = self.geometry.piece_count
        self._pieces_changed(peer)

    def _on_have_none(self, peer: PeerState, message: HaveNone, now: float) -> None:
        if peer.piece_count:
            self._replace_pieces(peer, None)

    def _replace_pieces(self, peer: PeerState, field: Bitfield | None) -> None:
        """A piece summary states all the peer has, whenever it comes: first (BEP 3, 6), or
        later in place of many ``have`` messages, as aria2 sends one (libtorrent's
        ``incoming_bitfield`` counts the old set down and the new one up the same way)."""

        self._picker.peers.leave(peer.key)
        self._picker.peers.join(peer.key, field)
        peer.piece_count = 0 if field is None else field.count()
        for piece in self._first_copies.open_with(peer.key):
            if field is not None and field[piece]:
                self._suggest(peer, self._first_copies.announced(peer.key, piece))
        self._pieces_changed(peer)

    def _on_allowed_fast(self, peer: PeerState, message: AllowedFast, now: float) -> None:
        self._check_piece(message.index, "allowed fast")
        peer.allowed_fast_in.add(message.index)
        self._downloader.wake(peer)

    def _on_suggest(self, peer: PeerState, message: SuggestPiece, now: float) -> None:
        """Kept, the latest few, for the picker to take first while we lack them."""

        piece = message.index
        self._check_piece(piece, "suggest piece")
        if self._have[piece] or piece in peer.suggested_in:
            return
        kept = [p for p in peer.suggested_in if not self._have[p]][1 - MAX_SUGGESTED_IN :]
        peer.suggested_in = [*kept, piece]
        self._downloader.wake(peer)

    def _on_request(self, peer: PeerState, message: Request, now: float) -> None:
        self._uploader.request(peer, message)

    def _on_cancel(self, peer: PeerState, message: Cancel, now: float) -> None:
        self._uploader.cancel(peer, message)

    def _on_reject(self, peer: PeerState, message: RejectRequest, now: float) -> None:
        self._downloader.rejected(peer, message, now)
        self._deadlines.touch(peer.key)  # a back-off may begin

    def _on_piece(self, peer: PeerState, message: Piece, now: float) -> None:
        self._downloader.block(peer, message, now)
        self._deadlines.touch(peer.key)  # a shorter round trip shortens the time-out

    # -- pieces, interest, choking ----------------------------------------------------

    def _piece_passed(self, piece: int, senders: Set[PeerKey]) -> None:
        """Announce the piece (one message object for all: a value) and see what one more
        piece changes. Short of the last piece that is only interest, and only where it
        can end: with a peer that has this piece (libtorrent asks those alone). Nobody is
        woken: no request became possible.

        A peer that has the piece is not told, as libtorrent with ``send_redundant_have``
        off: in a flash crowd that is half of all ``have`` messages, the commonest
        message of a swarm, and the peer's picking and interest never look at a piece
        it has. Two kinds of peer do look, and are told: a seed, which learns the
        swarm's spread from them (its first-copy suggestions), and the peers that sent
        us blocks of the piece, for whom the ``have`` is a receipt (a super-seed counts
        on it: to the peer it offered the piece to, it seems to have the piece)."""

        self._have.set(piece)
        self._actions.append(PieceDone(piece))
        self._check_finished()
        announcement, seed = Have(piece), self._have.all()
        has, is_seed = self._picker.peers.has, self._picker.peers.is_seed
        for peer in list(self._peers.values()):
            key = peer.key
            if not has(key, piece) or key in senders or is_seed(key):
                self._send(peer, announcement)
            if seed:
                self._pieces_changed(peer)
            elif peer.am_interested and has(peer.key, piece):
                self._update_interest(peer, self._picker.is_interesting(peer.key))

    def _check_finished(self) -> None:
        finished = self._picker.is_finished()
        if finished and not self._finished:
            self._actions.append(Finished())
        self._finished = finished

    def _pieces_changed(self, peer: PeerState, new: int | None = None) -> None:
        """What the peer has, or what we have, changed: interest, seeds meeting seeds, and
        the allowed-fast set, withdrawn once the peer has pieces to trade (BEP 6: "rejects
        requests for Allowed Fast messages whenever the requesting peer has more than k
        pieces"), so the choker alone decides again; a seed withdraws every set.

        ``new`` is the one piece the peer announced, when that is all that changed:
        interest can then only begin, with a piece we want, and is not worked out anew
        from every piece (a ``have`` is the commonest message of a swarm)."""

        seed = self._have.all()
        if seed and self._picker.peers.is_seed(peer.key):
            self._drop(peer, "both sides are seeds")
            return
        if seed or peer.piece_count > self.config.allowed_fast_count:
            peer.allowed_fast_out.clear()
        if new is None:
            interested = self._picker.is_interesting(peer.key)
        else:
            interested = peer.am_interested or self._picker.wants(new)
        self._update_interest(peer, interested)
        if interested:
            self._downloader.wake(peer)

    def _update_interest(self, peer: PeerState, interested: bool) -> None:
        if interested != peer.am_interested:
            peer.am_interested = interested
            self._send(peer, Interested() if interested else NotInterested())

    def _rechoke(self, now: float) -> None:
        """One choking round: the choker decides, this applies (choke first, then rejects)."""

        snapshots = [peer.snapshot(now) for peer in self._peers.values()]
        self._apply(self._choker.rechoke(now, snapshots, seeding=self._finished))

    def _fill_slots(self, now: float) -> None:
        """Between rounds: free upload slots go to waiting peers; the round stays due.

        Only when a slot is free and a peer waits for one are the peers snapshot for
        :meth:`Choker.fill`: interest changes far more often than slots do, and finding
        that out looks at the unchoked peers alone."""

        peers = self._peers
        busy = sum(peers[key].peer_interested for key in self._unchoked)
        waiting = self._interested - busy
        if not waiting or busy >= self.config.choker.upload_slots:
            return
        snapshots = [
            peer.snapshot(now)
            for peer in self._peers.values()
            if peer.peer_interested or not peer.am_choking  # the rest cannot move
        ]
        self._apply(self._choker.fill(now, snapshots, seeding=self._finished))

    def _apply(self, decision: ChokeDecision) -> None:
        for key in decision.choke:
            peer = self._peers[key]
            peer.am_choking = True
            self._unchoked.discard(key)
            self._send(peer, Choke())
            self._uploader.choked(peer)
            self._first_copies.closed(key)
        for key in decision.unchoke:
            peer = self._peers[key]
            peer.am_choking = False
            self._unchoked.add(key)
            self._send(peer, Unchoke())
            if peer.fast and self._have.all():
                self._suggest(peer, self._first_copies.unchoked(key))

    def _suggest(self, peer: PeerState, pieces: list[int]) -> None:
        for piece in pieces:
            self._send(peer, SuggestPiece(piece))

    def _flush(self, now: float) -> None:
        if not self._stopped:
            self._downloader.flush(now)

    # -- peers leaving -------------------------------------------------------------------

    def _judge(self, verdicts: list[Verdict]) -> None:
        for verdict in verdicts:
            if verdict.peer in self._banned:
                continue
            self._banned.add(verdict.peer)
            self._actions.append(Ban(verdict.peer, verdict.reason))
            peer = self._peers.get(verdict.peer)
            if peer is not None:
                self._forget(peer)

    def _drop(self, peer: PeerState, reason: str) -> None:
        if peer.key in self._peers:
            self._actions.append(Disconnect(peer.key, reason))
            self._forget(peer)

    def _forget(self, peer: PeerState) -> None:
        del self._peers[peer.key]
        self._unchoked.discard(peer.key)
        self._interested -= peer.peer_interested
        self._first_copies.closed(peer.key)
        self._downloader.peer_left(peer)
        if not peer.am_choking and peer.peer_interested:
            self._fill_slots(self._now)

    def _send(self, peer: PeerState, message: Message) -> None:
        peer.last_sent = self._now  # the keep-alive moves later: nothing to touch
        if type(message) is Request:  # a request time-out may now come first
            self._deadlines.touch(peer.key)
        self._actions.append(Send(peer.key, message))

    def _read(self, peer: PeerState, request: Request) -> None:
        self._actions.append(ReadBlock(peer.key, request))


_Handler = Callable[[TorrentSwarm, PeerState, Any, float], None]

_HANDLERS: dict[type, _Handler] = {
    Choke: TorrentSwarm._on_choke,
    Unchoke: TorrentSwarm._on_unchoke,
    Interested: TorrentSwarm._on_interest,
    NotInterested: TorrentSwarm._on_interest,
    Have: TorrentSwarm._on_have,
    HaveBitfield: TorrentSwarm._on_bitfield,
    HaveAll: TorrentSwarm._on_have_all,
    HaveNone: TorrentSwarm._on_have_none,
    AllowedFast: TorrentSwarm._on_allowed_fast,
    SuggestPiece: TorrentSwarm._on_suggest,
    Request: TorrentSwarm._on_request,
    Cancel: TorrentSwarm._on_cancel,
    RejectRequest: TorrentSwarm._on_reject,
    Piece: TorrentSwarm._on_piece,
}
"""One handler a message type; keep-alive, port, extended and unknown messages need none."""
