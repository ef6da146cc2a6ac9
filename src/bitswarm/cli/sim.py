"""``bitswarm sim``: simulate a swarm far larger than one machine and report against T_min.

Runs :mod:`bitswarm.sim` (the real core on virtual links, disk and tracker,
on a virtual clock) for one scenario and prints the distribution report:
completion times over the Kumar-Ross bound ``T_min``, the origin's upload over
the file size, the swarm's upload utilisation, the free riders' penalty, and
what the run cost (events, wall-clock seconds). ``--block-size`` above 16 KiB
trades coarse blocks, each a train of 16 KiB blocks at their exact wire cost,
for far fewer events (the fast path only; see :mod:`bitswarm.sim.scenarios`).
``--plot`` writes the PNG;
``--json`` prints one object instead of lines. Exit status 1 when some
downloader did not finish within ``--time-limit``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click

from bitswarm.cli.describe import print_json
from bitswarm.cli.errors import EXIT_FAILED, UserError
from bitswarm.cli.units import RateParam, SizeParam
from bitswarm.sim.report import Report, make_report
from bitswarm.sim.scenarios import SCENARIOS, Scenario, build
from bitswarm.sim.simulation import Simulation


def simulate(scenario: Scenario) -> tuple[Simulation, Report]:
    """Run ``scenario`` to the end; the report includes the wall-clock time it took."""

    simulation = Simulation(scenario)
    started = time.perf_counter()
    simulation.run()
    return simulation, make_report(simulation, time.perf_counter() - started)


def _plotter() -> Callable[[Simulation, Report, Path], None]:
    """The plot writer; matplotlib is an optional dependency, imported only for ``--plot``."""

    try:
        from bitswarm.sim.plots import write_plots
    except ImportError as error:
        raise UserError(
            f"--plot needs matplotlib ({error}); install it with: pip install 'bitswarm[sim]'"
        ) from None
    return write_plots


@click.command("sim")
@click.option(
    "--peers",
    type=click.IntRange(1, 1_000_000),
    default=100,
    show_default=True,
    help="Downloaders N (the origin comes on top).",
)
@click.option("--size", type=SizeParam(), default="64MiB", show_default=True, help="File size F.")
@click.option(
    "--origin-up", type=RateParam(), default="1MiB/s", show_default=True, help="Origin upload."
)
@click.option(
    "--peer-up", type=RateParam(), default="1MiB/s", show_default=True, help="Peer upload."
)
@click.option("--peer-down", type=RateParam(), default=None, help="Peer download [unlimited].")
@click.option(
    "--piece-length", type=SizeParam(), default="1MiB", show_default=True, help="Piece size."
)
@click.option(
    "--block-size",
    type=SizeParam(),
    default="16KiB",
    show_default=True,
    help="Block the peers trade in; above 16KiB each is a train of 16KiB blocks "
    "(fewer events; not with --exact).",
)
@click.option(
    "--latency",
    type=click.FloatRange(0, 10),
    default=0.025,
    show_default=True,
    help="One-way latency of each peer's link, seconds.",
)
@click.option(
    "--scenario",
    type=click.Choice(SCENARIOS),
    default="flash",
    show_default=True,
    help="Who arrives when and how they behave.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same run.")
@click.option("--exact", is_flag=True, help="Encode and parse every message (small runs).")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Virtual seconds before giving up [unlimited].",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the CDF, origin upload and replication plots to this PNG.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.pass_context
def sim(
    ctx: click.Context,
    peers: int,
    size: int,
    origin_up: int,
    peer_up: int,
    peer_down: int | None,
    piece_length: int,
    block_size: int,
    latency: float,
    scenario: str,
    seed: int,
    exact: bool,
    time_limit: float | None,
    plot: Path | None,
    as_json: bool,
) -> None:
    """Simulate a swarm and report its completion times against the fluid bound T_min."""

    for name, value in (("--size", size), ("--origin-up", origin_up), ("--peer-up", peer_up)):
        if value <= 0:
            raise UserError(f"{name} must be positive, not {value}")
    if peer_down is not None and peer_down <= 0:
        raise UserError(f"--peer-down must be positive, not {peer_down}")
    try:
        plan = build(
            scenario,
            peers=peers,
            size=size,
            origin_up=origin_up,
            peer_up=peer_up,
            peer_down=math.inf if peer_down is None else peer_down,
            piece_length=piece_length,
            latency=latency,
            seed=seed,
            exact=exact,
            block_size=block_size,
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    if time_limit is not None:
        plan = replace(plan, time_limit=time_limit)
    write_plots = _plotter() if plot is not None else None  # before a long run, not after
    simulation, report = simulate(plan)
    if write_plots is not None and plot is not None:
        try:
            write_plots(simulation, report, plot)
        except OSError as error:
            raise UserError(f"cannot write {plot}: {error.strerror or error}") from None
    if as_json:
        print_json(report.to_json())
    else:
        for line in report.lines():
            click.echo(line)
    if report.finished < report.peers:
        ctx.exit(EXIT_FAILED)
