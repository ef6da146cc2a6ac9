"""The pieces ``download``, ``seed`` and ``demo`` share: ``--peer`` parsing and status lines."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from bitswarm.aio.torrent_status import TorrentStatus
from bitswarm.cli.errors import UserError
from bitswarm.cli.peer_session import parse_peer
from bitswarm.cli.swarm_view import format_seconds, live_view, status_line, warning_line


def test_peer_addresses() -> None:
    assert parse_peer("127.0.0.1:6881") == ("127.0.0.1", 6881)
    assert parse_peer("[::1]:51413") == ("::1", 51413)
    assert parse_peer("localhost:1") == ("localhost", 1)
    for bad in ("127.0.0.1", ":80", "host:0", "host:65536", "host:http", "[::1]", "a b:80", "x:٣"):
        with pytest.raises(UserError, match="--peer: expected HOST:PORT"):
            parse_peer(bad)


@given(st.text(max_size=40))
def test_any_peer_text_parses_or_is_refused_in_one_line(text: str) -> None:
    try:
        host, port = parse_peer(text)
    except UserError as error:
        assert repr(text) in str(error) and error.status == 2
    else:
        assert host and host.isascii() and " " not in host and 1 <= port <= 65535
        assert int(text.rpartition(":")[2]) == port


def test_durations() -> None:
    assert [format_seconds(s) for s in (None, 0.4, 59, 61, 3600 + 120)] == [
        "--",
        "0s",
        "59s",
        "1m01s",
        "1h02m",
    ]


RUNNING = TorrentStatus(
    name="x",
    size=4 * 1024**2,
    verified=1024**2,
    uploaded=0,
    downloaded=1024**2,
    up_rate=0.0,
    down_rate=1024**2,
    peers=3,
    complete=False,
    error=None,
)


def test_status_line_says_progress_rates_peers_and_eta() -> None:
    status = RUNNING
    assert status_line(status) == ("x:  25.0% of 4 MiB, down 1 MiB/s, up 0 B/s, 3 peers, ETA 3s")
    done = TorrentStatus(
        name="x",
        size=0,
        verified=0,
        uploaded=0,
        downloaded=0,
        up_rate=0.0,
        down_rate=0.0,
        peers=0,
        complete=True,
        error=None,
    )
    assert status_line(done).endswith("0 peers, complete") and done.fraction == 1.0


def test_a_tracker_warning_line_is_escaped_and_cut_to_one_line() -> None:
    line = warning_line("x", "http://127.0.0.1:1/announce", "evil\x1b[2J\n" + "w" * 500)
    assert line.startswith("x: tracker http://127.0.0.1:1/announce warns: evil\\x1b[2J\\x0aw")
    assert "\x1b" not in line and "\n" not in line
    assert line.endswith("w...") and len(line) < 300


@pytest.mark.parametrize("terminal", [True, False])
async def test_the_live_view_tells_each_tracker_warning_once(terminal: bool) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=100, color_system=None)
    warnings: list[tuple[str, str]] = [("http://127.0.0.1:1/announce", "slow down")]

    def statuses() -> list[TorrentStatus]:
        return [replace(RUNNING, tracker_warnings=tuple(warnings))]

    async with live_view(statuses, console):
        await asyncio.sleep(0.6)  # a few refreshes
        warnings.append(("http://127.0.0.1:2/announce", "ratio low"))
        await asyncio.sleep(0.6)
    text = out.getvalue()
    assert text.count("x: tracker http://127.0.0.1:1/announce warns: slow down\n") == 1
    assert text.count("x: tracker http://127.0.0.1:2/announce warns: ratio low\n") == 1
