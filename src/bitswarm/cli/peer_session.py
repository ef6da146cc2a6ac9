"""What ``download`` and ``seed`` share: session options, starting a torrent, running it.

Both commands run one :class:`~bitswarm.aio.session.Session` with one torrent
on it, show its progress, and stop it cleanly on Ctrl-C (peers closed, resume
data saved, ``stopped`` announced). The failures a user can meet become one
line (DESIGN.md): a port in use, a torrent the peer cannot run, a disk that
fails, no route to any peer or tracker.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from bitswarm.aio.listener import ListenError
from bitswarm.aio.session import Session, SessionConfig
from bitswarm.aio.torrent_open import UnsupportedTorrent, open_torrent
from bitswarm.aio.torrent_runner import TorrentRunner
from bitswarm.cli.errors import EXIT_FAILED, UserError
from bitswarm.cli.progress import progress_bar, stderr_console
from bitswarm.cli.units import RateParam
from bitswarm.core.metainfo import Torrent
from bitswarm.storage.errors import StorageError

_F = TypeVar("_F", bound=Callable[..., Any])

POLL = 0.25
"""Seconds between looks at a running torrent's peers and stop condition (see run_until)."""
DEFAULT_PORT = 6881
DEFAULT_GIVE_UP = 60.0
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?:\.(?!-)[A-Za-z0-9-]{1,63})*\.?")


@dataclass(frozen=True, slots=True)
class PeerOptions:
    port: int
    bind: str | None
    max_up: int
    max_down: int
    peers: tuple[tuple[str, int], ...]


def parse_peer(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT``."""

    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not (sep and _is_host(host) and port.isascii() and port.isdigit()) or not (
        1 <= int(port) <= 65535
    ):
        raise UserError(f"--peer: expected HOST:PORT or [IPv6]:PORT, not {text!r}")
    return host, int(port)


def _is_host(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return _HOST_NAME.fullmatch(text) is not None
    return True


def peer_options(*, download: bool) -> Callable[[_F], _F]:
    """The session options: --port, --bind, --max-up, --peer (and --max-down to download)."""

    def decorate(command: _F) -> _F:
        options = [
            click.option(
                "--port",
                type=click.IntRange(0, 65535),
                default=DEFAULT_PORT,
                show_default=True,
                help="Port to accept peers on (0: any free port).",
            ),
            click.option("--bind", default=None, help="Address to listen on (default: all)."),
            click.option(
                "--max-up", type=RateParam(), default="0", help="Upload cap (0: unlimited)."
            ),
            click.option(
                "--peer",
                "peers",
                multiple=True,
                help="A peer to connect to, HOST:PORT (repeatable); trackers are used too.",
            ),
        ]
        if download:
            options.append(
                click.option(
                    "--max-down", type=RateParam(), default="0", help="Download cap (0: unlimited)."
                )
            )
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


recheck_option = click.option(
    "--recheck",
    is_flag=True,
    help="Ignore the resume data: hash everything on disk again (finds damage that kept "
    "file sizes and mtimes).",
)
"""``--recheck``, for both commands: a forced recheck (:func:`bitswarm.storage.resume.restore`)."""


def gather_options(
    port: int, bind: str | None, max_up: int, peers: tuple[str, ...], max_down: int = 0
) -> PeerOptions:
    return PeerOptions(port, bind, max_up, max_down, tuple(parse_peer(p) for p in peers))


@asynccontextmanager
async def running_torrent(
    torrent: Torrent,
    root: str | os.PathLike[str],
    state_dir: Path,
    options: PeerOptions,
    *,
    recheck: bool = False,
    file_priorities: Sequence[int] | None = None,
    sequential: bool = False,
) -> AsyncIterator[TorrentRunner]:
    """A started session running ``torrent``; closed (resume saved) when the block ends.

    ``recheck`` ignores the resume data and hashes every piece on disk;
    ``file_priorities`` and ``sequential`` choose what to fetch and in which
    order (:func:`~bitswarm.aio.torrent_open.open_torrent`).
    """

    session = Session(
        SessionConfig(
            bind=options.bind, port=options.port, max_up=options.max_up, max_down=options.max_down
        )
    )
    try:
        await session.start()
    except ListenError as error:
        raise UserError(str(error)) from error
    try:
        with progress_bar("checking", stderr_console()) as progress:
            parts = await open_torrent(
                torrent,
                root,
                state_dir,
                recheck=recheck,
                file_priorities=file_priorities,
                sequential=sequential,
                progress=progress,
            )
        runner = session.add(parts)
        runner.add_peers(options.peers)
        yield runner
    except UnsupportedTorrent as error:
        raise UserError(str(error)) from error
    except StorageError as error:
        raise UserError(str(error), EXIT_FAILED) from error
    finally:
        await session.close()


async def run_until(
    runner: TorrentRunner, done: Callable[[], bool], give_up: float | None = DEFAULT_GIVE_UP
) -> None:
    """Wait until ``done()``; raise a one-line failure if the torrent stops or finds no one.

    ``done()`` and the peers are looked at every :data:`POLL` seconds, and at once when
    the torrent finishes or stops: a download ends as its last piece is verified, not up
    to a poll later."""

    loop = asyncio.get_running_loop()
    alone_since = loop.time()
    while not done():
        if runner.ended.is_set():
            raise UserError(runner.error or "the torrent stopped", EXIT_FAILED)
        if runner.connections:
            alone_since = loop.time()
        elif give_up is not None and loop.time() - alone_since > give_up:
            raise UserError(_no_route(runner, give_up), EXIT_FAILED)
        await _finished_or_stopped(runner, POLL)


async def _finished_or_stopped(runner: TorrentRunner, timeout: float) -> None:
    """Wait ``timeout`` seconds, or less if the torrent finishes or stops meanwhile."""

    events = (runner.finished, runner.ended)
    waits = [asyncio.ensure_future(event.wait()) for event in events if not event.is_set()]
    if not waits:
        await asyncio.sleep(timeout)
        return
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _no_route(runner: TorrentRunner, waited: float) -> str:
    tracker = runner.announcer.last_error if runner.announcer is not None else None
    why = tracker or ("no trackers in the torrent" if runner.announcer is None else "none known")
    return f"no route to any peer for {waited:g} s (trackers: {why})"
