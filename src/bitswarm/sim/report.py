"""The distribution report: how close a simulated swarm came to the fluid bound, and at what cost.

Figures (Kumar and Ross, 2006, for the bound):

* every downloader's completion time (finish minus arrival) over
  ``T_min = max(F/u_s, F/d_min, N*F/(u_s + sum u_i))``, as median, 95th
  percentile and maximum ratios (1.0 would be the fluid optimum); a
  downloader that never finished counts as infinitely late, so a run cut
  short cannot look better than it was (its ratios come out ``inf``, and
  ``null`` in JSON);
* the origin's upload over ``F``: how many copies the publisher paid for;
* the swarm's upload utilisation: payload sent over the upload capacity on
  offer, over the whole run, by quarter of the run, and per sample interval;
* the free riders' penalty: their median completion time over the
  contributors' (above 1 when tit-for-tat works);
* the cost of the run itself: events executed, wall-clock seconds, events per second.

The bound is for a flash crowd; with staggered arrivals each peer is still
held to it, which is then a yardstick rather than a bound. ``GOALS`` are
the targets the issue sets for a flash crowd of a thousand peers; they are
printed beside the figures, never asserted.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from bitswarm.sim.simulation import Simulation

GOALS = {"median_ratio": 1.15, "max_ratio": 1.3, "origin_upload_ratio": 1.2}
"""Flash crowd, 1,000 peers, homogeneous capacities: the figures to reach (goals, not asserts)."""


@dataclass(frozen=True, slots=True)
class Report:
    scenario: str
    peers: int
    size: int
    piece_length: int
    block_size: int
    """The cores' block: 16 KiB as on the wire, or a coarse train of them (fewer events)."""
    seed: int
    t_min: float
    finished: int
    median_ratio: float
    p95_ratio: float
    max_ratio: float
    min_ratio: float
    origin_upload_ratio: float
    utilisation: float
    """Payload uploaded over the capacity on offer, from the first arrival to the last finish."""
    utilisation_by_quarter: tuple[float, ...]
    """The same over each quarter of the run: a swarm should take over from the origin early."""
    utilisation_series: tuple[tuple[float, float], ...]
    """(time, utilisation) per sample interval."""
    free_rider_penalty: float | None
    """Median completion of free riders over that of contributors; ``None`` without free riders."""
    virtual_seconds: float
    events: int
    wall_seconds: float
    events_per_second: float
    completion_times: tuple[float, ...]
    """Every finished downloader's completion time, in peer order."""

    def to_json(self) -> dict[str, object]:
        """The report as JSON values (a figure that could not be computed is ``null``)."""

        return {name: _json_value(value) for name, value in asdict(self).items()}

    def lines(self) -> list[str]:
        """The figures as plain ``name: value unit`` lines, goals beside them."""

        def goal(name: str) -> str:
            return f"  (goal <= {GOALS[name]:g})" if name in GOALS else ""

        lines = [
            f"scenario: {self.scenario}",
            f"peers: {self.peers}",
            f"block_size: {self.block_size // 1024} KiB",
            f"finished: {self.finished}",
            f"t_min: {self.t_min:.3f} s",
        ]
        for name in ("median_ratio", "p95_ratio", "max_ratio", "origin_upload_ratio"):
            lines.append(f"{name}: {getattr(self, name):.3f} x{goal(name)}")
        lines.append(f"utilisation: {self.utilisation:.3f}")
        quarters = " ".join(f"{value:.3f}" for value in self.utilisation_by_quarter)
        lines.append(f"utilisation_by_quarter: {quarters}")
        if self.free_rider_penalty is not None:
            lines.append(f"free_rider_penalty: {self.free_rider_penalty:.3f} x")
        lines += [
            f"virtual_seconds: {self.virtual_seconds:.3f} s",
            f"events: {self.events}",
            f"wall_seconds: {self.wall_seconds:.3f} s",
            f"events_per_second: {self.events_per_second:.0f} events/s",
        ]
        return lines


def _json_value(value: object) -> object:
    """JSON has no ``inf`` or ``nan``: such a figure is ``null``, inside tuples too."""

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple | list):
        return [_json_value(item) for item in value]
    return value


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of sorted ``values`` (``fraction`` in 0..1)."""

    if not values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(values)))
    return values[rank - 1]


def _intervals(simulation: Simulation) -> Iterator[tuple[float, float, float]]:
    """(start, payload uploaded, upload capacity offered) of every sample interval."""

    for before, after in itertools.pairwise(simulation.stats.samples):
        offered = before.capacity * (after.time - before.time)
        yield before.time, after.uploaded - before.uploaded, offered


def utilisation_series(simulation: Simulation) -> list[tuple[float, float]]:
    """(time, payload uploaded / capacity on offer) per sample interval."""

    series = _intervals(simulation)
    return [(start, sent / offered) for start, sent, offered in series if offered > 0]


def utilisation_by_quarter(simulation: Simulation) -> tuple[float, ...]:
    """Payload uploaded over capacity offered in each quarter of the sampled run."""

    samples = simulation.stats.samples
    if len(samples) < 2:
        return ()
    first, span = samples[0].time, samples[-1].time - samples[0].time
    sent, offered = [0.0] * 4, [0.0] * 4
    for start, uploaded, capacity in _intervals(simulation):
        quarter = min(3, int(4 * (start - first) / span)) if span > 0 else 0
        sent[quarter] += uploaded
        offered[quarter] += capacity
    return tuple(s / o if o > 0 else math.nan for s, o in zip(sent, offered, strict=True))


def make_report(simulation: Simulation, wall_seconds: float) -> Report:
    scenario = simulation.scenario
    t_min = scenario.t_min()
    downloaders = [peer for peer in simulation.peers if not peer.spec.origin]
    times = [
        peer.finished_at - peer.arrived_at
        for peer in downloaders
        if peer.finished_at is not None and peer.arrived_at is not None
    ]
    unfinished = [math.inf] * (len(downloaders) - len(times))
    ratios = sorted([time / t_min for time in times] + unfinished)

    def median_time(free_riders: bool) -> float | None:
        chosen = [
            peer.finished_at - peer.arrived_at
            for peer in downloaders
            if peer.spec.free_rider == free_riders
            and peer.finished_at is not None
            and peer.arrived_at is not None
        ]
        return statistics.median(chosen) if chosen else None

    riders, contributors = median_time(True), median_time(False)
    penalty = riders / contributors if riders is not None and contributors else None
    offered = sum(capacity for _, _, capacity in _intervals(simulation))
    return Report(
        scenario=scenario.name,
        peers=len(downloaders),
        size=scenario.size,
        piece_length=scenario.piece_length,
        block_size=scenario.block_size,
        seed=scenario.seed,
        t_min=t_min,
        finished=len(times),
        median_ratio=statistics.median(ratios) if ratios else math.nan,
        p95_ratio=percentile(ratios, 0.95),
        max_ratio=ratios[-1] if ratios else math.nan,
        min_ratio=ratios[0] if ratios else math.nan,
        origin_upload_ratio=simulation.stats.origin_uploaded / scenario.size,
        utilisation=simulation.stats.uploaded_total / offered if offered > 0 else math.nan,
        utilisation_by_quarter=utilisation_by_quarter(simulation),
        utilisation_series=tuple(utilisation_series(simulation)),
        free_rider_penalty=penalty,
        virtual_seconds=simulation.now,
        events=simulation.loop.events,
        wall_seconds=wall_seconds,
        events_per_second=simulation.loop.events / wall_seconds if wall_seconds > 0 else math.nan,
        completion_times=tuple(times),
    )
