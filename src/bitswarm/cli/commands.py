"""The list of subcommands; each lives in a module of its own."""

from __future__ import annotations

import click

from bitswarm.cli.create import create
from bitswarm.cli.demo import demo
from bitswarm.cli.download import download
from bitswarm.cli.info import info
from bitswarm.cli.magnet import magnet
from bitswarm.cli.seed import seed
from bitswarm.cli.sim import sim
from bitswarm.cli.tracker import tracker
from bitswarm.cli.verify import verify_command

ALL: list[click.Command] = [
    create,
    info,
    magnet,
    verify_command,
    demo,
    tracker,
    download,
    seed,
    sim,
]
