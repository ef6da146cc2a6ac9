"""``bitswarm create``: a new torrent of a file or a folder (BEP 3, 12, 19, 27, 52).

The default format is v1. Hybrid (v1 and v2 in one file, BEP 52) is what
libtorrent makes, but Transmission 3 and aria2 1.36 know no v2: aria2 reads a
hybrid torrent as v1 and takes its BEP 47 pad files for real files, to be
downloaded and written to disk, and Transmission 3.00 refuses to open it at
all (``transmission-show``: "Error parsing .torrent file"). v1 is what every
client reads the same way; ``--hybrid`` and ``--v2`` are one flag away for
swarms of newer clients. ``tests/cli/test_cli_other_clients.py`` checks both.

``-t`` adds a tracker tier each time it is given, and a tier may hold several
URLs separated by commas (BEP 12: clients try a tier's trackers in turn, and
move to the next tier only when all of them fail).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import urlsplit

import click

from bitswarm.cli.describe import print_line
from bitswarm.cli.errors import UserError
from bitswarm.cli.progress import progress_bar, stderr_console
from bitswarm.cli.units import SizeParam, format_size
from bitswarm.core.magnet import Magnet
from bitswarm.core.metainfo import Version
from bitswarm.storage.create import create_torrent
from bitswarm.storage.walk import Skipped

TRACKER_SCHEMES = ("http", "https", "udp", "ws", "wss")
WEB_SEED_SCHEMES = ("http", "https")


def _url(url: str, schemes: Sequence[str], option: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.netloc:
        wanted = ", ".join(f"{scheme}://" for scheme in schemes)
        raise UserError(f"{option}: not a URL starting with {wanted}: {url!r}")
    return url


def tracker_tiers(values: Sequence[str]) -> list[list[str]]:
    """One tier per ``-t``; ``url1,url2`` puts several trackers in the same tier."""
    tiers = []
    for value in values:
        tier = [_url(url.strip(), TRACKER_SCHEMES, "--tracker") for url in value.split(",")]
        tiers.append(tier)
    return tiers


def torrent_format(*, v1: bool, v2: bool, hybrid: bool) -> Version:
    """The format the flags ask for (v1 when none does); two different ones are a usage error."""
    flags: tuple[tuple[Version, bool], ...] = (("v1", v1), ("v2", v2), ("hybrid", hybrid))
    chosen = [version for version, given in flags if given]
    if len(chosen) > 1:
        named = " and ".join(f"--{version}" for version in chosen)
        message = f"{named} conflict: choose one torrent format"
        raise click.UsageError(message, click.get_current_context(silent=True))
    return chosen[0] if chosen else "v1"


def report_skipped(entry: Skipped) -> None:
    """Tell the user about a symbolic link or special file left out of the torrent."""
    print_line(stderr_console(), f"skipped {entry.disk_path}: {entry.reason}")


def write_new_file(path: str, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``path``, refusing to replace a file unless ``force``."""
    try:
        with open(path, "wb" if force else "xb") as file:
            file.write(data)
    except FileExistsError:
        raise UserError(f"{path} exists; use --force to replace it") from None


@click.command("create")
@click.argument("path", type=click.Path(path_type=str))
@click.option(
    "-t",
    "--tracker",
    "trackers",
    multiple=True,
    metavar="URL[,URL...]",
    help="Announce URL. Each -t is a tier; comma-separated URLs share one tier.",
)
@click.option("--web-seed", "web_seeds", multiple=True, metavar="URL", help="Web seed (BEP 19).")
@click.option("--private", is_flag=True, help="Private torrent: trackers only, no DHT or PEX.")
@click.option("--piece-size", type=SizeParam(), help="Piece size, e.g. 256KiB (default: auto).")
@click.option("--v1", is_flag=True, help="v1 torrent (default).")
@click.option("--v2", is_flag=True, help="v2-only torrent (BEP 52).")
@click.option("--hybrid", is_flag=True, help="v1 and v2 in one torrent.")
@click.option("--comment", help="Free-text comment.")
@click.option("--source", help="Source tag (changes the info-hash; used by private trackers).")
@click.option("-o", "--output", metavar="FILE", help="Where to write (default: NAME.torrent).")
@click.option("-f", "--force", is_flag=True, help="Replace the output file if it exists.")
def create(
    path: str,
    trackers: tuple[str, ...],
    web_seeds: tuple[str, ...],
    private: bool,
    piece_size: int | None,
    v1: bool,
    v2: bool,
    hybrid: bool,
    comment: str | None,
    source: str | None,
    output: str | None,
    force: bool,
) -> None:
    """Make a .torrent of the file or folder PATH.

    The default is a v1 torrent, which every client reads. Transmission 3 and
    aria2 1.36 know no v2: Transmission cannot open a hybrid torrent, and aria2
    takes its pad files for real files. Use --hybrid or --v2 for newer clients.
    """
    version = torrent_format(v1=v1, v2=v2, hybrid=hybrid)
    tiers = tracker_tiers(trackers)
    seeds = [_url(url, WEB_SEED_SCHEMES, "--web-seed") for url in web_seeds]
    output = output or os.path.basename(os.path.abspath(path)) + ".torrent"
    if os.path.exists(output) and not force:
        raise UserError(f"{output} exists; use --force to replace it")
    with progress_bar("hashing", stderr_console()) as progress:
        torrent = create_torrent(
            path,
            version=version,
            piece_length=piece_size,
            trackers=tiers,
            web_seeds=seeds,
            private=private,
            comment=comment,
            source=source,
            progress=progress,
            on_skip=report_skipped,
        )
    write_new_file(output, torrent.to_bytes(), force=force)
    size = format_size(torrent.total_size)
    pieces = f"{torrent.piece_count} pieces of {format_size(torrent.piece_length)}"
    click.echo(f"created {output}: {torrent.version}, {size} in {pieces}")
    for label, digest in (("v1", torrent.info_hash_v1), ("v2", torrent.info_hash_v2)):
        if digest is not None:
            click.echo(f"info-hash {label}: {digest.hex()}")
    click.echo(f"magnet: {Magnet.from_torrent(torrent).to_uri()}")
