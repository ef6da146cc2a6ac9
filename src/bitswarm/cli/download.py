"""``bitswarm download``: fetch a torrent's content as a full peer, then seed if asked (BEP 3).

The torrent's trackers (and any ``--peer``) give the peers; every verified
piece is written under OUTPUT and recorded in resume data in
``OUTPUT/.bitswarm/`` (with a copy of the torrent), so an interrupted
download — Ctrl-C, a crash, a power cut — continues where it stopped
without fetching verified pieces again. Resume data trusts a file whose size
and mtime are unchanged; ``--recheck`` ignores it and hashes everything on
disk, for data changed behind the peer's back with its mtime restored.

Exit status: 0 when the content is complete and verified (and seeding, if
asked, has ended), 1 when it could not finish (no route to any peer, a disk
that failed), 2 on bad input.

``--only PATTERN`` and ``--skip PATTERN`` choose files
(:mod:`bitswarm.cli.file_selection`): the download is then complete, exit
status 0, once the wanted files are, and its progress counts them alone.
``--sequential`` fetches pieces in order.

Magnet links need the metadata extension (BEP 9) to fetch the info
dictionary from peers, which the peer does not speak yet; a magnet link
works only when the torrent was downloaded into OUTPUT before, whose copy
is then used.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import click

from bitswarm.aio.session import run
from bitswarm.aio.torrent_open import default_state_dir
from bitswarm.aio.torrent_runner import TorrentRunner
from bitswarm.aio.torrent_status import TorrentStatus
from bitswarm.cli.errors import EXIT_FAILED, UserError
from bitswarm.cli.file_selection import file_priorities, files_record, selection_options
from bitswarm.cli.loading import read_torrent, read_torrent_or_magnet
from bitswarm.cli.peer_session import (
    DEFAULT_GIVE_UP,
    PeerOptions,
    gather_options,
    peer_options,
    recheck_option,
    run_until,
    running_torrent,
)
from bitswarm.cli.progress import stderr_console
from bitswarm.cli.swarm_view import live_view
from bitswarm.core.magnet import Magnet
from bitswarm.core.metainfo import Torrent


def _torrent_copy(state_dir: Path, info_hash: bytes) -> Path:
    return state_dir / f"{info_hash.hex()}.torrent"


def resolve(source: str, state_dir: Path) -> Torrent:
    """The torrent a file names, or the copy kept for a magnet link's info-hash."""

    found = read_torrent_or_magnet(source)
    if isinstance(found, Torrent):
        return found
    info_hash = _magnet_hash(found)
    copy = _torrent_copy(state_dir, info_hash)
    if copy.is_file():
        return read_torrent(str(copy))
    raise UserError(
        "a magnet link needs the metadata extension (not yet supported): "
        "download with the .torrent file instead"
    )


def _magnet_hash(magnet: Magnet) -> bytes:
    if magnet.info_hash_v1 is not None:
        return magnet.info_hash_v1
    assert magnet.info_hash_v2 is not None
    return magnet.info_hash_v2[:20]


@click.command("download")
@click.argument("source", metavar="TORRENT_OR_MAGNET")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to download into.",
)
@click.option("--seed/--no-seed", default=False, help="Keep seeding once complete (Ctrl-C ends).")
@click.option(
    "--seed-ratio",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seed until this many copies were uploaded (implies --seed).",
)
@click.option(
    "--give-up",
    type=click.FloatRange(min=1),
    default=DEFAULT_GIVE_UP,
    show_default=True,
    help="Seconds with no peer at all before failing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object at the end.")
@selection_options
@recheck_option
@peer_options(download=True)
def download(
    source: str,
    output: Path,
    seed: bool,
    seed_ratio: float | None,
    give_up: float,
    as_json: bool,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    sequential: bool,
    recheck: bool,
    port: int,
    bind: str | None,
    max_up: int,
    peers: tuple[str, ...],
    max_down: int,
) -> None:
    """Download TORRENT_OR_MAGNET into OUTPUT as a peer of its swarm."""

    state_dir = default_state_dir(output)
    torrent = resolve(source, state_dir)
    options = gather_options(port, bind, max_up, peers, max_down)
    plan = _Plan(
        seed or seed_ratio is not None,
        seed_ratio,
        give_up,
        recheck,
        file_priorities(torrent, only, skip),
        sequential,
    )
    output.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(exist_ok=True)
    _torrent_copy(state_dir, torrent.info_hash).write_bytes(torrent.to_bytes())
    started = time.monotonic()
    record: dict[str, object] = {}
    try:
        run(_download(torrent, output, options, plan, record))
    except KeyboardInterrupt:
        if not record.get("complete"):
            raise UserError(
                "interrupted; resume data saved, run again to continue", EXIT_FAILED
            ) from None
        # Ctrl-C while seeding a complete download: the normal way to end.
    record["seconds"] = round(time.monotonic() - started, 3)
    if as_json:
        click.echo(json.dumps(record, sort_keys=True))


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the options ask of one download."""

    seed: bool
    seed_ratio: float | None
    give_up: float
    recheck: bool
    file_priorities: list[int] | None
    """One a file, 0 to skip it; ``None`` for every file."""
    sequential: bool


async def _download(
    torrent: Torrent,
    output: Path,
    options: PeerOptions,
    plan: _Plan,
    record: dict[str, object],
) -> None:
    """Download, then seed if asked; ``record`` holds the figures, even when interrupted."""
    async with running_torrent(
        torrent,
        output,
        default_state_dir(output),
        options,
        recheck=plan.recheck,
        file_priorities=plan.file_priorities,
        sequential=plan.sequential,
    ) as runner:
        try:
            async with live_view(lambda: [runner.status()], stderr_console()):
                await run_until(runner, runner.finished.is_set, plan.give_up)
                if plan.seed:
                    ratio = plan.seed_ratio
                    await run_until(runner, lambda: _ratio_reached(runner, ratio), None)
        finally:
            record.update(_record(runner.status()))
            if plan.file_priorities is not None:
                record["files"] = files_record(torrent, output, plan.file_priorities, runner.have)


def _ratio_reached(runner: TorrentRunner, ratio: float | None) -> bool:
    status = runner.status()
    return ratio is not None and status.uploaded >= ratio * status.size


def _record(status: TorrentStatus) -> dict[str, object]:
    return {
        "name": status.name,
        "size": status.size,
        "complete": status.complete,
        "downloaded": status.downloaded,
        "uploaded": status.uploaded,
    }
