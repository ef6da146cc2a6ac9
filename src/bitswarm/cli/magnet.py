"""``bitswarm magnet``: the magnet link of a torrent file (BEP 9).

The link carries the v1 and/or v2 info-hash (both for a hybrid torrent), the
name, the size, every tracker in tier order and the web seeds, so a client can
join the swarm and fetch the rest of the metadata from peers.
"""

from __future__ import annotations

import click

from bitswarm.cli.loading import read_torrent
from bitswarm.core.magnet import Magnet


@click.command("magnet")
@click.argument("torrent", metavar="TORRENT")
def magnet(torrent: str) -> None:
    """Print the magnet link of a .torrent file."""
    click.echo(Magnet.from_torrent(read_torrent(torrent)).to_uri())
