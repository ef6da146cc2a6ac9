"""Counters of a running tracker, as ``/stats`` JSON and ``/metrics`` Prometheus text.

Announces, scrapes and errors are counted per protocol (``http``, ``udp``)
in :class:`TrackerMetrics`, one dictionary increment per request and nothing
more; torrents, seeders and leechers come from the peer store when asked.
What a page shows is a :class:`Figures`: for the whole tracker when the store
is shared (the request counters summed over every process, see
:mod:`.tracker_shared`) or when one process is the tracker; for one worker
when several workers keep their own memory stores, and then every sample
carries a ``worker`` label and ``/stats`` says ``"scope": "worker"``. The
Prometheus text follows the exposition format 0.0.4: one ``# HELP`` and
``# TYPE`` line per metric family, labels for the protocol.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bitswarm.core.tracker.model import StoreStats

Protocol = Literal["http", "udp"]
Kind = Literal["announces", "scrapes", "errors", "connects"]
Counts = Mapping[tuple[Protocol, Kind], int]

PROTOCOLS: tuple[Protocol, ...] = ("http", "udp")
KINDS: tuple[Kind, ...] = ("announces", "scrapes", "errors", "connects")
_HELP = {
    "announces": "Announces answered with peers.",
    "scrapes": "Scrapes answered.",
    "errors": "Requests refused or malformed.",
    "connects": "UDP connection ids issued.",
}


class TrackerMetrics:
    """Monotonic request counters of this process, per protocol and kind."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[Protocol, Kind]] = Counter()

    def count(self, protocol: Protocol, kind: Kind, times: int = 1) -> None:
        self._counts[protocol, kind] += times

    def get(self, protocol: Protocol, kind: Kind) -> int:
        return self._counts[protocol, kind]

    def counts(self) -> dict[tuple[Protocol, Kind], int]:
        """A copy of every counter."""
        return dict(self._counts)


@dataclass(frozen=True, slots=True)
class Figures:
    """What ``/stats`` and ``/metrics`` show: the store's counts and the request counters."""

    stats: StoreStats
    requests: Counts
    worker: int | None = None
    """The worker that answers, when the tracker runs several."""
    per_worker: bool = False
    """Whether the figures are that worker's own rather than the whole tracker's."""

    def as_json(self) -> dict[str, object]:
        """The ``/stats`` document."""
        stats = self.stats
        document: dict[str, object] = {
            "scope": "worker" if self.per_worker else "tracker",
            "torrents": stats.torrents,
            "seeders": stats.seeders,
            "leechers": stats.leechers,
            "peers": stats.peers,
            "requests": {p: {k: self.requests.get((p, k), 0) for k in KINDS} for p in PROTOCOLS},
        }
        if self.worker is not None:
            document["worker"] = self.worker
        return document

    def prometheus(self) -> str:
        """The ``/metrics`` page."""
        worker = f'worker="{self.worker}"' if self.per_worker else ""
        lines: list[str] = []
        for kind in KINDS:
            name = f"bitswarm_tracker_{kind}_total"
            lines += [f"# HELP {name} {_HELP[kind]}", f"# TYPE {name} counter"]
            for p in PROTOCOLS:
                labels = ",".join(filter(None, (f'protocol="{p}"', worker)))
                lines.append(f"{name}{{{labels}}} {self.requests.get((p, kind), 0)}")
        for gauge, value in (
            ("torrents", self.stats.torrents),
            ("seeders", self.stats.seeders),
            ("leechers", self.stats.leechers),
        ):
            name = f"bitswarm_tracker_{gauge}"
            lines += [f"# HELP {name} {gauge.capitalize()} in the store.", f"# TYPE {name} gauge"]
            lines.append(f"{name}{{{worker}}} {value}" if worker else f"{name} {value}")
        return "\n".join(lines) + "\n"
