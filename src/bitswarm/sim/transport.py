"""Messages between simulated peers: out of one core, over the links, into another.

:class:`Transport` is the simulator's socket layer. A ``Send`` the driver
takes from a core goes through the sender's policy (a free rider never lets
an ``unchoke`` or ``allowed fast`` out; a super-seeding origin's summary and
``have`` messages pass its :class:`~bitswarm.core.swarm.super_seed.SuperSeeder`),
is serialised on the sender's uplink (:class:`~bitswarm.sim.links.Endpoint`),
travels both peers' latency, queues on a capped downlink, and is handed to
the receiver's core, whose actions the driver then carries out.

Two paths, one timing (tests/sim/test_sim_swarm.py proves they give the same
swarm): on the exact path the message is encoded and the receiver's own
:class:`~bitswarm.core.wire.parser.MessageParser` cuts the bytes into
messages again; on the fast path the message object itself is carried and
:func:`~bitswarm.sim.links.wire_size` charges its bytes. A message on a
connection that closed meanwhile is dropped (and counted, when it carried a
block), as the bytes of a closed socket are.

This is the hot path of every run, a few events per block: the code keeps
to local names and one heap entry per message.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.messages import AllowedFast, Message, Piece, Unchoke
from bitswarm.sim.engine import EventLoop
from bitswarm.sim.links import wire_size
from bitswarm.sim.peer import SimPeer
from bitswarm.sim.stats import SwarmStats

_WITHHELD = (Unchoke, AllowedFast)
"""What a free rider never sends."""

Transit = tuple[SimPeer, SimPeer, int, Message | bytes, int]
"""A message on its way: sender, receiver, connection number, payload, wire bytes."""


class Transport:
    __slots__ = ("_after", "_close", "_exact", "_inbox", "_loop", "_peers", "_stats")

    def __init__(
        self,
        loop: EventLoop,
        peers: Sequence[SimPeer],
        stats: SwarmStats,
        *,
        exact: bool,
        after: Callable[[SimPeer], None],
        close: Callable[[SimPeer, int, str], None],
    ) -> None:
        self._loop = loop
        self._peers = peers
        self._stats = stats
        self._exact = exact
        self._after = after
        """Carries out a core's actions after it was handed a message."""
        self._close = close
        """Closes a connection from one side (a protocol error on the exact path)."""
        self._inbox = [
            self._deliver if peer.link.download == math.inf else self._downlink for peer in peers
        ]
        """What an arriving message goes to first, by receiver: its downlink, if capped."""

    def send(self, peer: SimPeer, remote: int, message: Message) -> None:
        """``peer``'s core sent ``message`` to ``remote``: apply its policy, then transmit."""

        if peer.spec.free_rider and isinstance(message, _WITHHELD):
            return
        seeder = peer.super_seeder
        if seeder is None:
            self.transmit(peer, remote, message)
        else:
            for outgoing in seeder.outgoing(remote, message):
                self.transmit(peer, remote, outgoing)

    def transmit(self, peer: SimPeer, remote_index: int, message: Message) -> None:
        loop = self._loop
        now = loop.now
        if type(message) is Piece:  # counted as a socket write: the core counts it sent
            block = len(message.block)
            peer.payload_up += block
            self._stats.uploaded(peer.spec, block, now)
        connection = peer.connections.get(remote_index)
        if connection is None:  # the remote closed; we learn it one latency later
            self._stats.dropped(message)
            return
        remote = self._peers[remote_index]
        payload: Message | bytes
        if self._exact:
            payload = message.encode()
            size = len(payload)
        else:
            payload = message
            size = wire_size(message)
        link = peer.link
        arrival = link.send(size, now) + link.latency + remote.link.latency
        loop.at(arrival, self._inbox[remote_index], (peer, remote, connection, payload, size))

    def _downlink(self, transit: Transit) -> None:
        receiver = transit[1]
        self._loop.at(receiver.link.receive(transit[4], self._loop.now), self._deliver, transit)

    def _deliver(self, transit: Transit) -> None:
        sender, peer, connection, payload, _ = transit
        swarm = peer.swarm
        if swarm is None or peer.connections.get(sender.index) != connection:
            self._stats.dropped(payload)
            return
        now = self._loop.now
        if isinstance(payload, bytes):
            parser = peer.parsers[sender.index]
            parser.receive_data(payload)
            try:
                while (message := parser.next_message()) is not None:
                    self._receive(peer, swarm, sender.index, message, now)
            except ProtocolError as error:
                self._close(peer, sender.index, str(error))
                swarm.peer_disconnected(sender.index, now)
        else:
            self._receive(peer, swarm, sender.index, payload, now)
        self._after(peer)

    def _receive(
        self, peer: SimPeer, swarm: TorrentSwarm, sender: int, message: Message, now: float
    ) -> None:
        if type(message) is Piece:
            peer.payload_down += len(message.block)
        if peer.super_seeder is not None:
            for remote, offer in peer.super_seeder.incoming(sender, message):
                self.transmit(peer, cast(int, remote), offer)
        swarm.message_received(sender, message, now)
