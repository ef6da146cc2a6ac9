"""Progress of a long hashing job: a rich bar on a terminal, plain lines otherwise.

Creating and verifying a torrent read every byte of the content, which takes
minutes for large files; the storage layer reports ``progress(done, total)`` in
bytes after each run it hashes. On a terminal that drives a rich progress bar
(bytes, speed, time left); piped into a file or another program it becomes one
line per tenth of the work, which logs well and never floods. Both go to
standard error, so standard output keeps only the result (``--json`` included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from bitswarm.cli.units import format_size

ProgressCallback = Callable[[int, int], None]
"""``callback(bytes_done, bytes_total)``, the shape storage reports progress in."""

PLAIN_STEPS = 10
"""Plain output writes a line each time another tenth of the bytes is done."""


def stderr_console() -> Console:
    """The console progress and tables of diagnostics go to."""
    return Console(stderr=True)


@contextmanager
def progress_bar(description: str, console: Console) -> Iterator[ProgressCallback]:
    """A callback that shows progress on ``console`` for the duration of the block."""
    if not console.is_terminal:
        yield _plain_lines(description, console)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _plain_lines(description: str, console: Console) -> ProgressCallback:
    """A line each time another tenth is done, and one ``100%`` line at the end.

    A tenth reached within the last percent, or whose sizes read the same as
    the whole (``10 MiB of 10 MiB`` at 99.5%), gets no line of its own: the
    ``100%`` line follows at once and would say the same. Calls after the
    end, or past the total, print nothing more.
    """
    shown = -1
    finished = False

    def say(percent: int, done: int, total: int) -> None:
        line = f"{description}: {percent}% ({format_size(done)} of {format_size(total)})"
        console.print(line, highlight=False, markup=False, soft_wrap=True)

    def update(done: int, total: int) -> None:
        nonlocal shown, finished
        if finished:
            return
        if done >= total:
            finished = True
            say(100, max(total, 0), max(total, 0))
            return
        step = done * PLAIN_STEPS // total
        if step <= shown:
            return
        shown = step
        percent = done * 100 // total
        if percent < 99 and format_size(done) != format_size(total):
            say(percent, done, total)

    return update
