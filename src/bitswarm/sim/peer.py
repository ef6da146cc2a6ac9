"""A simulated peer: its core, link, disk and connections, and the driver's own bookkeeping.

:class:`SimPeer` is the record the simulation keeps per peer: what aio/'s
torrent runner keeps per torrent (the sockets become connection numbers and,
on the exact path, one :class:`~bitswarm.core.wire.parser.MessageParser`
each), plus what the report reads (arrival, finish, payload moved).
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field

from bitswarm.core.swarm.super_seed import SuperSeeder
from bitswarm.core.swarm.torrent import TorrentSwarm
from bitswarm.core.wire.handshake import Handshake
from bitswarm.core.wire.messages import Request
from bitswarm.core.wire.parser import MessageParser
from bitswarm.sim.disk import VirtualDisk
from bitswarm.sim.links import Endpoint
from bitswarm.sim.scenarios import PeerSpec


def peer_id(index: int) -> bytes:
    """A BEP 20 style peer id, unique per peer."""

    return f"-BS0100-{index:012d}".encode()


def address(index: int) -> str:
    """A distinct IPv4 address per peer, for BEP 6's allowed-fast set (never dialled)."""

    return f"127.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


@dataclass(slots=True)
class SimPeer:
    index: int
    spec: PeerSpec
    link: Endpoint
    disk: VirtualDisk
    handshake: Handshake
    address: str
    rng: random.Random
    swarm: TorrentSwarm | None = None
    """The core while the peer is in the swarm; ``None`` before it arrives and after it leaves."""
    connections: dict[int, int] = field(default_factory=dict)
    """Remote peer -> connection number (messages of an older connection are dropped)."""
    parsers: dict[int, MessageParser] = field(default_factory=dict)
    super_seeder: SuperSeeder | None = None
    timer_at: float = math.inf
    arrived_at: float | None = None
    finished_at: float | None = None
    left_at: float | None = None
    stopped: str | None = None
    payload_up: int = 0
    payload_down: int = 0
    disconnects: list[tuple[int, str]] = field(default_factory=list)
    reads: deque[tuple[int, Request]] = field(default_factory=deque)
    """Blocks the core asked to read, served one at a time as the uplink drains."""
