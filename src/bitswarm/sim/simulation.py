"""The simulation driver: real :class:`TorrentSwarm` cores on virtual links, disk and tracker.

Theory of operation
-------------------
Each peer of a :class:`~bitswarm.sim.scenarios.Scenario` is a
:class:`SimPeer`: the stock core (:class:`~bitswarm.core.swarm.torrent.TorrentSwarm`
with the default :class:`~bitswarm.core.swarm.config.SwarmConfig`), an
:class:`~bitswarm.sim.links.Endpoint` and a virtual disk. The driver does for
the core exactly what aio/'s torrent runner does with sockets: it calls the
event methods, drains :meth:`TorrentSwarm.actions` after every call, and keeps
a wake-up event at the core's :meth:`TorrentSwarm.get_timer` (see :data:`TIMER_POLL`).

On arrival a peer announces to the :class:`~bitswarm.sim.tracker.VirtualTracker`
and opens a connection to each peer it learns (one round trip later, within
``max_connections`` on both sides); it announces again every
``ANNOUNCE_INTERVAL`` while it has fewer than half ``numwant`` connections.

Messages go through a :class:`~bitswarm.sim.transport.Transport`, on one of
two paths with one timing (a test proves they give the same swarm):

* exact (``Scenario.exact``): every ``Send`` is encoded, carried as bytes and
  cut into messages again by the receiver's own
  :class:`~bitswarm.core.wire.parser.MessageParser`; the disk keeps bytes and
  checks SHA-1 (:class:`~bitswarm.sim.disk.ExactDisk`);
* fast: the message object itself is carried, its size computed by
  :func:`~bitswarm.sim.links.wire_size`, and the disk only counts bytes
  (:class:`~bitswarm.sim.disk.CountingDisk`). Only this path may trade in
  blocks coarser than 16 KiB (``Scenario.block_size``), each a train of 16 KiB
  blocks charged at their wire size: the same bytes on the links in far fewer
  events, and a swarm outcome within the tolerance tests/sim/test_sim_coarse.py
  states (the cores' settings count 16 KiB blocks; see core/swarm/pieces.py).

Policies outside the core live in the driver, as they would in a client
(the transport applies them): a free rider never lets an ``unchoke`` or
``allowed fast`` leave, so nobody asks it for data; a super-seeding origin
passes its summary and ``have`` messages through
:class:`~bitswarm.core.swarm.super_seed.SuperSeeder`.

Everything is deterministic: one :class:`~bitswarm.sim.engine.EventLoop`, and
every generator derived from the scenario's seed in peer order.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from typing import cast

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
from bitswarm.core.swarm.super_seed import SuperSeeder
from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.parser import MessageParser
from bitswarm.sim.disk import CountingDisk, DiskFull, ExactDisk, VirtualDisk
from bitswarm.sim.engine import EventLoop
from bitswarm.sim.links import Endpoint
from bitswarm.sim.peer import SimPeer, address, peer_id
from bitswarm.sim.scenarios import PeerSpec, Scenario
from bitswarm.sim.stats import SwarmStats
from bitswarm.sim.tracker import VirtualTracker
from bitswarm.sim.transport import Transport

INFO_HASH = hashlib.sha1(b"bitswarm simulated torrent").digest()
ANNOUNCE_INTERVAL = 60.0
"""Seconds between announces of a peer short of connections."""
TIMER_POLL = 1.0
"""Longest wait between two looks at a core's :meth:`TorrentSwarm.get_timer`.

Asking after every call costs a scan of every connection; instead a peer
always has one wake-up scheduled, at its timer or at most this far ahead.
A deadline is then met exactly when it lies at least this far beyond the
call that set it, which holds for every timer of the core (request time-outs
of 10 s and more, choke rounds of 10 s, keep-alives of 120 s)."""


class Simulation:
    def __init__(self, scenario: Scenario, *, sample_interval: float | None = None) -> None:
        self.scenario = scenario
        self.geometry = scenario.geometry()
        self.loop = EventLoop()
        self.rng = random.Random(scenario.seed)
        self.tracker = VirtualTracker(random.Random(self.rng.getrandbits(64)), scenario.numwant)
        self.content = self.hashes = None
        content_rng = random.Random(self.rng.getrandbits(64))  # drawn on both paths alike
        if scenario.exact:
            content = content_rng.randbytes(scenario.size)
            length = scenario.piece_length
            self.content = content
            self.hashes = [
                hashlib.sha1(content[p * length : (p + 1) * length]).digest()
                for p in range(self.geometry.piece_count)
            ]
        self.peers = [self._make_peer(i, spec) for i, spec in enumerate(scenario.peers)]
        self._connection_ids = 0
        self._unfinished = len(scenario.downloaders)
        interval = sample_interval or scenario.t_min() / 100
        self.stats = SwarmStats(self.geometry.piece_count, interval)
        self._transport = Transport(
            self.loop,
            self.peers,
            self.stats,
            exact=scenario.exact,
            after=self._after,
            close=self._close,
        )
        for peer in self.peers:
            self.loop.at(peer.spec.arrival, self._arrive, peer)
        self.loop.at(0.0, self._sample, None)

    def _make_peer(self, index: int, spec: PeerSpec) -> SimPeer:
        disk: VirtualDisk
        if self.hashes is not None:
            content = self.content if spec.origin else None
            disk = ExactDisk(self.geometry, self.hashes, content, capacity=spec.disk_capacity)
        else:
            disk = CountingDisk(self.geometry, complete=spec.origin, capacity=spec.disk_capacity)
        return SimPeer(
            index,
            spec,
            Endpoint(spec.upload, spec.download, spec.latency),
            disk,
            Handshake(INFO_HASH, peer_id(index), Extensions.FAST),
            address(index),
            random.Random(self.rng.getrandbits(64)),
        )

    # -- running ---------------------------------------------------------------------

    def run(self, until: float = math.inf, *, stop: Callable[[], bool] | None = None) -> bool:
        """Run until every downloader has finished (True) or the clock reaches ``until``
        or the scenario's time limit (False); a later call carries on from there.

        ``stop`` is asked whenever the clock moves and ends the run early (False) when
        it says so: a caller's wall-clock budget, which stays outside the simulation."""

        limit = min(until, self.scenario.time_limit)
        if stop is None:
            self.loop.run(lambda: self._unfinished == 0, until=limit)
        else:
            self.loop.run(lambda: self._unfinished == 0 or stop(), until=limit)
        self.stats.sample(self.loop.now)
        return self._unfinished == 0

    @property
    def unfinished(self) -> int:
        """Downloaders that have neither finished nor stopped."""

        return self._unfinished

    def delivered(self) -> float:
        """The fraction of the downloaders' payload delivered so far."""

        wanted = len(self.scenario.downloaders) * self.scenario.size
        return sum(peer.payload_down for peer in self.peers if not peer.spec.origin) / wanted

    def settle(self, seconds: float) -> None:
        """Let ``seconds`` more of virtual time pass (messages in flight arrive)."""

        self.loop.run(lambda: False, until=self.loop.now + seconds)

    @property
    def now(self) -> float:
        return self.loop.now

    # -- peers arriving and leaving ----------------------------------------------------

    def _arrive(self, peer: SimPeer) -> None:
        now = self.loop.now
        have = Bitfield(self.geometry.piece_count)
        if peer.spec.origin:
            have = Bitfield.full(self.geometry.piece_count)
            if peer.spec.super_seed:
                peer.super_seeder = SuperSeeder(self.geometry.piece_count)
        peer.swarm = TorrentSwarm(self.geometry, have, peer.rng, now, config=peer.spec.config)
        peer.arrived_at = now
        self.stats.arrived(peer.spec, have)
        self._announce(peer)

    def _announce(self, peer: SimPeer) -> None:
        if peer.swarm is None:
            return
        now = self.loop.now
        for other in self.tracker.announce(peer.index):
            remote = self.peers[other]
            if other not in peer.connections:
                rtt = 2 * (peer.spec.latency + remote.spec.latency)
                self.loop.at(now + rtt, self._open, (peer, remote))
        if not (peer.spec.leave_on_complete and peer.finished_at is not None):
            self.loop.at(now + ANNOUNCE_INTERVAL, self._reannounce, peer)

    def _reannounce(self, peer: SimPeer) -> None:
        if peer.swarm is not None and len(peer.connections) < self.scenario.numwant // 2:
            self._announce(peer)
        elif peer.swarm is not None:
            self.loop.at(self.loop.now + ANNOUNCE_INTERVAL, self._reannounce, peer)

    def _open(self, pair: tuple[SimPeer, SimPeer]) -> None:
        a, b = pair
        limit = self.scenario.max_connections
        if a.swarm is None or b.swarm is None or b.index in a.connections:
            return
        if len(a.connections) >= limit or len(b.connections) >= limit:
            return
        self._connection_ids += 1
        a.connections[b.index] = b.connections[a.index] = self._connection_ids
        if self.scenario.exact:
            a.parsers[b.index] = MessageParser(self.geometry.piece_count)
            b.parsers[a.index] = MessageParser(self.geometry.piece_count)
        now = self.loop.now
        for local, remote in ((a, b), (b, a)):
            if local.swarm is not None:  # a connect may stop a peer (it cannot, today)
                local.swarm.peer_connected(
                    remote.index, remote.handshake, now, address=remote.address
                )
                if local.super_seeder is not None:
                    local.super_seeder.peer_connected(remote.index)
                self._after(local)

    def _leave(self, peer: SimPeer) -> None:
        if peer.swarm is None:
            return
        for remote in list(peer.connections):
            self._close(peer, remote, "left the swarm")
        self.tracker.leave(peer.index)
        self.stats.left(peer.spec, peer.swarm.have)
        peer.swarm = None
        peer.left_at = self.loop.now

    def _close(self, peer: SimPeer, remote_index: int, reason: str) -> None:
        """Close our side now; the remote learns one latency later."""

        if peer.connections.pop(remote_index, None) is None:
            return
        peer.parsers.pop(remote_index, None)
        peer.disconnects.append((remote_index, reason))
        if peer.super_seeder is not None:
            peer.super_seeder.peer_disconnected(remote_index)
        remote = self.peers[remote_index]
        remote.connections.pop(peer.index, None)
        remote.parsers.pop(peer.index, None)
        self.loop.at(
            self.loop.now + peer.spec.latency + remote.spec.latency,
            self._gone,
            (remote, peer.index),
        )

    def _gone(self, event: tuple[SimPeer, int]) -> None:
        peer, remote = event
        if peer.swarm is not None:
            peer.swarm.peer_disconnected(remote, self.loop.now)
            if peer.super_seeder is not None:
                peer.super_seeder.peer_disconnected(remote)
            self._after(peer)

    # -- the core's timers and actions -------------------------------------------------

    def _after(self, peer: SimPeer) -> None:
        """Carry out what the core asked for; make sure a wake-up is scheduled."""

        swarm = peer.swarm
        if swarm is None:
            return
        actions = swarm.actions()
        while actions:
            for action in actions:
                self._execute(peer, swarm, action)
            actions = swarm.actions()
        if peer.swarm is not None and peer.timer_at == math.inf:
            self._schedule_wake(peer, swarm.get_timer())

    def _schedule_wake(self, peer: SimPeer, timer: float | None) -> None:
        horizon = self.loop.now + TIMER_POLL
        peer.timer_at = horizon if timer is None or timer > horizon else timer
        self.loop.at(peer.timer_at, self._wake, peer)

    def _wake(self, peer: SimPeer) -> None:
        swarm = peer.swarm
        if swarm is None:
            return
        peer.timer_at = math.inf
        timer = swarm.get_timer()
        if timer is not None and timer <= self.loop.now:
            swarm.handle_timer(self.loop.now)
            self._after(peer)
        else:  # nothing due: the timer just read is still the next one
            self._schedule_wake(peer, timer)

    def _execute(self, peer: SimPeer, swarm: TorrentSwarm, action: Action) -> None:
        if type(action) is Send:  # most actions: spared the match below
            self._transport.send(peer, cast(int, action.peer), action.message)
            return
        now = self.loop.now
        match action:
            case WriteBlock(piece, offset, data):
                try:
                    peer.disk.write(piece, offset, data)
                except DiskFull as error:
                    swarm.write_failed(piece, str(error), now)
            case ReadBlock(remote, request):
                peer.reads.append((cast(int, remote), request))
                if len(peer.reads) == 1:
                    self.loop.at(peer.link.read_ready_at(now), self._read_next, peer)
            case VerifyPiece(piece):
                self.loop.at(now, self._verified, (peer, piece, peer.disk.verify(piece)))
            case PieceDone(piece):
                self.stats.piece_done(piece)
            case Finished():
                self._finished(peer)
            case Disconnect(remote, reason) | Ban(remote, reason):
                self._close(peer, cast(int, remote), reason)
            case Stopped(reason):
                peer.stopped = reason
                self._count_out(peer)
                self._leave(peer)

    def _finished(self, peer: SimPeer) -> None:
        if peer.finished_at is not None or peer.spec.origin:
            return
        peer.finished_at = self.loop.now
        self._count_out(peer)
        if peer.spec.leave_on_complete:
            self.loop.at(self.loop.now, self._leave, peer)

    def _count_out(self, peer: SimPeer) -> None:
        if not peer.spec.origin:
            self._unfinished -= 1

    def _read_next(self, peer: SimPeer) -> None:
        """The uplink has room: read the oldest requested block and hand it to the core."""

        if peer.swarm is None:
            return
        remote, request = peer.reads.popleft()
        data = peer.disk.read(request.index, request.begin, request.length)
        peer.swarm.block_read(remote, request, data, self.loop.now)
        if peer.reads:
            self.loop.at(peer.link.read_ready_at(self.loop.now), self._read_next, peer)
        self._after(peer)

    def _verified(self, event: tuple[SimPeer, int, bool]) -> None:
        peer, piece, ok = event
        if peer.swarm is not None:
            peer.swarm.piece_verified(piece, ok, self.loop.now)
            self._after(peer)

    # -- sampling ------------------------------------------------------------------------

    def _sample(self, _: None) -> None:
        self.stats.sample(self.loop.now)
        if self._unfinished:
            self.loop.at(self.loop.now + self.stats.interval, self._sample, None)
