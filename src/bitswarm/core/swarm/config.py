"""The torrent state machine's settings: pipelines, choking, uploads, BEP 6, time-outs.

:class:`SwarmConfig` gathers what :class:`~bitswarm.core.swarm.torrent.TorrentSwarm`
and the parts it delegates to can be tuned by; the defaults are what a
download from the command line runs with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bitswarm.core.swarm.choker import ChokerConfig
from bitswarm.core.swarm.pipeline import PipelineConfig
from bitswarm.core.swarm.upload import UploadConfig


@dataclass(frozen=True, slots=True)
class SwarmConfig:
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    choker: ChokerConfig = field(default_factory=ChokerConfig)
    upload: UploadConfig = field(default_factory=UploadConfig)
    allowed_fast_count: int = 0
    """BEP 6's k: pieces a choked peer may still request (sent when its address is known).
    None by default: in a flash crowd every peer serving ten pieces to every newcomer
    spreads uploads over half-finished pieces nobody can trade on (``bitswarm sim``,
    40 peers x 16 MiB: median 2.6 x T_min without, 3.9 with 10, 3.1 with 5)."""
    suggest_ahead: int = 2
    """As a seed, BEP 6 suggestions ahead of what each unchoked peer has been sent: pieces
    none of our peers has, each suggested to one peer at a time, so the downloaders an
    origin serves fetch different first copies (:mod:`~bitswarm.core.swarm.suggest`); 0
    sends none. Two, so a peer has the next one at hand when it has asked for all of
    one; up to eight stay open until the peer announces them."""
    endgame_depth: int = 2
    """In endgame (every missing block asked for), requests kept outstanding per peer: each
    is a duplicate of someone else's, so only a peer about to fall idle gets one. Counted
    in 16 KiB blocks, as every block count of the settings (see core/swarm/pieces.py)."""
    max_strikes: int = 20
    """Offences (unrequested blocks, requests beyond the queue, ...) before a peer is dropped."""
    keepalive_interval: float = 120.0
    idle_timeout: float = 180.0
