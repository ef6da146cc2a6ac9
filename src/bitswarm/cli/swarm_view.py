"""Live progress of running torrents: rich bars on a terminal, plain lines otherwise.

``download``, ``seed`` and ``demo`` all show the same thing: for each torrent
the share verified, the download and upload rates, the connected peers and
the time left. On a terminal that is one rich progress bar per torrent,
redrawn a few times a second; piped, it is one plain line per torrent every
few seconds (and one when it completes), which logs well and never floods.
A tracker's ``warning message`` is one line of its own, above the bars, once
per distinct message. Everything goes to standard error, so standard output
keeps the result.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from bitswarm.aio.torrent_status import TorrentStatus
from bitswarm.cli.describe import safe
from bitswarm.cli.units import format_size

REFRESH = 0.25
PLAIN_EVERY = 5.0
WARNING_CHARS = 200
"""A tracker's warning is cut to this many characters: it is one line, not a page."""


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "--"
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def status_line(status: TorrentStatus) -> str:
    """One line that says where a torrent stands."""

    state = "complete" if status.complete else f"ETA {format_seconds(status.eta)}"
    return (
        f"{status.name}: {status.fraction * 100:5.1f}% of {format_size(status.size)}, "
        f"down {format_size(status.down_rate)}/s, up {format_size(status.up_rate)}/s, "
        f"{status.peers} peers, {state}"
    )


def warning_line(name: str, tracker: str, message: str) -> str:
    """``name: tracker URL warns: message``, escaped for a terminal and cut to one line."""
    if len(message) > WARNING_CHARS:
        message = message[: WARNING_CHARS - 3] + "..."
    return f"{safe(name)}: tracker {safe(tracker)} warns: {safe(message)}"


@contextlib.asynccontextmanager
async def live_view(
    statuses: Callable[[], Sequence[TorrentStatus]], console: Console
) -> AsyncIterator[None]:
    """Show ``statuses()`` on ``console`` while the block runs, and once more at its end."""

    show = _with_warnings(_bars(console) if console.is_terminal else _plain(console), console)
    task = asyncio.get_running_loop().create_task(_refresh(statuses, show))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        show(statuses(), True)


Show = Callable[[Sequence[TorrentStatus], bool], None]


async def _refresh(statuses: Callable[[], Sequence[TorrentStatus]], show: Show) -> None:
    while True:
        show(statuses(), False)
        await asyncio.sleep(REFRESH)


def _with_warnings(show: Show, console: Console) -> Show:
    """``show``, after a line for each tracker warning not told before."""
    told: set[str] = set()

    def show_with_warnings(statuses: Sequence[TorrentStatus], last: bool) -> None:
        for status in statuses:
            for tracker, message in status.tracker_warnings:
                line = warning_line(status.name, tracker, message)
                if line not in told:
                    told.add(line)
                    console.print(line, highlight=False, markup=False, soft_wrap=True)
        show(statuses, last)

    return show_with_warnings


def _bars(console: Console) -> Show:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[detail]}"),
        console=console,
    )
    tasks: dict[str, TaskID] = {}

    def show(statuses: Sequence[TorrentStatus], last: bool) -> None:
        if not tasks:
            progress.start()
        for status in statuses:
            detail = status_line(status).split(", ", 1)[1]
            if status.name not in tasks:
                tasks[status.name] = progress.add_task(status.name, total=status.size, detail="")
            progress.update(tasks[status.name], completed=status.verified, detail=detail)
        if last:
            progress.stop()

    return show


def _plain(console: Console) -> Show:
    shown_at: dict[str, float] = {}
    completed: set[str] = set()
    loop = asyncio.get_running_loop()

    def show(statuses: Sequence[TorrentStatus], last: bool) -> None:
        now = loop.time()
        for status in statuses:
            newly_complete = status.complete and status.name not in completed
            if (
                last
                or newly_complete
                or now - shown_at.get(status.name, -PLAIN_EVERY) >= PLAIN_EVERY
            ):
                shown_at[status.name] = now
                if status.complete:
                    completed.add(status.name)
                console.print(status_line(status), highlight=False, markup=False, soft_wrap=True)

    return show
