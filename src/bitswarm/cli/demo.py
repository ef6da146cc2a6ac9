"""``bitswarm demo``: the whole torrent life cycle on one machine, in seconds.

It writes a sample file into a temporary folder, creates a v1 torrent of it,
shows the torrent's info and magnet link, verifies the data, then flips one
byte and verifies again to show the damage being caught. The sample bytes come
from a fixed seed, so the info-hash is the same on every run and every
machine. Nothing touches the network; the folder is removed at the end. It is
what ``make demo`` runs (the peer work later turns it into a live swarm).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import click
from rich.console import Console

from bitswarm.cli.create import report_skipped
from bitswarm.cli.describe import describe_torrent, print_json, show_record
from bitswarm.cli.errors import EXIT_FAILED, UserError
from bitswarm.cli.progress import progress_bar, stderr_console
from bitswarm.cli.units import SizeParam, format_size
from bitswarm.cli.verify import check, report_record, summary_line
from bitswarm.core.metainfo import Torrent
from bitswarm.storage.create import create_torrent

SAMPLE_NAME = "bitswarm-demo.bin"
SAMPLE_SEED = 2001
"""Seed of the sample bytes (the year BitTorrent was first released)."""
MAX_SIZE = 4 * 1024**3
_CHUNK = 4 * 1024 * 1024


def write_sample(path: Path, size: int) -> None:
    """``size`` pseudo-random bytes, the same for a given size on every run."""
    generator = random.Random(SAMPLE_SEED)
    with open(path, "wb") as file:
        for start in range(0, size, _CHUNK):
            file.write(generator.randbytes(min(_CHUNK, size - start)))


def flip_byte(path: Path, offset: int) -> None:
    """Invert every bit of the byte at ``offset``: damage that a hash must catch."""
    with open(path, "r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0xFF]))


def _new_torrent(sample: Path) -> Torrent:
    with progress_bar("hashing", stderr_console()) as progress:
        return create_torrent(sample, version="v1", progress=progress, on_skip=report_skipped)


@click.command("demo")
@click.option(
    "--size", type=SizeParam(), default="64MiB", show_default=True, help="Size of the sample file."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.pass_context
def demo(ctx: click.Context, size: int, as_json: bool) -> None:
    """Create, show and verify a torrent of a sample file, then catch a flipped byte."""
    if not 1 <= size <= MAX_SIZE:
        raise UserError(f"--size: between 1 byte and {format_size(MAX_SIZE)}, not {size:,}")
    with tempfile.TemporaryDirectory(prefix="bitswarm-demo-") as folder:
        sample = Path(folder) / SAMPLE_NAME
        write_sample(sample, size)
        torrent = _new_torrent(sample)
        (Path(folder) / f"{SAMPLE_NAME}.torrent").write_bytes(torrent.to_bytes())
        intact = check(torrent, folder)
        flipped = size // 2
        flip_byte(sample, flipped)
        damaged = check(torrent, folder)
    caught = damaged.bad_pieces == (flipped // torrent.piece_length,)
    ok = intact.ok and caught
    if as_json:
        record = {"ok": ok, "torrent": describe_torrent(torrent), "verify": report_record(intact)}
        print_json({**record, "flipped_byte": flipped, "after_flip": report_record(damaged)})
    else:
        show_record(describe_torrent(torrent), Console(soft_wrap=True))
        click.echo(f"verify: {summary_line(intact)}")
        click.echo(f"flipped byte {flipped:,}; verify again: {summary_line(damaged)}")
        verdict = "caught in piece" if caught else "NOT caught; expected piece"
        click.echo(f"demo: the damage was {verdict} {flipped // torrent.piece_length}")
    if not ok:
        ctx.exit(EXIT_FAILED)
