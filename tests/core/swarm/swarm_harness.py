"""An in-memory swarm: TorrentSwarm instances wired together with no sockets and no clock.

Each node is a real :class:`~bitswarm.core.swarm.torrent.TorrentSwarm` with a
fake disk (a bytearray a piece) and a shared virtual clock. Every ``Send``
is encoded to bytes, carried over the sender's uplink (a FIFO with a byte
rate, so an upload cap and queueing are real) plus a fixed latency, and cut
into messages again by the receiver's own
:class:`~bitswarm.core.wire.parser.MessageParser`, so the wire format is
exercised on every message. Disk actions complete at once; a node may be
``corrupt`` (it serves flipped bytes) or ``mute`` (it never answers a read).
Events run in time order from one heap; ties keep their scheduling order.

It is pure and deterministic given its seed, so a simulator can grow from
it; it lives with the tests until then.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

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
from bitswarm.core.swarm.config import SwarmConfig
from bitswarm.core.swarm.pieces import PieceGeometry
from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.core.wire.errors import ProtocolError
from bitswarm.core.wire.handshake import Extensions, Handshake
from bitswarm.core.wire.parser import MessageParser

SEND_BUFFER = 64 * 1024
"""Bytes a node lets queue on its uplink before it reads more blocks to send."""
INFO_HASH = hashlib.sha1(b"bitswarm in-memory swarm").digest()


@dataclass
class Node:
    name: str
    swarm: TorrentSwarm
    disk: list[bytearray]
    upload_rate: float
    corrupt: bool = False
    mute: bool = False
    uplink_free_at: float = 0.0
    timer_at: float = math.inf
    finished_at: float | None = None
    done: list[int] = field(default_factory=list)
    disconnects: list[tuple[str, str]] = field(default_factory=list)
    bans: list[tuple[str, str]] = field(default_factory=list)
    stopped: str | None = None
    received: Counter[str] = field(default_factory=Counter)
    """Messages received, by type name."""

    def data(self) -> bytes:
        return b"".join(self.disk)


class MemorySwarm:
    def __init__(
        self,
        content: bytes,
        piece_length: int,
        *,
        seed: int = 0,
        latency: float = 0.02,
    ) -> None:
        self.content = content
        self.geometry = PieceGeometry(piece_length, len(content))
        self.hashes = [
            hashlib.sha1(content[p * piece_length : (p + 1) * piece_length]).digest()
            for p in range(self.geometry.piece_count)
        ]
        self.latency = latency
        self.now = 0.0
        self.rng = random.Random(seed)
        self.nodes: dict[str, Node] = {}
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._parsers: dict[tuple[str, str], MessageParser] = {}
        """(receiver, sender) -> the receiver's parser for that connection; absent when closed."""

    # -- building ------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        *,
        complete: bool = False,
        upload_rate: float = 10e6,
        corrupt: bool = False,
        mute: bool = False,
        config: SwarmConfig | None = None,
    ) -> Node:
        count, geometry = self.geometry.piece_count, self.geometry
        have = Bitfield.full(count) if complete else Bitfield(count)
        swarm = TorrentSwarm(
            geometry, have, random.Random(self.rng.random()), self.now, config=config
        )
        disk = [
            bytearray(self._piece(p) if complete else geometry.piece_size(p)) for p in range(count)
        ]
        node = Node(name, swarm, disk, upload_rate, corrupt=corrupt, mute=mute)
        self.nodes[name] = node
        return node

    def _piece(self, piece: int) -> bytes:
        start = piece * self.geometry.piece_length
        return self.content[start : start + self.geometry.piece_size(piece)]

    def connect(self, a: str, b: str, *, fast: bool = True) -> None:
        """Both sides finished the handshake now."""

        reserved = Extensions.FAST if fast else Extensions.NONE
        for local, remote in ((a, b), (b, a)):
            self._parsers[(local, remote)] = MessageParser(self.geometry.piece_count)
        for local, remote in ((a, b), (b, a)):
            handshake = Handshake(INFO_HASH, remote.encode().ljust(20, b"-"), reserved)
            address = f"127.0.0.{len(self._parsers) % 250 + 1}"
            self._call(
                local,
                lambda s, r=remote, h=handshake, ad=address: s.peer_connected(
                    r, h, self.now, address=ad
                ),
            )

    def connect_all(self, *, fast: bool = True) -> None:
        for a, b in itertools.combinations(self.nodes, 2):
            self.connect(a, b, fast=fast)

    # -- running -------------------------------------------------------------------

    def at(self, when: float, event: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._seq), event))

    def run(
        self, until: Callable[[], bool], *, limit: float = 600.0, steps: int = 2_000_000
    ) -> None:
        """Run events until ``until()`` holds; fail past ``limit`` virtual seconds."""

        for _ in range(steps):
            if until():
                return
            if not self._events:
                raise AssertionError(f"swarm went quiet at t={self.now:.2f} s")
            when, _, event = heapq.heappop(self._events)
            if when > limit:
                raise AssertionError(f"not done within {limit} virtual seconds")
            self.now = max(self.now, when)
            event()
        raise AssertionError(f"not done within {steps} events")

    def command(self, name: str, step: Callable[[TorrentSwarm], None]) -> None:
        """Call node ``name``'s swarm now, as its application would, and carry out the actions."""

        self._call(name, step)

    def all_finished(self) -> bool:
        return all(
            node.swarm.is_finished()
            for node in self.nodes.values()
            if not node.mute and not node.corrupt
        )

    def _call(self, name: str, step: Callable[[TorrentSwarm], None]) -> None:
        node = self.nodes[name]
        step(node.swarm)
        for action in node.swarm.actions():
            self._execute(node, action)
        timer = node.swarm.get_timer()
        if timer is not None and timer < node.timer_at:
            node.timer_at = timer
            self.at(timer, lambda: self._fire_timer(name))

    def _fire_timer(self, name: str) -> None:
        node = self.nodes[name]
        timer = node.swarm.get_timer()
        node.timer_at = math.inf
        if timer is not None and timer <= self.now:
            self._call(name, lambda s: s.handle_timer(self.now))
        else:
            self._call(name, lambda s: None)

    def _execute(self, node: Node, action: Action) -> None:
        name = node.name
        match action:
            case Send(peer, message):
                self._transmit(node, str(peer), message.encode())
            case Disconnect(peer, reason):
                node.disconnects.append((str(peer), reason))
                self._close(name, str(peer))
            case Ban(peer, reason):
                node.bans.append((str(peer), reason))
                self._close(name, str(peer))
            case WriteBlock(piece, offset, data):
                node.disk[piece][offset : offset + len(data)] = data
            case ReadBlock(peer, request):
                if node.mute:
                    return
                data = bytes(
                    node.disk[request.index][request.begin : request.begin + request.length]
                )
                if node.corrupt:
                    data = bytes(b ^ 0x5A for b in data)
                # Back-pressure: the read completes once the uplink has room, as a driver
                # reads only when the socket's buffer drains.
                ready = node.uplink_free_at - SEND_BUFFER / node.upload_rate
                self.at(
                    max(self.now, ready),
                    lambda: self._call(name, lambda s: s.block_read(peer, request, data, self.now)),
                )
            case VerifyPiece(piece):
                ok = hashlib.sha1(node.disk[piece]).digest() == self.hashes[piece]
                self.at(
                    self.now,
                    lambda: self._call(name, lambda s: s.piece_verified(piece, ok, self.now)),
                )
            case PieceDone(piece):
                node.done.append(piece)
            case Finished():
                node.finished_at = self.now
            case Stopped(reason):
                node.stopped = reason

    def _transmit(self, node: Node, peer: str, data: bytes) -> None:
        start = max(self.now, node.uplink_free_at)
        node.uplink_free_at = start + len(data) / node.upload_rate
        self.at(node.uplink_free_at + self.latency, lambda: self._deliver(node.name, peer, data))

    def _deliver(self, sender: str, receiver: str, data: bytes) -> None:
        parser = self._parsers.get((receiver, sender))
        if parser is None:
            return  # the connection closed while the bytes were in flight
        parser.receive_data(data)
        try:
            while (message := parser.next_message()) is not None:
                self.nodes[receiver].received[type(message).__name__] += 1
                self._call(receiver, lambda s, m=message: s.message_received(sender, m, self.now))
                if (receiver, sender) not in self._parsers:
                    return
        except ProtocolError as error:
            self.nodes[receiver].disconnects.append((sender, str(error)))
            self._close(receiver, sender)
            self._call(receiver, lambda s: s.peer_disconnected(sender, self.now))

    def _close(self, name: str, peer: str) -> None:
        if self._parsers.pop((name, peer), None) is None:
            return
        self._parsers.pop((peer, name), None)
        self.at(
            self.now + self.latency,
            lambda: self._call(peer, lambda s: s.peer_disconnected(name, self.now)),
        )
