"""What ``bitswarm info`` says about a torrent or a magnet link: one record, two renderings.

The record is a plain dictionary, the ``--json`` output as it is, with the same
keys for a torrent and a magnet link (``kind`` tells them apart; what a magnet
link cannot know, such as the piece length, is ``null``), so a script reads
either without special cases. For people it becomes a rich table on a terminal
and ``label: value`` lines otherwise.

Names, comments and URLs come from untrusted files: control characters are
shown escaped (``\\x1b``), never sent to the terminal.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bitswarm.cli.units import format_size
from bitswarm.core.magnet import Magnet
from bitswarm.core.metainfo import Torrent

Record = dict[str, Any]
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _hex(digest: bytes | None) -> str | None:
    return digest.hex() if digest is not None else None


def describe_torrent(torrent: Torrent) -> Record:
    """The ``info`` record of a torrent file."""
    return {
        "kind": "torrent",
        "name": torrent.name,
        "version": torrent.version,
        "info_hash_v1": _hex(torrent.info_hash_v1),
        "info_hash_v2": _hex(torrent.info_hash_v2),
        "total_size": torrent.total_size,
        "piece_length": torrent.piece_length,
        "piece_count": torrent.piece_count,
        "files": [
            {"path": "/".join(entry.path), "length": entry.length}
            for entry in torrent.files
            if not entry.is_pad
        ],
        "trackers": [list(tier) for tier in torrent.trackers],
        "web_seeds": list(torrent.web_seeds),
        "private": torrent.private,
        "source": torrent.source,
        "comment": torrent.comment,
        "created_by": torrent.created_by,
        "creation_date": torrent.creation_date,
        "peers": [],
        "select_only": None,
        "magnet": Magnet.from_torrent(torrent).to_uri(),
    }


def describe_magnet(magnet: Magnet) -> Record:
    """The ``info`` record of a magnet link; each tracker is a tier of its own."""
    return {
        "kind": "magnet",
        "name": magnet.display_name,
        "version": magnet.version,
        "info_hash_v1": _hex(magnet.info_hash_v1),
        "info_hash_v2": _hex(magnet.info_hash_v2),
        "total_size": magnet.exact_length,
        "piece_length": None,
        "piece_count": None,
        "files": None,
        "trackers": [[url] for url in magnet.trackers],
        "web_seeds": list(magnet.web_seeds),
        "private": None,
        "source": None,
        "comment": None,
        "created_by": None,
        "creation_date": None,
        "peers": [str(peer) for peer in magnet.peers],
        "select_only": magnet.selection_text,
        "magnet": magnet.to_uri(),
    }


def safe(text: str) -> str:
    """``text`` with control characters escaped, fit for a terminal."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _date(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} (not a valid date)"


def _size(size: int) -> str:
    return f"{format_size(size)} ({size:,} bytes)"


def summary_rows(record: Record) -> list[tuple[str, str]]:
    """``(label, value)`` pairs for people: what is known, in a fixed order.

    The magnet link is left out: it is printed on a line of its own, never
    folded, so that it can be copied whole from a terminal.
    """
    rows: list[tuple[str, str]] = [("name", safe(record["name"] or "(none given)"))]
    rows.append(("version", record["version"]))
    if record["total_size"] is not None:
        rows.append(("size", _size(record["total_size"])))
    if record["piece_length"] is not None:
        rows.append(("piece size", format_size(record["piece_length"])))
        rows.append(("pieces", f"{record['piece_count']:,}"))
    rows.append(("info-hash v1", record["info_hash_v1"] or "-"))
    rows.append(("info-hash v2", record["info_hash_v2"] or "-"))
    if record["private"] is not None:
        rows.append(("private", "yes" if record["private"] else "no"))
    for key, label in (("source", "source"), ("comment", "comment"), ("created_by", "created by")):
        if record[key] is not None:
            rows.append((label, safe(record[key])))
    if record["creation_date"] is not None:
        rows.append(("created", _date(record["creation_date"])))
    for number, tier in enumerate(record["trackers"], 1):
        rows.append((f"tracker tier {number}", safe(", ".join(tier))))
    rows += [("web seed", safe(url)) for url in record["web_seeds"]]
    rows += [("peer", safe(peer)) for peer in record["peers"]]
    if record["select_only"] is not None:
        rows.append(("select only", record["select_only"]))
    return rows


def print_line(console: Console, line: str) -> None:
    """One line of plain text: no markup, no highlighting, never folded."""
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def show_record(record: Record, console: Console) -> None:
    """Print ``record`` for people: tables on a terminal, lines otherwise."""
    rows = summary_rows(record)
    files = record["files"]
    if not console.is_terminal:
        for label, value in rows:
            print_line(console, f"{label}: {value}")
        print_line(console, f"magnet: {record['magnet']}")
        if files is not None:
            console.print(f"files: {len(files)}", highlight=False)
            for entry in files:
                print_line(console, f"  {format_size(entry['length']):>10}  {safe(entry['path'])}")
        return
    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column(overflow="fold")
    for label, value in rows:
        summary.add_row(label, Text(value))
    console.print(summary)
    print_line(console, f"magnet: {record['magnet']}")
    if files:
        listing = Table(title=f"{len(files)} files", title_justify="left")
        listing.add_column("size", justify="right")
        listing.add_column("path", overflow="fold")
        for entry in files:
            listing.add_row(format_size(entry["length"]), Text(safe(entry["path"])))
        console.print(listing)


def print_json(record: Record) -> None:
    """``record`` on standard output as one JSON object."""
    click.echo(json.dumps(record, indent=2))
