"""Counters of a running tracker, as ``/stats`` JSON and ``/metrics`` Prometheus text.

Announces, scrapes and errors are counted per protocol (``http``, ``udp``);
torrents, seeders and leechers come from the peer store when asked. The
Prometheus text follows the exposition format 0.0.4: one ``# HELP`` and
``# TYPE`` line per metric family, labels for the protocol.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from bitswarm.core.tracker.model import StoreStats

Protocol = Literal["http", "udp"]
Kind = Literal["announces", "scrapes", "errors", "connects"]

PROTOCOLS: tuple[Protocol, ...] = ("http", "udp")
KINDS: tuple[Kind, ...] = ("announces", "scrapes", "errors", "connects")
_HELP = {
    "announces": "Announces answered with peers.",
    "scrapes": "Scrapes answered.",
    "errors": "Requests refused or malformed.",
    "connects": "UDP connection ids issued.",
}


class TrackerMetrics:
    """Monotonic request counters, per protocol and kind."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[Protocol, Kind]] = Counter()

    def count(self, protocol: Protocol, kind: Kind) -> None:
        self._counts[protocol, kind] += 1

    def get(self, protocol: Protocol, kind: Kind) -> int:
        return self._counts[protocol, kind]

    def as_json(self, stats: StoreStats) -> dict[str, object]:
        """The ``/stats`` document."""
        return {
            "torrents": stats.torrents,
            "seeders": stats.seeders,
            "leechers": stats.leechers,
            "peers": stats.peers,
            "requests": {p: {k: self.get(p, k) for k in KINDS} for p in PROTOCOLS},
        }

    def prometheus(self, stats: StoreStats) -> str:
        """The ``/metrics`` page."""
        lines: list[str] = []
        for kind in KINDS:
            name = f"bitswarm_tracker_{kind}_total"
            lines += [f"# HELP {name} {_HELP[kind]}", f"# TYPE {name} counter"]
            lines += [f'{name}{{protocol="{p}"}} {self.get(p, kind)}' for p in PROTOCOLS]
        for gauge, value in (
            ("torrents", stats.torrents),
            ("seeders", stats.seeders),
            ("leechers", stats.leechers),
        ):
            name = f"bitswarm_tracker_{gauge}"
            lines += [f"# HELP {name} {gauge.capitalize()} in the store.", f"# TYPE {name} gauge"]
            lines.append(f"{name} {value}")
        return "\n".join(lines) + "\n"
