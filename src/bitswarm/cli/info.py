"""``bitswarm info``: what a torrent file or a magnet link says (BEP 3, 9, 12, 19, 52, 53).

Name, size, piece size and count, files, trackers by tier, web seeds, both
info-hashes, the private flag, comment and creator. ``--json`` prints the
record of :mod:`bitswarm.cli.describe` as one object for scripts.
"""

from __future__ import annotations

import click
from rich.console import Console

from bitswarm.cli.describe import describe_magnet, describe_torrent, print_json, show_record
from bitswarm.cli.loading import read_torrent_or_magnet
from bitswarm.core.magnet import Magnet


@click.command("info")
@click.argument("source", metavar="TORRENT_OR_MAGNET")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def info(source: str, as_json: bool) -> None:
    """Show what a .torrent file or a magnet link says.

    Name, size, pieces, files, trackers, web seeds, the v1 and v2 info-hashes,
    the private flag, comment and creator.
    """
    item = read_torrent_or_magnet(source)
    record = describe_magnet(item) if isinstance(item, Magnet) else describe_torrent(item)
    if as_json:
        print_json(record)
    else:
        show_record(record, Console())
