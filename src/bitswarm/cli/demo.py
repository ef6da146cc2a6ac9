"""``bitswarm demo``: a live swarm on loopback that shows why BitTorrent exists.

In one process and on 127.0.0.1 only: a sample file is written into a
temporary folder, the embedded tracker starts, an *origin* seeder with a
capped upload (``--origin-up``, 4 MiB/s by default) offers the file, and
``--peers`` downloaders (8 by default), each a real peer on its own port with
its own upload cap (``--peer-up``), fetch it from the origin and from each
other, with live progress. The summary states the point: the origin uploaded
little more than one copy while N copies were delivered, in a time close to
the fluid model's lower bound
``T_min = max(F / u_origin, N * F / (u_origin + sum u_i))``, where the origin
alone would have needed ``N * F / u_origin``. ``--json`` prints the figures
as one object. The sample bytes come from a fixed seed, so the info-hash is
the same on every run; the folder is removed at the end. It is what
``make demo`` runs.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from dataclasses import replace
from pathlib import Path

import click

from bitswarm.aio.demo_swarm import DemoPlan, DemoResult, embedded_tracker, run_demo
from bitswarm.aio.session import run
from bitswarm.aio.torrent_runner import TorrentRunner
from bitswarm.aio.torrent_status import TorrentStatus
from bitswarm.cli.describe import print_json
from bitswarm.cli.errors import EXIT_FAILED, UserError
from bitswarm.cli.progress import stderr_console
from bitswarm.cli.swarm_view import live_view
from bitswarm.cli.units import RateParam, SizeParam, format_size
from bitswarm.storage.create import create_torrent

SAMPLE_NAME = "bitswarm-demo.bin"
SAMPLE_SEED = 2001
"""Seed of the sample bytes (the year BitTorrent was first released)."""
MAX_SIZE = 1024**3
MAX_PEERS = 64
PIECE_LENGTH = 64 * 1024
"""Small pieces, so downloaders have pieces to trade from the first second."""
_CHUNK = 4 * 1024 * 1024


def write_sample(path: Path, size: int) -> None:
    """``size`` pseudo-random bytes, the same for a given size on every run."""
    generator = random.Random(SAMPLE_SEED)
    with open(path, "wb") as file:
        for start in range(0, size, _CHUNK):
            file.write(generator.randbytes(min(_CHUNK, size - start)))


@click.command("demo")
@click.option(
    "--peers",
    type=click.IntRange(1, MAX_PEERS),
    default=8,
    show_default=True,
    help="Downloaders in the swarm.",
)
@click.option(
    "--size", type=SizeParam(), default="32MiB", show_default=True, help="Size of the sample file."
)
@click.option(
    "--origin-up",
    type=RateParam(),
    default="4MiB/s",
    show_default=True,
    help="Upload cap of the origin seeder.",
)
@click.option(
    "--peer-up",
    type=RateParam(),
    default="4MiB/s",
    show_default=True,
    help="Upload cap of each downloader.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.pass_context
def demo(
    ctx: click.Context, peers: int, size: int, origin_up: int, peer_up: int, as_json: bool
) -> None:
    """Run a swarm on 127.0.0.1: one capped origin, N downloaders that share what they get."""
    if not 1 <= size <= MAX_SIZE:
        raise UserError(f"--size: between 1 byte and {format_size(MAX_SIZE)}, not {size:,}")
    plan = DemoPlan(peers=peers, origin_up=origin_up, peer_up=peer_up)
    with tempfile.TemporaryDirectory(prefix="bitswarm-demo-") as folder:
        result = run(_demo(Path(folder), size, plan))
    if as_json:
        print_json(_record(result, plan))
    else:
        for line in summary(result, plan):
            click.echo(line)
    if not (result.byte_exact and result.delivered == result.peers * result.size):
        ctx.exit(EXIT_FAILED)


async def _demo(folder: Path, size: int, plan: DemoPlan) -> DemoResult:
    origin_root = folder / "origin"
    origin_root.mkdir()
    sample = origin_root / SAMPLE_NAME
    await asyncio.to_thread(write_sample, sample, size)
    async with embedded_tracker() as url:
        torrent = await asyncio.to_thread(
            create_torrent, sample, version="v1", piece_length=PIECE_LENGTH, trackers=[url]
        )
        runners: list[tuple[str, TorrentRunner]] = []

        def started(origin: TorrentRunner, downloaders: list[TorrentRunner]) -> None:
            runners.append(("origin", origin))
            runners.extend((f"peer {i + 1}", r) for i, r in enumerate(downloaders))

        def statuses() -> list[TorrentStatus]:
            return [replace(runner.status(), name=label) for label, runner in runners]

        async with live_view(statuses, stderr_console()):
            return await run_demo(torrent, origin_root, folder, plan, started)


def _record(result: DemoResult, plan: DemoPlan) -> dict[str, object]:
    return {
        "peers": result.peers,
        "size": result.size,
        "seconds": round(result.seconds, 3),
        "t_min": None if result.t_min is None else round(result.t_min, 3),
        "origin_up": plan.origin_up,
        "peer_up": plan.peer_up,
        "origin_uploaded": result.origin_uploaded,
        "peer_uploaded": result.peer_uploaded,
        "delivered": result.delivered,
        "finish_times": [round(t, 3) for t in result.finish_times],
        "byte_exact": result.byte_exact,
    }


def summary(result: DemoResult, plan: DemoPlan) -> list[str]:
    """The figures in plain words."""
    size, copies = result.size, result.delivered / result.size if result.size else 0.0
    lines = [
        f"swarm: {result.peers} downloaders got {format_size(size)} each "
        f"({format_size(result.delivered)} delivered, "
        f"{'byte-exact' if result.byte_exact else 'NOT byte-exact'})",
        f"origin uploaded {format_size(result.origin_uploaded)} "
        f"({result.origin_uploaded / size:.2f} copies) for {copies:.0f} copies delivered; "
        f"the downloaders uploaded {format_size(result.peer_uploaded)} to each other",
    ]
    if result.t_min is not None:
        alone = result.peers * size / plan.origin_up
        lines.append(
            f"time: {result.seconds:.1f} s against the lower "
            f"bound T_min {result.t_min:.1f} s ({result.seconds / result.t_min:.2f}x); "
            f"the origin alone would need {alone:.1f} s"
        )
    else:
        lines.append(f"time: {result.seconds:.1f} s (uploads unlimited: no lower bound)")
    return lines
