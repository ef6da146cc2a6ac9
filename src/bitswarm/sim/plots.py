"""The report's plots: one PNG of three panels, drawn with matplotlib's Agg renderer.

1. Completion-time CDF against ``T_min``: how far right of the bound the
   swarm finishes, and how wide the spread is.
2. The origin's upload over time, in copies of the file, beside the swarm's
   upload utilisation: a good swarm takes over from the origin early.
3. Piece replication over time: the fewest and the mean copies of a piece
   among the peers present; the fewest staying at 1 means the origin still
   holds the only copy of something.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from bitswarm.sim.report import Report
from bitswarm.sim.simulation import Simulation


def write_plots(simulation: Simulation, report: Report, path: Path) -> None:
    """Draw the three panels of ``simulation`` into the PNG file ``path``."""

    figure = Figure(figsize=(8, 11))  # no pyplot: no global state, no display backend
    cdf, origin, copies = figure.subplots(3, 1)
    size = simulation.scenario.size
    title = f"{report.scenario}: {report.peers} peers, {size / 2**20:g} MiB, seed {report.seed}"
    figure.suptitle(title)

    times = sorted(report.completion_times)
    if times:
        fractions = [(i + 1) / len(times) for i in range(len(times))]
        cdf.step(times, fractions, where="post", label="bitswarm (simulated)")
    cdf.axvline(report.t_min, color="black", linestyle="--", label=f"T_min = {report.t_min:.1f} s")
    cdf.set_xlabel("completion time (s)")
    cdf.set_ylabel("fraction of peers finished")
    cdf.set_ylim(0, 1.02)
    cdf.legend(loc="lower right")

    samples = simulation.stats.samples
    clock = [sample.time for sample in samples]
    origin.plot(clock, [s.origin_uploaded / size for s in samples], label="origin upload / F")
    origin.set_xlabel("time (s)")
    origin.set_ylabel("copies of the file sent by the origin")
    used = origin.twinx()
    series = report.utilisation_series
    used.plot(
        [t for t, _ in series], [u for _, u in series], color="tab:orange", alpha=0.6, label="swarm"
    )
    used.set_ylabel("swarm upload utilisation")
    used.set_ylim(0, 1.05)
    origin.legend(loc="upper left")
    used.legend(loc="lower right")

    copies.plot(clock, [s.min_copies for s in samples], label="fewest copies of a piece")
    copies.plot(clock, [s.mean_copies for s in samples], label="mean copies of a piece")
    copies.set_xlabel("time (s)")
    copies.set_ylabel("copies among present peers")
    copies.legend(loc="upper left")

    figure.tight_layout()
    figure.savefig(path, dpi=100)
