"""The subcommands, each in a module of its own, imported only when it is run.

Most of the start-up of ``bitswarm`` is imports (aiohttp, rich, the peer), and
a command needs only its own: ``bitswarm info`` should not load the tracker.
``--help`` lists every command, and so imports them all.
"""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "create": "bitswarm.cli.create:create",
    "info": "bitswarm.cli.info:info",
    "magnet": "bitswarm.cli.magnet:magnet",
    "verify": "bitswarm.cli.verify:verify_command",
    "demo": "bitswarm.cli.demo:demo",
    "tracker": "bitswarm.cli.tracker:tracker",
    "download": "bitswarm.cli.download:download",
    "seed": "bitswarm.cli.seed:seed",
    "sim": "bitswarm.cli.sim:sim",
}
"""Command name -> ``module:attribute`` of its click command, in the order help lists them."""
