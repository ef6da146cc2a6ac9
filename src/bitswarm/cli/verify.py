"""``bitswarm verify``: check data on disk against a torrent (BEP 3, 47, 52).

Every piece is read and hashed (SHA-1 for v1, the merkle trees for v2, both
for a hybrid torrent) by :func:`bitswarm.storage.verify.verify`; this command
shows the progress, a line per file (complete, damaged, incomplete, missing,
wrong size) and a piece count. Exit status 0 means every piece is good, 1 that
the check ran and found damage or missing data, 2 bad input (DESIGN.md).

DATA_PATH may name the folder that holds the torrent's content (a client's
save folder) or the content itself, as people type both.
"""

from __future__ import annotations

import os
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bitswarm.cli.describe import print_json, print_line, safe
from bitswarm.cli.errors import EXIT_FAILED, UserError
from bitswarm.cli.loading import read_torrent
from bitswarm.cli.progress import progress_bar, stderr_console
from bitswarm.cli.units import format_size
from bitswarm.core.metainfo import Torrent
from bitswarm.storage.verify import FileReport, PieceStatus, VerifyReport, verify

_STYLES = {"complete": "green", "damaged": "bold red", "missing": "red"}


def data_root(torrent: Torrent, data_path: str) -> str:
    """The folder holding the torrent's content, whether ``data_path`` names it or the content."""
    if os.path.isdir(data_path) and os.path.lexists(os.path.join(data_path, torrent.name)):
        return data_path
    absolute = os.path.abspath(data_path)
    if os.path.basename(absolute) == torrent.name and os.path.lexists(absolute):
        return os.path.dirname(absolute)
    if not os.path.isdir(data_path):
        raise UserError(f"no such folder: {data_path}")
    return data_path


def check(torrent: Torrent, root: str) -> VerifyReport:
    """Verify with a progress display on standard error."""
    with progress_bar("verifying", stderr_console()) as progress:
        return verify(torrent, root, progress)


def report_record(report: VerifyReport) -> dict[str, Any]:
    """The ``--json`` form of a verification."""
    return {
        "ok": report.ok,
        "version": report.version,
        "pieces": {
            "total": len(report.pieces),
            **{status.value: report.count(status) for status in PieceStatus},
        },
        "bad_pieces": list(report.bad_pieces),
        "files": [
            {
                "path": "/".join(file.path),
                "length": file.length,
                "size_on_disk": file.size_on_disk,
                "status": file.status.value,
                "bad_pieces": list(file.bad_pieces),
            }
            for file in report.files
        ],
    }


def _note(file: FileReport) -> str:
    notes = []
    if file.size_on_disk is not None and file.size_on_disk != file.length:
        notes.append(f"{file.size_on_disk:,} bytes on disk, {file.length:,} expected")
    if file.bad_pieces:
        shown = ", ".join(map(str, file.bad_pieces[:10]))
        more = f" and {len(file.bad_pieces) - 10} more" if len(file.bad_pieces) > 10 else ""
        notes.append(f"bad pieces {shown}{more}")
    return "; ".join(notes)


def summary_line(report: VerifyReport) -> str:
    """``92 pieces: 91 good, 1 bad, 0 missing: damaged``, or ``...: all good``."""
    counts = ", ".join(f"{report.count(status)} {status.value}" for status in PieceStatus)
    return f"{len(report.pieces)} pieces: {counts}: {'all good' if report.ok else 'damaged'}"


def show_report(report: VerifyReport, console: Console) -> None:
    """A line (or table row) per file, then the piece count."""
    if console.is_terminal:
        table = Table(box=None, pad_edge=False)
        for column in ("status", "size", "file", ""):
            table.add_column(column, justify="right" if column == "size" else "left")
        for file in report.files:
            status = file.status.value
            table.add_row(
                Text(status, style=_STYLES.get(status, "yellow")),
                format_size(file.length),
                Text(safe("/".join(file.path))),
                _note(file),
            )
        console.print(table)
    else:
        for file in report.files:
            note = _note(file)
            path = safe("/".join(file.path))
            line = f"{file.status.value:<10}  {format_size(file.length):>10}  {path}"
            print_line(console, f"{line}  ({note})" if note else line)
    print_line(console, summary_line(report))


@click.command("verify")
@click.argument("torrent", metavar="TORRENT")
@click.argument("data_path", metavar="DATA_PATH")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.pass_context
def verify_command(ctx: click.Context, torrent: str, data_path: str, as_json: bool) -> None:
    """Check the data at DATA_PATH against TORRENT, piece by piece.

    DATA_PATH is the folder that holds the torrent's file or folder, or that
    file or folder itself. Exit status 1 if any piece is bad or missing.
    """
    loaded = read_torrent(torrent)
    report = check(loaded, data_root(loaded, data_path))
    if as_json:
        print_json(report_record(report))
    else:
        show_report(report, Console(soft_wrap=True))
    if not report.ok:
        ctx.exit(EXIT_FAILED)
