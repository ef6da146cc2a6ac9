"""Scenarios: who is in the swarm, with what links, arriving when, and how they behave.

A :class:`Scenario` is plain data: the torrent's size and piece length and one
:class:`PeerSpec` per peer (origins included). :func:`build` makes the named
scenarios the report compares:

* ``flash`` — every downloader arrives at time 0 (a flash crowd);
* ``poisson`` — downloaders arrive as a Poisson process (``arrival_rate``/s);
* ``leave`` — a flash crowd whose peers leave as soon as they finish
  (the others stay and seed, as in ``flash``);
* ``mixed`` — heterogeneous capacities: a ``slow_fraction`` of peers upload
  (and download, when capped) at a fifth of the rate, the rest at the full one;
* ``freeriders`` — a ``free_rider_fraction`` of peers upload nothing;
* ``superseed`` — a flash crowd served by an origin in super-seeding mode (BEP 16).

Random choices (arrival times, which peers are slow or free riders) come from
a generator seeded with the scenario's seed, so a scenario is reproducible.

``block_size`` is the block the cores trade in. The exact path carries real
wire messages and keeps BEP 3's 16 KiB; the fast path may take a multiple of
it (256 KiB, a whole piece), each block standing for the train of 16 KiB
blocks a real peer sends, charged on the links at their exact wire size
(:func:`~bitswarm.sim.links.wire_size`), for about ``block_size / 16 KiB``
times fewer events. tests/sim/test_sim_coarse.py measures what it changes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from bitswarm.core.swarm.config import SwarmConfig
from bitswarm.core.swarm.pieces import BLOCK_SIZE, PieceGeometry

SCENARIOS = ("flash", "poisson", "leave", "mixed", "freeriders", "superseed")
SLOW_FACTOR = 5.0
"""How much slower the slow peers of ``mixed`` are."""


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """One simulated peer: its link, when it arrives, and its policy."""

    upload: float
    """Bytes/s (wire bytes)."""
    download: float = math.inf
    latency: float = 0.025
    """One-way delay to the network core, seconds."""
    arrival: float = 0.0
    origin: bool = False
    """Starts with the whole file."""
    free_rider: bool = False
    """Uploads nothing: never lets an unchoke or an allowed-fast offer out."""
    leave_on_complete: bool = False
    super_seed: bool = False
    """An origin that reveals pieces one peer at a time (BEP 16)."""
    disk_capacity: int | None = None
    """Bytes the peer's disk takes before writes fail (``None``: no limit)."""
    config: SwarmConfig | None = None
    """The core's settings; ``None`` for the defaults the real peer uses."""


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    size: int
    piece_length: int
    peers: tuple[PeerSpec, ...]
    seed: int = 0
    exact: bool = False
    """Byte-exact wire messages through the real parser, and an exact disk (small runs)."""
    numwant: int = 50
    max_connections: int = 80
    time_limit: float = math.inf
    """Virtual seconds after which the run stops, finished or not."""
    block_size: int = BLOCK_SIZE
    """The block the cores request and send; above 16 KiB only on the fast path."""

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"the file must have at least one byte, got {self.size}")
        if self.exact and self.block_size != BLOCK_SIZE:
            raise ValueError(
                f"the exact path encodes real wire messages, whose blocks are {BLOCK_SIZE} "
                f"bytes (BEP 3), not {self.block_size}: coarse blocks need the fast path"
            )
        self.geometry()  # raises for a block size or piece length the core cannot cut
        if not any(spec.origin for spec in self.peers):
            raise ValueError("a scenario needs at least one origin")
        if not any(not spec.origin for spec in self.peers):
            raise ValueError("a scenario needs at least one downloader")

    def geometry(self) -> PieceGeometry:
        return PieceGeometry(self.piece_length, self.size, self.block_size)

    @property
    def downloaders(self) -> list[PeerSpec]:
        return [spec for spec in self.peers if not spec.origin]

    def t_min(self) -> float:
        """Kumar and Ross's bound on the time for every downloader to finish (flash crowd).

        ``max(F/u_s, F/d_min, N*F/(u_s + sum u_i))``; free riders count with
        ``u_i = 0``, as they upload nothing.
        """

        size = self.size
        origin_up = sum(spec.upload for spec in self.peers if spec.origin)
        downloaders = self.downloaders
        contributed = sum(spec.upload for spec in downloaders if not spec.free_rider)
        return max(
            size / origin_up,
            size / min(spec.download for spec in downloaders),
            len(downloaders) * size / (origin_up + contributed),
        )

    def earliest_finish(self, spec: PeerSpec) -> float:
        """The earliest time ``spec`` can hold the whole file, whatever the swarm does.

        Every byte leaves an origin first, so nobody finishes before the
        origins have sent ``F`` bytes (``F/u_s`` after they start at time 0),
        and nobody downloads faster than its link (``F/d_i`` after arriving).
        """

        origin_up = sum(other.upload for other in self.peers if other.origin)
        return max(self.size / origin_up, spec.arrival + self.size / spec.download)


def build(
    name: str,
    *,
    peers: int,
    size: int,
    origin_up: float,
    peer_up: float,
    peer_down: float = math.inf,
    piece_length: int = 1024 * 1024,
    latency: float = 0.025,
    seed: int = 0,
    exact: bool = False,
    arrival_rate: float | None = None,
    slow_fraction: float = 0.5,
    free_rider_fraction: float = 0.2,
    block_size: int = BLOCK_SIZE,
) -> Scenario:
    """The named scenario (one of :data:`SCENARIOS`) with ``peers`` downloaders."""

    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    if peers < 1:
        raise ValueError(f"a swarm needs at least one downloader, got {peers}")
    rng = random.Random(seed)
    base = PeerSpec(upload=peer_up, download=peer_down, latency=latency)
    crowd = [base] * peers
    if name == "poisson":
        rate = arrival_rate or peers / (4 * size / peer_up)  # arrivals over ~4 file-times
        clock = 0.0
        crowd = []
        for _ in range(peers):
            clock += rng.expovariate(rate)
            crowd.append(replace(base, arrival=clock))
    elif name == "leave":
        crowd = [replace(base, leave_on_complete=True)] * peers
    elif name == "mixed":
        slow = replace(base, upload=peer_up / SLOW_FACTOR, download=peer_down / SLOW_FACTOR)
        count = round(peers * slow_fraction)
        crowd = [slow] * count + [base] * (peers - count)
        rng.shuffle(crowd)
    elif name == "freeriders":
        count = max(1, round(peers * free_rider_fraction))
        chosen = set(rng.sample(range(peers), count))
        crowd = [replace(base, free_rider=i in chosen) for i in range(peers)]
    origin = PeerSpec(
        upload=origin_up, latency=latency, origin=True, super_seed=name == "superseed"
    )
    everyone = (origin, *crowd)
    return Scenario(
        name, size, piece_length, everyone, seed=seed, exact=exact, block_size=block_size
    )
