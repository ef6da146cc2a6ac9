"""What people see on a terminal: rich tables and bars; and plain progress lines elsewhere."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from bitswarm.cli.describe import describe_magnet, safe, show_record
from bitswarm.cli.progress import progress_bar
from bitswarm.cli.units import format_size
from bitswarm.core.magnet import parse_magnet
from bitswarm.storage.hashing import RUN_BYTES
from cli.helpers import Run, random_bytes

LINK = (
    "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=%5Bbold%5Dname"
    "&tr=http://127.0.0.1:6969/a/very/long/announce/path/that/would/fold/in/a/narrow/table"
)


def _terminal(width: int = 60) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=width, color_system=None), out


def test_terminal_table_keeps_markup_escapes_and_the_magnet_whole() -> None:
    console, out = _terminal()
    magnet = parse_magnet(LINK)
    show_record({**describe_magnet(magnet), "comment": "evil\x1b]0;x\x07"}, console)
    text = out.getvalue()
    assert "[bold]name" in text
    assert "evil\\x1b]0;x\\x07" in text
    assert "\x1b]0;x" not in text
    assert magnet.to_uri() in text.splitlines()[-1]


def test_safe_escapes_c0_and_c1_controls() -> None:
    assert safe("a\x00b\x1bc\x7fd\x9be") == "a\\x00b\\x1bc\\x7fd\\x9be"
    assert safe("naïve ☃") == "naïve ☃"


def test_plain_progress_writes_a_line_per_tenth() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False)
    with progress_bar("hashing", console) as update:
        for done in range(0, 1001, 7):
            update(done, 1000)
        update(1000, 1000)
    lines = out.getvalue().splitlines()
    assert lines[0] == "hashing: 0% (0 B of 1000 B)"
    assert lines[-1] == "hashing: 100% (1000 B of 1000 B)"
    assert len(lines) == 11


def _plain(updates: list[tuple[int, int]]) -> list[str]:
    out = io.StringIO()
    with progress_bar("hashing", Console(file=out, force_terminal=False)) as update:
        for done, total in updates:
            update(done, total)
    return out.getvalue().splitlines()


def test_plain_progress_says_100_percent_once_and_last() -> None:
    total = 10 * RUN_BYTES + 50 * 1024  # the tenth tenth is reached at 99.5%
    runs = [(min(i * RUN_BYTES, total), total) for i in range(1, 12)]
    lines = _plain([*runs, (total, total), (total + 1, total)])
    whole = f"hashing: 100% ({format_size(total)} of {format_size(total)})"
    assert [line for line in lines if "100%" in line] == [whole]
    assert lines[-1] == whole
    assert lines[-2] == f"hashing: 89% ({format_size(9 * RUN_BYTES)} of {format_size(total)})"
    assert len(lines) == 10


def test_plain_progress_of_nothing_to_hash_is_one_line() -> None:
    assert _plain([(0, 0), (0, 0)]) == ["hashing: 100% (0 B of 0 B)"]


@pytest.mark.parametrize("command", ["create", "verify"])
def test_create_and_verify_say_100_percent_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    size = 10 * RUN_BYTES + 50 * 1024  # the tenth tenth is reached in the last percent
    (tmp_path / "big.bin").write_bytes(random_bytes(size, 5))
    created = run("create", "big.bin")
    assert created.exit_code == 0, created.output
    result = created if command == "create" else run("verify", "big.bin.torrent", ".")
    assert result.exit_code == 0, result.output
    progress = result.stderr.splitlines()
    assert sum("100%" in line for line in progress) == 1, progress
    assert progress[-1].endswith(f": 100% ({format_size(size)} of {format_size(size)})"), progress
    assert not any(" 99% " in line for line in progress), progress


def test_terminal_progress_draws_a_bar() -> None:
    console, out = _terminal(100)
    with progress_bar("verifying", console) as update:
        update(512 * 1024, 1024 * 1024)
        update(1024 * 1024, 1024 * 1024)
    text = out.getvalue()
    assert "verifying" in text
    assert "1.0/1.0 MiB" in text
