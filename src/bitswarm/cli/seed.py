"""``bitswarm seed``: serve complete content to a torrent's swarm until interrupted (BEP 3).

DATA_PATH names the content or the folder holding it, as for ``verify``. The
content is checked first — hashed, or trusted from the resume data in
``<folder>/.bitswarm/`` when the files are unchanged since it was saved, unless
``--recheck`` asks for every piece to be hashed — and
must be complete: seeding a damaged copy would only spread damage. Then the
torrent is announced to its trackers (and any ``--peer`` dialled) and its
pieces are served until Ctrl-C, which ends it cleanly with exit status 0.
"""

from __future__ import annotations

import click

from bitswarm.aio.session import run
from bitswarm.aio.torrent_open import default_state_dir
from bitswarm.cli.errors import EXIT_FAILED, UserError
from bitswarm.cli.loading import read_torrent
from bitswarm.cli.peer_session import (
    PeerOptions,
    gather_options,
    peer_options,
    recheck_option,
    run_until,
    running_torrent,
)
from bitswarm.cli.progress import stderr_console
from bitswarm.cli.swarm_view import live_view
from bitswarm.cli.verify import data_root
from bitswarm.core.metainfo import Torrent


@click.command("seed")
@click.argument("torrent_path", metavar="TORRENT")
@click.argument("data_path")
@recheck_option
@peer_options(download=False)
def seed(
    torrent_path: str,
    data_path: str,
    recheck: bool,
    port: int,
    bind: str | None,
    max_up: int,
    peers: tuple[str, ...],
) -> None:
    """Seed TORRENT from the complete content at DATA_PATH until interrupted."""

    torrent = read_torrent(torrent_path)
    root = data_root(torrent, data_path)
    options = gather_options(port, bind, max_up, peers)
    try:
        run(_seed(torrent, root, options, recheck))
    except KeyboardInterrupt:
        click.echo("seed: stopped", err=True)


async def _seed(torrent: Torrent, root: str, options: PeerOptions, recheck: bool) -> None:
    state_dir = default_state_dir(root)
    async with running_torrent(torrent, root, state_dir, options, recheck=recheck) as runner:
        if not runner.finished.is_set():
            have, total = runner.have.count(), torrent.piece_count
            raise UserError(
                f"{torrent.name}: only {have} of {total} pieces are good at {root}; "
                "seeding needs complete content (bitswarm verify shows what is wrong)",
                EXIT_FAILED,
            )
        async with live_view(lambda: [runner.status()], stderr_console()):
            await run_until(runner, lambda: False, None)
